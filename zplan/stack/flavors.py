"""Stack components and their flavors: what each setting of a stack may name.

A stack names one flavor per component (orchestrator, artifact store, metadata
store, processing). The built-in flavors are below; more come from the
``zplan.flavors`` entry point group (name ``COMPONENT.FLAVOR``, value a class
like these), looked up only when a value matches no built-in, so planning stays
fast. Each flavor checks its own value, offline.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any, Mapping

from zplan.config.values import contains_unknown, type_name
from zplan.fsutil import atomic_write_text
from zplan.hashing import hash_value

# Components a stack may name. step_operator and model_deployer have no built-in flavor: naming one
# needs a plugin that provides it, and without one the plan says so instead of ignoring the setting.
COMPONENTS = ("orchestrator", "artifact_store", "metadata_store", "processing", "step_operator", "model_deployer")
ENTRY_POINT_GROUP = "zplan.flavors"


class Flavor:
    component: str = ""
    name: str = ""
    remote: bool = False  # steps run elsewhere (compiled and submitted), not in local workers

    def matches(self, value: str) -> bool:
        return value == self.name

    def validate(self, value: str, settings: Mapping[str, Any]) -> list[str]:
        return []


def _unread_options(orchestrator: str, settings: Mapping[str, Any], reads: tuple[str, ...]) -> list[str]:
    """orchestrator_options keys the orchestrator never reads: a typo would silently keep the default."""
    options = settings.get("orchestrator_options")
    found = []
    for key in options if isinstance(options, Mapping) else ():
        if key not in reads:
            import difflib  # only for a key it does not read: not on every plan's path

            close = difflib.get_close_matches(key, reads, n=1)
            hint = f'did you mean "{close[0]}"?; ' if close else ""
            found.append(f'orchestrator "{orchestrator}" does not read orchestrator_options.{key} '
                         f'({hint}it reads: {", ".join(reads) or "none"})')
    return found


class LocalOrchestrator(Flavor):
    component, name = "orchestrator", "local"

    def validate(self, value, settings):
        return _unread_options(self.name, settings, ())


class KubeflowOrchestrator(Flavor):
    component, name, remote = "orchestrator", "kubeflow", True
    reads = ("experiment", "host", "namespace")  # what zplan.kubeflow.submit reads

    def validate(self, value, settings):
        found = [] if settings.get("container_image") else [f'orchestrator "{self.name}" runs steps in containers: set container_image']
        return found + _local_stores(self.name, settings) + _unread_options(self.name, settings, self.reads)


class VertexOrchestrator(KubeflowOrchestrator):
    component, name, remote = "orchestrator", "vertex", True
    required = ("project", "location", "pipeline_root")
    reads = (*required, "service_account")

    def validate(self, value, settings):
        options = settings.get("orchestrator_options")
        options = options if isinstance(options, Mapping) else {}
        missing = [k for k in self.required if not options.get(k)]
        found = super().validate(value, settings)
        if missing:
            found.append(
                f'orchestrator "vertex" needs {", ".join(missing)} in orchestrator_options '
                '(e.g. project = "my-project", location = "europe-west4", pipeline_root = "gs://bucket/pipelines")'
            )
        root = options.get("pipeline_root")
        if isinstance(root, str) and root and not root.startswith("gs://"):  # (the job's gcs_output_directory)
            found.append(f'orchestrator "vertex": pipeline_root "{root}" must be a Cloud Storage folder, e.g. "gs://bucket/pipelines"')
        return found


class DaskOrchestrator(Flavor):
    """Steps as tasks on a Dask cluster; artifacts go through a store every worker reaches."""

    component, name = "orchestrator", "dask"

    def validate(self, value, settings):
        options = settings.get("orchestrator_options")
        if contains_unknown(options):
            return []  # the scheduler comes from a resource not applied yet
        scheduler = options.get("scheduler") if isinstance(options, Mapping) else None
        found = [] if isinstance(scheduler, str) and scheduler else [
            'orchestrator "dask" needs orchestrator_options = { scheduler = "tcp://HOST:8786" } '
            "(or resource.local_dask_cluster.NAME.scheduler_address)"]
        timeout = options.get("connect_timeout") if isinstance(options, Mapping) else None
        if timeout is not None:
            from zplan.durations import timeout_seconds

            try:
                timeout_seconds(timeout)
            except ValueError as exc:
                found.append(f"connect_timeout: {exc}")
        from zplan.cluster.connect import shared_project_dir

        try:
            shared_project_dir(settings)
        except ValueError as exc:
            found.append(str(exc))
        found += _unread_options(self.name, settings, ("connect_timeout", "scheduler", "shared_project_dir"))
        store = settings.get("artifact_store")
        if isinstance(store, str) and _is_relative_file_url(store):
            found.append(f'orchestrator "dask" runs steps on workers, which resolve artifact_store "{store}" in their own '
                         "folders: use s3:// or gs://, or a file:// path every worker shares (file:///shared/artifacts)")
        return found


def _is_relative_file_url(value: str) -> bool:
    scheme, sep, rest = value.partition("://")
    path = rest if sep else value
    return (scheme == "file" or not sep) and not path.startswith("/")


def _local_stores(orchestrator: str, settings: Mapping[str, Any]) -> list[str]:
    """Stores on this machine's disk are out of reach of steps running in pods."""
    found = []
    for key, local in (("artifact_store", ("file", "")), ("metadata_store", ("sqlite",))):
        value = settings.get(key)
        if isinstance(value, str) and (value.split("://", 1)[0] if "://" in value else "") in local:
            found.append(f'orchestrator "{orchestrator}" runs steps in pods, which cannot reach {key} "{value}" on this machine; '
                         f'use {"s3:// or gs://" if key == "artifact_store" else "mysql://"} instead')
    return found


