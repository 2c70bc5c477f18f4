"""``zplan.Project``: a project's recorded results, read-only, for notebooks and scripts.

It reads what `zplan apply` recorded — the state (outputs), ML Metadata (runs, executions,
lineage) and the artifact store — and never writes any of them, never plans with side
effects and never imports step code.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Iterator, Mapping

from zplan.api.artifact import Artifact, store_errors
from zplan.api.views import ProjectViews
from zplan.api.errors import InvalidProject, RunNotFound, SensitiveOutput, StoreUnreachable, UnknownAddress, UnknownOutput, ZplanAPIError
from zplan.diags import DiagnosticError

if TYPE_CHECKING:
    from zplan.artifacts.base import ArtifactStore
    from zplan.metadata.records import RunDetail, RunSummary
    from zplan.project import Project as OpenProject


class Project(ProjectViews):
    """A zplan project folder on one stack. ``zplan.open(path, stack, variables)`` builds one."""

    def __init__(self, path: str | Path = ".", stack: str | None = None, variables: Mapping[str, Any] | None = None) -> None:
        from zplan.project import Options
        from zplan.project import Project as OpenProject

        # Reading needs no value for a variable the stores do not read; one without a value reads as unknown.
        options = Options(stack=stack, reading=True, given=dict(variables or {}))
        with _api_errors("project"):
            self._project: OpenProject = OpenProject.open(Path(path), options)
        self._store: ArtifactStore | None = None

    @property
    def root(self) -> Path:
        return self._project.root

    @property
    def stack(self) -> str:
        return self._project.stack_name

    def runs(self, limit: int = 20, pipeline: str | None = None, status: str | None = None,
             before: int | None = None) -> list["RunSummary"]:
        """The latest ``limit`` runs, newest first (``number``, ``status``, ``git_commit``, ``started``, ``finished``);
        only those of ``pipeline``, with ``status`` (running, succeeded, failed, interrupted), numbered below ``before``."""
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:  # the store reads 0 as "no limit"
            raise ZplanAPIError(f"limit must be a positive number of runs, got {limit!r}", "e.g. project.runs(50)")
        with self._metadata() as meta:
            try:
                return meta.runs(limit, pipeline=pipeline, status=status, before=before)
            except ValueError as exc:
                raise ZplanAPIError(str(exc), "give a pipeline or status name as listed by `zplan runs`") from None

    def run(self, number: int) -> "RunDetail":
        """One run: its summary and each step execution. Raises ``RunNotFound``."""
        with self._metadata() as meta:
            return meta.run_detail(number)

    def artifact(self, address: str, output: str = "output", run: int | None = None) -> Artifact:
        """The artifact ``output`` of the step at ``address`` (``pipeline.P.step.S``) from run ``run``,
        or the newest one recorded. Raises ``UnknownAddress`` or ``RunNotFound``."""
        from zplan import addrs

        try:
            step = str(addrs.parse_output(address).step)
        except ValueError as exc:
            raise UnknownAddress(str(exc), "give pipeline.P.step.S") from None
        if not self._declared(step):
            instances = addrs.instances_of(step, (s.address for s in self._project.config.steps()))
            if instances:  # a step made with count / for_each, or a pipeline or module, given without a key
                raise UnknownAddress(*addrs.give_one(step, instances, "step instances"))
            raise UnknownAddress(f"no step {step} in the configuration", "see the pipeline blocks in *.zp.hcl")
        with self._metadata() as meta:
            if run is None:
                found = meta.find_artifact(step, output)
                if found is None:
                    raise UnknownAddress(f"no recorded artifact for {step} output {output!r}", meta.missing_output_hint(step))
                node = meta.lineage(found, step)
                view, producer = node.artifact, node.produced_by
            else:
                view, producer = self._in_run(meta.run_detail(run), step, output)
        return Artifact(view, producer, self._artifact_store, lambda: self._lineage(view.id, step, run))

    def output(self, name: str, run: int | None = None, reveal: bool = False) -> Any:
        """The value of project output ``name`` as the last apply recorded it, or as run ``run``
        computed it (read from the artifact of the step it names). A sensitive output raises
        ``SensitiveOutput`` unless ``reveal=True``. Raises ``UnknownOutput``."""
        declared = self._project.config.outputs.get(name)
        if declared is None:
            raise UnknownOutput(f'no output "{name}" in the configuration', "see the output blocks in *.zp.hcl")
        if declared.sensitive and not reveal:
            raise SensitiveOutput(f'output "{name}" is sensitive', f"ask for it in clear: project.output({name!r}, reveal=True)")
        if run is not None:
            value, secret = self._output_of_run(name, declared, run)
            if not reveal and (secret or self.holds_secret(value)):  # a step wrote a secret's text: state seals it, so must this
                raise SensitiveOutput(f'output "{name}" of run {run} holds a secret', f"ask for it in clear: project.output({name!r}, run={run}, reveal=True)")
            return value
        from zplan.state import secrets
        from zplan.state.model import State

        with _api_errors("state"):
            state = State(self._project.state_backend().read())
        recorded = state.outputs_of(self.stack)
        if name not in recorded:
            raise UnknownOutput(f'no output "{name}" recorded on stack {self.stack}', "run `zplan apply` first")
        if recorded[name].get("sensitive") and not reveal:
            raise SensitiveOutput(f'output "{name}" is sensitive', f"ask for it in clear: project.output({name!r}, reveal=True)")
        value = recorded[name]["value"]
        return self._read_back(state, secrets.unseal(value, self._project.state_dir) if recorded[name].get("sensitive") else value)

    def outputs(self, masked: bool = False) -> dict[str, Any]:
        """Every recorded output that is not sensitive, by name; with ``masked``, the sensitive ones too,
        each as "(sensitive)" (as `zplan output` lists them)."""
        from zplan.secrets import SENSITIVE
        from zplan.state.model import State

        with _api_errors("state"):
            state = State(self._project.state_backend().read())
        recorded = sorted(state.outputs_of(self.stack).items())
        return {n: SENSITIVE if o.get("sensitive") else self._read_back(state, o["value"])
                for n, o in recorded if masked or not o.get("sensitive")}

    def plan(self) -> Mapping[str, Any]:
        """What `zplan plan --format json` would show now, as a read-only mapping (nested dicts and lists
        are frozen too). Keys follow the JSON plan format: ``format_version``, ``resources``,
        ``steps``, ``outputs``, ``summary``... Caches are not written; resources are read back
        only from providers whose reads are local and free (as `zplan plan` does), so drift shows."""
        from zplan.plan.jsonplan import to_json
        from zplan.plan.planner import Planner, PlanRequest
        from zplan.plan.refresh import read_back
        from zplan.state.model import State

        with _api_errors("plan"), self._project.needing_values("the plan reads it"):
            state = State(self._project.state_backend().read())
            request = PlanRequest(refresh=read_back(self._project, state) if state.resources else None)
            return _frozen(to_json(Planner(self._project, state).plan(request)))

    # -- reading helpers

    def _read_back(self, state, value: Any) -> Any:
        """A step's JSON output over 4 KB is kept in state as its artifact's URI: the value is read
        back from the store, verified (``ArtifactDamaged`` when it is missing or damaged)."""
        from zplan.artifacts.materializers import get_materializer
        from zplan.state.views import large_json_outputs, with_artifact_values

        def load(uri: str, address: str, digest: str) -> Any:
            with store_errors(f"artifact {digest} (the output of {address})"):
                return get_materializer("json").load(self._artifact_store().get(digest, verify=True))

        return with_artifact_values(value, large_json_outputs(state, self._project), load)

    def _declared(self, step: str) -> bool:
        return self._project.config.step(step) is not None  # instances and module steps by their full address

    @staticmethod
    def _in_run(detail: "RunDetail", step: str, output: str):
        for execution in reversed(detail.executions):
            if execution.address == step and output in execution.outputs:
                return execution.outputs[output], execution
        raise UnknownAddress(f"run {detail.summary.number} recorded no output {output!r} of {step}", "see project.run(N).executions")

    def _output_of_run(self, name: str, declared, run: int, max_bytes: int | None = None) -> tuple[Any, bool]:
        """The output's value with each step output in it read from run ``run``'s artifact, and whether
        one of those is sensitive (its step was given a secret, or wrote one). An artifact over
        ``max_bytes`` raises ``NotLoaded`` before any of it is read."""
        from zplan.api.views import NotLoaded
        from zplan.config.step_refs import map_step_refs

        value, refs = self._step_refs(declared)
        read = []

        def load(ref):
            read.append(self.artifact(ref.address, ref.output, run))
            if max_bytes is not None and read[-1].size > max_bytes:
                raise NotLoaded(f"not loaded: {read[-1].type_name} of {read[-1].size} bytes (over {max_bytes})")
            return read[-1].load()

        if refs:
            return map_step_refs(value, load), any(artifact.sensitive for artifact in read)
        raise UnknownOutput(f'output "{name}" is not a step output', "only outputs of steps are kept per run; read it without run=")

    def _newest_execution(self, address: str):
        """The newest execution of step ``address`` that recorded outputs (an ExecutionView), or None."""
        with self._metadata() as meta:
            return meta.newest_execution(address)

    def _lineage(self, artifact_id: int, address: str | None = None, run: int | None = None):
        with self._metadata() as meta:
            return meta.lineage(artifact_id, address, run)

    def _settings(self) -> dict:
        from zplan.config.values import UNKNOWN

        settings = self._project.recorded_stack_settings()
        if UNKNOWN in (settings.get("artifact_store"), settings.get("metadata_store")):
            raise StoreUnreachable(f"stack {self.stack}: its stores are known only after apply", "run `zplan apply` first")
        return settings

    def _artifact_store(self) -> "ArtifactStore":
        if self._store is None:
            from zplan.artifacts.base import ArtifactStore

            with store_errors("artifact store"):
                self._store = ArtifactStore.from_url(str(self._settings()["artifact_store"]), self.root)
        return self._store

    @contextmanager
    def _metadata(self) -> Iterator[Any]:
        from zplan.metadata import MetadataStore
        from zplan.metadata.urls import metadata_password

        settings = self._settings()
        with _api_errors("metadata store"):
            meta = MetadataStore.from_url(str(settings["metadata_store"]), self.root, metadata_password(settings))
            try:
                yield meta
            finally:
                meta.close()

    def __repr__(self) -> str:
        return f"<zplan.Project {self.root} stack={self.stack}>"


def open(path: str | Path = ".", stack: str | None = None, variables: Mapping[str, Any] | None = None) -> Project:  # noqa: A001
    """The project in ``path`` on ``stack`` (the configured default when None), read-only. ``variables``
    (name -> value) win over ``ZPLAN_VAR_*`` and vars files; only those the stack's stores read are required."""
    return Project(path, stack, variables)


