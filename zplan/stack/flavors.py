"""Stack components and their flavors: what each setting of a stack may name.

A stack names one flavor per component (orchestrator, artifact store, metadata
store, processing). The built-in flavors are below; more come from the
``zplan.flavors`` entry point group (name ``COMPONENT.FLAVOR``, value a class
like these), looked up only when a value matches no built-in, so planning stays
fast. Each flavor checks its own value, offline.
"""

from __future__ import annotations

from typing import Any, Mapping

COMPONENTS = ("orchestrator", "artifact_store", "metadata_store", "processing")
ENTRY_POINT_GROUP = "zplan.flavors"


class Flavor:
    component: str = ""
    name: str = ""
    remote: bool = False  # steps run elsewhere (compiled and submitted), not in local workers

    def matches(self, value: str) -> bool:
        return value == self.name

    def validate(self, value: str, settings: Mapping[str, Any]) -> list[str]:
        return []


class LocalOrchestrator(Flavor):
    component, name = "orchestrator", "local"


class KubeflowOrchestrator(Flavor):
    component, name, remote = "orchestrator", "kubeflow", True

    def validate(self, value, settings):
        return [] if settings.get("container_image") else ['orchestrator "kubeflow" runs steps in containers: set container_image']


class VertexOrchestrator(KubeflowOrchestrator):
    component, name, remote = "orchestrator", "vertex", True

    def validate(self, value, settings):
        return [m.replace("kubeflow", "vertex") for m in super().validate(value, settings)]


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
    runners = ("DirectRunner", "DataflowRunner", "SparkRunner", "FlinkRunner", "PortableRunner")

    def matches(self, value: str) -> bool:
        return value.startswith("beam:") or value == "beam"

    def validate(self, value, settings):
        runner = value.partition(":")[2] or "DirectRunner"
        if runner not in self.runners:
            return [f'unknown Beam runner "{runner}"; use one of: {", ".join(self.runners)}']
        return []


BUILTIN: tuple[Flavor, ...] = (
    LocalOrchestrator(), KubeflowOrchestrator(), VertexOrchestrator(),
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


def problems(settings: Mapping[str, Any]) -> list[str]:
    """Messages for stack settings no flavor accepts (values not yet known are skipped)."""
    out = []
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


def is_remote(settings: Mapping[str, Any]) -> bool:
    value = settings.get("orchestrator")
    flavor = flavor_for("orchestrator", value) if isinstance(value, str) else None
    return bool(flavor and flavor.remote)
