"""What the dashboard reads beyond runs and artifacts: step logs, resources, a metric across
runs, saved plans and the dependency graph. Mixed into ``zplan.Project``; read-only like it.

Every value handed out has already had its secrets hidden: sensitive resource attributes
and any text holding a sensitive variable's value become "(sensitive)".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

if TYPE_CHECKING:
    from zplan.metadata.records import LineageNode

from zplan.api.errors import (ArtifactDamaged, MaterializerMissing, RunNotFound, SensitiveOutput, UnknownAddress, UnknownOutput,
                              ZplanAPIError)


@dataclass(frozen=True)
class Resource:
    """A recorded resource, its sensitive attributes shown as "(sensitive)"."""

    address: str
    type: str
    provider: str
    attributes: dict
    sensitive: list[str]
    dependencies: list[str] = field(default_factory=list)
    step_outputs: dict[str, int] = field(default_factory=dict)  # attribute -> artifact id it was given (a model to serve)


@dataclass(frozen=True)
class MetricPoint:
    """One run's value of a project output (``None`` when that run did not produce it, or when ``note``
    says why it could not be read)."""

    run: int
    started: float
    status: str
    value: Any
    note: str = ""  # why a value that run recorded is not given (its artifact removed by `zplan gc`, say)


@dataclass(frozen=True)
class GraphNode:
    address: str
    kind: str  # "step" | "resource"


@dataclass(frozen=True)
class Graph:
    """Steps and resources, an edge (a, b) meaning b needs a first."""

    nodes: list[GraphNode]
    edges: list[tuple[str, str]]


class NotLoaded(ZplanAPIError):
    """A step output larger than a history was asked to read (``output_history(max_bytes=...)``)."""


class PlanFileOutside(ZplanAPIError):
    """A saved plan path that leads outside the project folder."""


class ProjectViews:
    """Reading helpers for ``zplan.Project`` (which provides ``_project``, ``_metadata``, ``run``...)."""

    def log(self, run: int, address: str) -> str:
        """The log step ``address`` wrote in run ``run``, every secret redacted; "" when it wrote none.
        Raises ``RunNotFound``, or ``UnknownAddress`` when the run has no execution of that step."""
        from zplan.apply.step_log import log_file_name
        from zplan.secrets import redact

        detail = self.run(run)
        if address not in {e.address for e in detail.executions}:
            raise UnknownAddress(f"run {run} has no execution of {address}", "see project.run(N).executions")
        logs = (self._project.state_dir / "logs").resolve()
        path = (logs / self.stack / f"run-{int(run)}" / log_file_name(address)).resolve()
        if not path.is_relative_to(logs):  # a recorded address is never a path; be sure of it
            raise UnknownAddress(f"no log for {address!r}", "see project.run(N).executions")
        try:
            text = path.read_bytes().decode("utf-8", errors="replace")
        except FileNotFoundError:
            return ""
        except OSError as exc:
            raise ZplanAPIError(f"log of {address} in run {run} cannot be read: {exc.strerror}") from None
        return redact(text, self._project.secrets) or ""

    def holds_secret(self, value: Any) -> bool:
        """Whether ``value`` holds the text of a known secret (a view must not show it), wherever it came from."""
        from zplan.secrets import holds_secret

        return holds_secret(value, self._project.secrets)

    def lineage(self, artifact_id: int, address: str | None = None, run: int | None = None) -> "LineageNode":
        """The artifact with that id, its producer (the execution of step ``address`` when given: steps
        that produced the same content share one artifact; the newest execution, of ``run`` or an earlier
        one when given) and recursively the producer's inputs. Raises ``UnknownAddress``."""
        from zplan.api.errors import StoreUnreachable

        try:
            number = int(artifact_id)
        except (TypeError, ValueError):
            raise UnknownAddress(f"{artifact_id!r} is not an artifact id", "give its number, as `zplan runs show N` shows it") from None
        try:
            return self._lineage(number, address, run)
        except StoreUnreachable as exc:
            if "no artifact" in exc.summary:
                raise UnknownAddress(f"no artifact {artifact_id} in the metadata store", "follow a link from a run page") from None
            raise

    def output_artifact(self, name: str):
        """The newest recorded artifact behind project output ``name`` (the first step output it names)."""
        return self.output_artifacts(name)[0]

    def output_artifacts(self, name: str) -> list:
        """The newest recorded artifact of each step output project output ``name`` holds (each instance of a
        map over a for_each step's), those not recorded left out; raises as ``artifact`` when none is."""
        declared = self._project.config.outputs.get(name)
        if declared is None:
            raise UnknownOutput(f'no output "{name}" in the configuration', "see the output blocks in *.zp.hcl")
        refs = list(dict.fromkeys((ref.address, ref.output) for ref in self._step_refs(declared)[1]))
        if not refs:
            raise UnknownOutput(f'output "{name}" is not a step output', "only step outputs have a lineage")
        found = []
        for ref in refs:
            try:
                found.append(self.artifact(*ref))
            except UnknownAddress:
                continue  # an instance that never succeeded: the others still have their lineage
        return found or [self.artifact(*refs[0])]

    def output_is_traced(self, name: str) -> bool:
        """Whether project output ``name`` reads a step output: only such an output has a value per run
        (``output_history``) and a lineage; one computed from a resource or a variable has neither."""
        declared = self._project.config.outputs.get(name)
        return declared is not None and self._step_output(declared) is not None

    def _step_output(self, declared) -> tuple[str, str] | None:
        """(step address, output name) of the first step output a declared project output holds, or None."""
        refs = self._step_refs(declared)[1]
        return (refs[0].address, refs[0].output) if refs else None

    def _step_refs(self, declared) -> tuple[Any, list]:
        """The value of a declared output with each step output in it as its reference, and those
        references: an instance's (``step.train["eu"]``), one read through a module output, each of
        a list or map of them. None and [] when it reads no step output."""
        from zplan.config.step_refs import map_step_refs
        from zplan.diags import DiagnosticError
        from zplan.graph.build import pipeline_of

        config = self._project.config
        try:
            value = self._project.scope().eval(declared.expr, pipeline=pipeline_of(declared.expr, config))
        except DiagnosticError:
            return None, []
        found: list = []
        map_step_refs(value, found.append)
        return value, found

    def resources(self) -> list[Resource]:
        """Every recorded resource, by address, with sensitive attributes hidden."""
        from zplan.secrets import mask_attributes
        from zplan.state.model import State

        from zplan.api.project import _api_errors

        with _api_errors("state"):  # the state backend's error, as outputs() says it
            state = State(self._project.state_backend().read())
        secrets = self._project.secrets
        out = []
        for address in sorted(state.resources):
            record = state.resource(address)
            shown = mask_attributes(dict(sorted(record.attributes.items())), record.sensitive, secrets, hide_null=True)
            given = self._artifact_ids(_artifact_refs(record.inputs))
            out.append(Resource(address, record.type, record.provider, shown, list(record.sensitive), list(record.dependencies), given))
        return out

    def _artifact_ids(self, refs: dict[str, str]) -> dict[str, int]:
        """attribute -> artifact id, for the step outputs (by uri) a resource was given."""
        if not refs:
            return {}
        with self._metadata() as meta:
            return {name: meta.lineage(uri).artifact.id for name, uri in sorted(refs.items())}

    def output_history(self, name: str, limit: int = 50, max_bytes: int | None = None) -> list[MetricPoint]:
        """Project output ``name`` as each of the newest ``limit`` runs computed it, oldest first,
        read from the artifact of the step output it names; a run whose artifact is over ``max_bytes``
        is not read (a model's history is not worth loading every model). Raises ``UnknownOutput`` or
        ``SensitiveOutput`` (a sensitive output is never charted)."""
        declared = self._project.config.outputs.get(name)
        if declared is None:
            raise UnknownOutput(f'no output "{name}" in the configuration', "see the output blocks in *.zp.hcl")
        if declared.sensitive:
            raise SensitiveOutput(f'output "{name}" is sensitive', "sensitive outputs are not shown across runs")
        from zplan.secrets import SENSITIVE

        points = []
        for summary in reversed(self.runs(limit)):
            note = ""
            try:
                value, secret = self._output_of_run(name, declared, summary.number, max_bytes)
            except (UnknownAddress, RunNotFound):
                value, secret = None, False
            except NotLoaded as exc:
                value, secret, note = None, False, exc.summary
            except (ArtifactDamaged, MaterializerMissing) as exc:  # one run's artifact gone: the other runs still count
                value, secret, note = None, False, f"not read: {exc.summary}"
            if secret or self.holds_secret(value):  # a step given a secret, or one that wrote its text all the same
                value = SENSITIVE
            points.append(MetricPoint(summary.number, summary.started, summary.status, value, note))
        return points

    def saved_plan(self, path: str | Path) -> Mapping[str, Any]:
        """The JSON plan inside a plan file written by `zplan plan -out FILE`; ``path`` is taken
        relative to the project and may not lead out of it (``PlanFileOutside``)."""
        from zplan.plan import planfile

        root = self.root.resolve()
        target = (root / path).resolve()
        if not target.is_relative_to(root):
            raise PlanFileOutside(f"plan file {path} is outside the project", "give a path inside the project folder")
        with self._state_errors():
            return _frozen(planfile.read(target)["plan"])

    def saved_plan_files(self) -> list[str]:
        """Plan files (``*.zplan``) in the project folder and the folders directly under it, relative paths."""
        root = self.root.resolve()
        found = [*root.glob("*.zplan"), *root.glob("*/*.zplan")]
        return sorted(p.relative_to(root).as_posix() for p in found if p.is_file() and not p.is_symlink()
                      and not p.relative_to(root).parts[0].startswith("."))

    def graph(self) -> Graph:
        """The configuration's steps and resources and what each needs first."""
        from zplan.graph.build import build

        with self._state_errors():
            dag = build(self._project.config, self.stack)
        nodes = [GraphNode(n, dag.nodes[n].get("kind", "step")) for n in sorted(dag.nodes)]
        return Graph(nodes, sorted(dag.edges()))

    def _state_errors(self):
        from zplan.api.project import _api_errors

        return _api_errors("project")


def _frozen(value: Any) -> Any:
    from zplan.api.project import _frozen as frozen

    return frozen(value)


def _artifact_refs(inputs: dict) -> dict[str, str]:
    """The inputs of a resource that are step outputs (artifact references): name -> uri."""
    return {k: v["uri"] for k, v in inputs.items() if isinstance(v, dict) and {"digest", "uri"} <= set(v)}