@contextmanager
def _api_errors(what: str) -> Iterator[None]:
    """A core diagnostic as the API error it stands for; the API's own errors pass through."""
    try:
        yield
    except ZplanAPIError:
        raise
    except DiagnosticError as exc:
        first = exc.diagnostics[0]
        named = first.summary if first.summary.startswith(what) else f"{what}: {first.summary}"  # said once
        if first.summary.startswith("no run "):
            raise RunNotFound(first.summary, first.detail) from None
        if first.summary.startswith("no value for variable "):  # a value the caller can give: zplan.open(variables=...)
            raise ZplanAPIError(first.summary, first.detail) from None
        if _a_mistake_in_the_project(what, first):
            raise InvalidProject(named, first.detail, tuple(exc.diagnostics)) from None
        raise StoreUnreachable(named, first.detail, tuple(exc.diagnostics)) from None
    except (OSError, ConnectionError) as exc:
        raise StoreUnreachable(f"{what}: {type(exc).__name__}: {exc}") from None


_STORES = ("state backend", "metadata store", "cannot open the metadata store", "artifact store")


def _a_mistake_in_the_project(what: str, diagnostic) -> bool:
    """Whether the error is the project's to fix rather than a store's: anything at a file:line of the
    configuration, and what opening the project or reading its files says about neither store."""
    if diagnostic.range is not None:
        return True
    return what == "project" and not diagnostic.summary.startswith(_STORES)


def _frozen(value: Any) -> Any:
    if isinstance(value, dict):
        return MappingProxyType({k: _frozen(v) for k, v in value.items()})
    if isinstance(value, list):
        return tuple(_frozen(v) for v in value)
    return value