class _Scheme(Flavor):
    schemes: tuple[str, ...] = ()

    def matches(self, value: str) -> bool:
        return value.split("://", 1)[0] in self.schemes if "://" in value else "" in self.schemes


class FileArtifactStore(_Scheme):
    component, name, schemes = "artifact_store", "file", ("file", "")


class S3ArtifactStore(_Scheme):
    component, name, schemes = "artifact_store", "s3", ("s3",)


class GcsArtifactStore(_Scheme):
    component, name, schemes = "artifact_store", "gs", ("gs", "gcs")


class SqliteMetadataStore(_Scheme):
    component, name, schemes = "metadata_store", "sqlite", ("sqlite",)


class MySQLMetadataStore(_Scheme):
    component, name, schemes = "metadata_store", "mysql", ("mysql",)


class BeamProcessing(Flavor):
    component, name = "processing", "beam"
    runners = ("DirectRunner", "DaskRunner", "DataflowRunner", "SparkRunner", "FlinkRunner", "PortableRunner")

    def matches(self, value: str) -> bool:
        return value.startswith("beam:") or value == "beam"

    def validate(self, value, settings):
        runner = value.partition(":")[2] or "DirectRunner"
        if runner not in self.runners:
            import difflib

            close = difflib.get_close_matches(runner, self.runners, n=1)
            hint = f'did you mean "{close[0]}"? ' if close else ""
            return [f'unknown Beam runner "{runner}"; {hint}use one of: {", ".join(self.runners)}']
        if runner == "DaskRunner" and not _names_dask_scheduler(settings):
            # found here, not when the first Beam step fails on it half-way through an apply
            return ['processing = "beam:DaskRunner" needs a Dask scheduler: use orchestrator = "dask" (its scheduler '
                    'is used) or set beam_options = { dask_client_address = "tcp://HOST:8786" }']
        return []


def _names_dask_scheduler(settings: Mapping[str, Any]) -> bool:
    """Whether the DaskRunner finds a scheduler (as zplan.beam.runners.default_dask_address looks for one);
    one that comes from a resource not applied yet counts."""
    beam_options = settings.get("beam_options")
    if contains_unknown(beam_options) or (isinstance(beam_options, Mapping) and beam_options.get("dask_client_address")):
        return True
    return settings.get("orchestrator") == "dask"  # the dask orchestrator's own check names a missing scheduler


BUILTIN: tuple[Flavor, ...] = (
    LocalOrchestrator(), KubeflowOrchestrator(), VertexOrchestrator(), DaskOrchestrator(),
    FileArtifactStore(), S3ArtifactStore(), GcsArtifactStore(),
    SqliteMetadataStore(), MySQLMetadataStore(), BeamProcessing(),
)


def flavor_for(component: str, value: str) -> Flavor | None:
    for flavor in BUILTIN:
        if flavor.component == component and flavor.matches(value):
            return flavor
    return next((f for f in _plugins(component) if f.matches(value)), None)


def _plugins(component: str) -> list[Flavor]:
    from importlib import metadata

    found = []
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        if ep.name.split(".", 1)[0] == component:
            found.append(ep.load()())
    return found


def problems(settings: Mapping[str, Any], cache_dir: Path | None = None) -> list[str]:
    """Messages for stack settings no flavor accepts (values not yet known are skipped)."""
    out = _beam_option_problems(settings, cache_dir)
    for component in COMPONENTS:
        value = settings.get(component)
        if not isinstance(value, str):
            continue
        flavor = flavor_for(component, value)
        if flavor is None:
            known = sorted({f.name for f in BUILTIN if f.component == component} | {f.name for f in _plugins(component)})
            out.append(f'{component} "{value}" matches no installed flavor (known: {", ".join(known)})')
        else:
            out += [f"{component}: {msg}" for msg in flavor.validate(value, settings)]
    return out


