"""The ML Metadata types zplan records, and their idempotent registration.

Only called once a store is open, so importing this module costs nothing;
the ``pb`` argument is ML Metadata's ``metadata_store_pb2`` module.
"""

from __future__ import annotations

from dataclasses import dataclass

ARTIFACT = "zplan.Artifact"
SNAPSHOT = "zplan.DataSnapshot"
STEP = "zplan.Step"
PIPELINE = "zplan.Pipeline"
RUN = "zplan.Run"

_ARTIFACT_PROPS = {
    "digest": "STRING",
    "materializer": "STRING",
    "materializer_version": "STRING",
    "type_name": "STRING",
    "source_path": "STRING",
    "size": "INT",
}
_STEP_PROPS = {
    "address": "STRING",
    "pipeline": "STRING",
    "step": "STRING",
    "cache_key": "STRING",
    "params": "STRING",  # canonical JSON
    "code_hash": "STRING",
    "error": "STRING",
    "started_at": "DOUBLE",  # seconds since the epoch
    "finished_at": "DOUBLE",
    "metadata": "STRING",  # canonical JSON: what the step recorded with zplan.log_metadata()
    "reasons": "STRING",  # canonical JSON: the plan's [{"code", "message"}], secrets masked
    "cached_from": "INT",  # a cached step: the run whose outputs it reused
    "sensitive_outputs": "BOOLEAN",  # it was given a sensitive value (or said so): its outputs are never shown
}
_RUN_PROPS = {
    "number": "INT",
    "pipeline": "STRING",
    "stack": "STRING",
    "git_commit": "STRING",
    "git_dirty": "BOOLEAN",
    "git_branch": "STRING",
    "status": "STRING",
    "started_at": "DOUBLE",
    "finished_at": "DOUBLE",
    # the applying process, so a run whose apply was killed is closed by the next command
    "host": "STRING",
    "pid": "INT",
    "pid_start": "INT",
    # who applied it: the OS user, and the CI service and its run's page when there was one
    "user": "STRING",
    "ci": "STRING",
    "ci_url": "STRING",
    "skipped": "STRING",  # canonical JSON: each step not started after a failure -> the failed steps upstream of it
}


def properties_of(type_name: str) -> dict[str, str]:
    """The properties zplan writes on a type, each with its kind (``"STRING"``, ``"INT"``...)."""
    return {ARTIFACT: _ARTIFACT_PROPS, SNAPSHOT: _ARTIFACT_PROPS, STEP: _STEP_PROPS, PIPELINE: {}, RUN: _RUN_PROPS}[type_name]


@dataclass(frozen=True)
class TypeIds:
    artifact: int
    snapshot: int
    step: int
    pipeline: int
    run: int

    def artifact_for(self, kind: str) -> int:
        return self.snapshot if kind == "snapshot" else self.artifact


def register(store, pb) -> TypeIds:
    """Register (or find) every type. ``can_add_fields`` lets a newer zplan add properties
    to a store an older one created, ``can_omit_fields`` lets this one write to a store a newer
    one added properties to (a team's shared store); an unchanged type just returns its id."""

    known = _registered(store)

    def put(put_fn, proto_cls, name: str, props: dict[str, str]) -> int:
        wanted = {key: pb.PropertyType.Value(kind) for key, kind in props.items()}
        found = known.get((proto_cls.__name__, name))
        if found is not None and dict(found.properties) == wanted:
            return found.id  # (a put would find it unchanged, in a write transaction of its own: ~3 ms synced)
        proto = proto_cls(name=name)
        for key, kind in wanted.items():
            proto.properties[key] = kind
        return put_fn(proto, can_add_fields=True, can_omit_fields=True)

    return TypeIds(
        artifact=put(store.put_artifact_type, pb.ArtifactType, ARTIFACT, _ARTIFACT_PROPS),
        snapshot=put(store.put_artifact_type, pb.ArtifactType, SNAPSHOT, _ARTIFACT_PROPS),
        step=put(store.put_execution_type, pb.ExecutionType, STEP, _STEP_PROPS),
        pipeline=put(store.put_context_type, pb.ContextType, PIPELINE, {}),
        run=put(store.put_context_type, pb.ContextType, RUN, _RUN_PROPS),
    )


def _registered(store) -> dict:
    """The store's types by (proto class name, type name): three reads, no write."""
    listed = (store.get_artifact_types(), store.get_execution_types(), store.get_context_types())
    return {(type(t).__name__, t.name): t for types in listed for t in types}


def lookup(store, errors) -> TypeIds | None:
    """The ids of already registered types, or None when this store never had a zplan write."""
    try:
        return TypeIds(
            artifact=store.get_artifact_type(ARTIFACT).id,
            snapshot=store.get_artifact_type(SNAPSHOT).id,
            step=store.get_execution_type(STEP).id,
            pipeline=store.get_context_type(PIPELINE).id,
            run=store.get_context_type(RUN).id,
        )
    except errors.NotFoundError:
        return None
