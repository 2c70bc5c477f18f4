"""Between zplan's plain records and ML Metadata's protos.

Functions that build protos take ML Metadata's ``metadata_store_pb2`` as ``pb``
so this module never imports it itself.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from zplan.hashing import canonical_json, hash_text
from zplan.metadata.records import Applier, ArtifactRecord, ArtifactView, ExecutionRecord, GitInfo, StepReason
from zplan.metadata.schema import SNAPSHOT
from zplan.secrets import is_digest

_STATES = {"complete": "COMPLETE", "cached": "CACHED", "failed": "FAILED", "cancelled": "CANCELED"}
_STATE_NAMES = {v: k for k, v in _STATES.items()}


def set_props(proto, values: dict) -> None:
    """Set typed properties, skipping None (an unset property reads back as None)."""
    for key, value in values.items():
        if value is None:
            continue
        slot = proto.properties[key]
        if isinstance(value, bool):
            slot.bool_value = value
        elif isinstance(value, int):
            slot.int_value = value
        elif isinstance(value, float):
            slot.double_value = value
        else:
            slot.string_value = str(value)


def prop(proto, key: str, default=None):
    if key not in proto.properties:
        return default
    value = proto.properties[key]
    which = value.WhichOneof("value")
    return getattr(value, which) if which else default


def external_id(record: ArtifactRecord) -> str:
    # MLMD dedupes on external_id inside the same transaction that records the step,
    # so a cached step's outputs (same uri, same content) stay one artifact row.
    return f"zplan:{record.kind}:{hash_text(record.uri + chr(0) + record.digest)}"


def with_props(proto, values: dict):
    set_props(proto, values)
    return proto


def artifact_props(record: ArtifactRecord) -> dict:
    if record.kind not in ("output", "snapshot"):
        raise ValueError(f"artifact kind must be 'output' or 'snapshot', not {record.kind!r}")
    return {
        "digest": record.digest,
        "materializer": record.materializer,
        "materializer_version": record.materializer_version,
        "type_name": record.type_name,
        "source_path": record.source_path,
        "size": int(record.size),
    }


def execution_props(rec: ExecutionRecord) -> dict:
    if rec.state not in _STATES:
        raise ValueError(f"execution state must be one of {sorted(_STATES)}, not {rec.state!r}")
    return {
        "address": rec.address,
        "pipeline": rec.pipeline,
        "step": rec.step,
        "cache_key": rec.cache_key,
        "params": params_json(rec.params),
        "code_hash": rec.code_hash,
        "error": rec.error,
        "started_at": float(rec.started_at),
        "finished_at": float(rec.finished_at),
        "metadata": params_json(rec.metadata) if rec.metadata else None,
        "reasons": reasons_json(rec.reasons),
        "cached_from": rec.cached_from,
        "sensitive_outputs": rec.sensitive_outputs or None,
    }


def uri_after_move(uri: str, project_dir: Path | None) -> str:
    """Where a file in a project's ``.zplan`` folder is now, after the project folder moved: the
    recorded URI names the old place; the same path under ``project_dir`` if the old one is gone."""
    if project_dir is None or not uri.startswith("file://"):
        return uri
    from urllib.parse import unquote, urlparse  # (not urllib.request: it imports sockets and more)

    path = unquote(urlparse(uri).path)
    old_root, marker, tail = path.rpartition(f"{os.sep}.zplan{os.sep}")
    if not marker or os.path.exists(path):
        return uri
    moved = Path(project_dir) / ".zplan" / tail
    return moved.as_uri() if moved.exists() else uri


def artifact_view(art, type_names: dict[int, str], project_dir: Path | None = None) -> ArtifactView:
    record = ArtifactRecord(
        digest=prop(art, "digest", ""),
        uri=uri_after_move(art.uri, project_dir),
        materializer=prop(art, "materializer", ""),
        materializer_version=prop(art, "materializer_version", ""),
        type_name=prop(art, "type_name", ""),
        kind="snapshot" if type_names.get(art.type_id) == SNAPSHOT else "output",
        source_path=prop(art, "source_path"),
        size=prop(art, "size", 0),
    )
    return ArtifactView(id=art.id, record=record, created_ms=art.create_time_since_epoch)


def state_proto(pb, state: str) -> int:
    if state not in _STATES:
        raise ValueError(f"execution state must be one of {sorted(_STATES)}, not {state!r}")
    return pb.Execution.State.Value(_STATES[state])


def state_name(pb, value: int) -> str:
    return _STATE_NAMES.get(pb.Execution.State.Name(value), pb.Execution.State.Name(value).lower())


def params_json(params: dict) -> str:
    return canonical_json(params)


def params_value(text: str | None) -> dict:
    if not text:
        return {}
    try:
        return json.loads(text)
    except ValueError:
        return {"<unreadable>": text}


def holds_digest(value) -> bool:
    """Whether recorded params hold a sensitive value (recorded as its digest), at any depth."""
    if isinstance(value, dict):
        return any(holds_digest(v) for v in value.values())
    if isinstance(value, list):
        return any(holds_digest(v) for v in value)
    return is_digest(value)


def reasons_json(reasons) -> str:
    """Always written, even empty: an execution without the property predates recorded reasons."""
    return canonical_json([{"code": r.code, "message": r.message} for r in reasons])


def reasons_value(text: str | None) -> tuple[StepReason, ...] | None:
    if text is None:
        return None
    try:
        return tuple(StepReason(str(r["code"]), str(r["message"])) for r in json.loads(text))
    except (ValueError, TypeError, KeyError):
        return (StepReason("unreadable", text),)


def run_skipped(ctx) -> dict[str, list[str]]:
    """The steps a failure kept from starting in the run, each with the failed steps upstream of it."""
    text = prop(ctx, "skipped")
    try:
        found = json.loads(text) if text else {}
    except ValueError:
        return {}
    return {str(k): [str(a) for a in v] for k, v in found.items() if isinstance(v, list)} if isinstance(found, dict) else {}


def run_owner(ctx):
    """The process that applies the run (a ProcessId), None for a run recorded before it was kept."""
    from zplan.processes import ProcessId

    pid = prop(ctx, "pid")
    return ProcessId(prop(ctx, "host", ""), int(pid), int(prop(ctx, "pid_start", 0))) if pid else None


def run_status(ctx) -> str:
    """The run's status; one still ``running`` whose apply is gone from this machine (killed) reads as
    ``interrupted``, as the next command that writes records it: a reader writes nothing."""
    status = prop(ctx, "status", "running")
    owner = run_owner(ctx) if status == "running" else None
    return "interrupted" if owner is not None and owner.is_gone() else status


def run_applier(ctx) -> Applier:
    return Applier(user=prop(ctx, "user"), ci=prop(ctx, "ci"), ci_url=prop(ctx, "ci_url"))


def run_git(ctx) -> GitInfo:
    return GitInfo(
        commit=prop(ctx, "git_commit"),
        dirty=prop(ctx, "git_dirty"),
        branch=prop(ctx, "git_branch"),
    )


def run_name(number: int) -> str:
    return f"run-{number}"