# Settings that hold text, and settings that hold a map of options: any other value is a mistake
# that would otherwise be skipped by every check and silently ignored.
TEXT_SETTINGS = COMPONENTS + ("container_image", "metadata_password", "description")
MAP_SETTINGS = ("orchestrator_options", "artifact_store_options", "metadata_store_options", "beam_options", "backend_options")


# Settings a stack block may hold that the stores do not read yet: named, so nobody relies on them.
NOT_YET_SUPPORTED = {
    "artifact_store_options": "set the object store's client through its environment (AWS_ENDPOINT_URL, AWS_PROFILE, "
                              "STORAGE_EMULATOR_HOST, GOOGLE_APPLICATION_CREDENTIALS...)",
    "metadata_store_options": "write what the connection needs in the metadata_store URL (mysql://user@host:port/db?socket=...)",
}


def setting_problems(settings: Mapping[str, Any]) -> dict[str, str]:
    """Problems of single settings, by setting name (so a plan can point at the line that sets it)."""
    from zplan.durations import timeout_seconds

    out = _type_problems(settings)
    for name, instead in NOT_YET_SUPPORTED.items():
        if settings.get(name) is not None:
            out[name] = f"{name} is not supported yet: {instead}"
    store = settings.get("metadata_store")
    if isinstance(store, str) and store.startswith(("sqlite:", "mysql:")):
        problem = _metadata_url_problem(store)
        if problem:
            out["metadata_store"] = problem
    timeout = settings.get("step_timeout")
    if timeout is not None and not contains_unknown(timeout):
        try:
            timeout_seconds(timeout)
        except ValueError as exc:
            out["step_timeout"] = f"step_timeout: {exc}"
    return out


def _type_problems(settings: Mapping[str, Any]) -> dict[str, str]:
    """Settings of the wrong type, named by type only (metadata_password's value is a secret)."""
    out = {}
    for names, wanted, kind in ((TEXT_SETTINGS, "a string", str), (MAP_SETTINGS, "a map", Mapping)):
        for name in names:
            value = settings.get(name)
            if value is not None and not contains_unknown(value) and not isinstance(value, kind):
                out[name] = f"{name}: {wanted} is required, got {type_name(value)}"
    return out


def _metadata_url_problem(url: str) -> str | None:
    """A malformed metadata store URL, found offline (apply would only fail on it after it started)."""
    from zplan import diags
    from zplan.metadata.urls import parse_store_url

    try:
        parse_store_url(url, Path("."), password="")
    except diags.DiagnosticError as exc:
        return "; ".join(d.summary for d in exc.diagnostics)
    return None


def _beam_option_problems(settings: Mapping[str, Any], cache_dir: Path | None) -> list[str]:
    """Beam's own option classes check a runner's options (a Dataflow project, a Spark master).

    Importing Beam takes about a second, so settings found valid once are remembered
    (by their digest and Beam's version) and a no-change plan does not import it again.
    """
    processing, options = settings.get("processing"), settings.get("beam_options")
    if not (isinstance(processing, str) and processing.startswith("beam:")) or contains_unknown(options):
        return []
    if processing.partition(":")[2] not in BeamProcessing.runners:
        return []  # the flavor's own check names it
    if processing in ("beam:DirectRunner",) and not options:
        return []
    try:
        from importlib.metadata import version

        key = hash_value([processing, options if isinstance(options, Mapping) else {}, version("apache-beam")])
    except Exception:  # Beam is not installed: the step that needs it says so when it runs
        return []
    memo = cache_dir / "beam-options.json" if cache_dir is not None else None
    known = _read_memo(memo)
    if key in known:
        return []
    from zplan import diags

    try:
        with _quiet_imports():  # Beam's cloud extras warn about optional clients: noise in a plan
            from zplan.beam.runners import pipeline_options

            pipeline_options(processing, dict(options) if isinstance(options, Mapping) else {})
    except diags.DiagnosticError as exc:
        return [d.summary + (f" ({d.detail})" if d.detail else "") for d in exc.diagnostics]
    if memo is not None and memo.parent.is_dir():
        atomic_write_text(memo, json.dumps(sorted(known | {key})))
    return []


@contextlib.contextmanager
def _quiet_imports():
    import logging
    import warnings

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        root.setLevel(level)


def _read_memo(path: Path | None) -> set[str]:
    try:
        return set(json.loads(path.read_text())) if path is not None else set()
    except (OSError, ValueError, TypeError):
        return set()


def is_remote(settings: Mapping[str, Any]) -> bool:
    value = settings.get("orchestrator")
    flavor = flavor_for("orchestrator", value) if isinstance(value, str) else None
    return bool(flavor and flavor.remote)
