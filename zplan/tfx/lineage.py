"""TFX executions in ML Metadata, with TFX's own types, beside zplan's records.

For each TFX step that ran (or was reused from zplan's cache) the applier records,
besides its ``zplan.Step`` execution, what TFX's launcher would have: an execution
of the component's type (``tfx.components.statistics_gen.component.StatisticsGen``)
with its params as custom properties, in TFX's ``pipeline``, ``pipeline_run`` and
``node`` contexts, joined by INPUT/OUTPUT events to artifacts of TFX's types
(``Examples`` with ``split_names``, ``ModelBlessing`` with ``blessed``...), whose uri
is the artifact's files in zplan's content-addressed store. So TFX tooling, and
``ml_metadata`` queries written for TFX, read zplan runs.

Everything comes from the artifact records (their TFX type and properties were
kept when the step stored them): TFX itself is not imported here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlparse

from zplan.tfx.artifact import DATA
from zplan.tfx.specs import COMPONENTS

PIPELINE, PIPELINE_RUN, NODE = "pipeline", "pipeline_run", "node"  # TFX's context types
_STATES = {"complete": "COMPLETE", "cached": "CACHED", "failed": "FAILED", "cancelled": "CANCELED"}


@dataclass(frozen=True)
class TfxExecution:
    address: str
    pipeline: str
    step: str
    component: str  # "StatisticsGen"
    state: str  # complete | cached | failed | cancelled
    cache_key: str
    params: dict[str, Any]
    inputs: dict[str, dict] = field(default_factory=dict)  # input -> the upstream output's record
    outputs: dict[str, dict] = field(default_factory=dict)  # output -> its record (digest, uri, meta)


def is_tfx_record(record: dict | None) -> bool:
    return bool(record) and "mlmd_type" in (record.get("meta") or {})


def record(store, pb, run: int, executions: list[TfxExecution]) -> None:
    """Write ``executions`` of zplan run ``run`` (``store``: a writable MetadataStore, ``pb``: its protos)."""
    for ex in executions:
        contexts = [
            _context(store, pb, PIPELINE, ex.pipeline),
            _context(store, pb, PIPELINE_RUN, f"zplan-{ex.pipeline}-run-{run}"),
            _context(store, pb, NODE, f"{ex.pipeline}.{ex.step}"),
        ]
        artifacts, edges = [], []
        for kind, named in ((pb.Event.INPUT, ex.inputs), (pb.Event.OUTPUT, ex.outputs)):
            for name, rec in sorted(named.items()):
                if not is_tfx_record(rec):
                    continue
                event = pb.Event(type=kind)
                event.path.steps.add().key = name
                event.path.steps.add().index = 0
                edges.append((0, len(artifacts), event))
                artifacts.append(_artifact(store, pb, rec))
        store.put_lineage_subgraph(
            [_execution(store, pb, ex, run)], artifacts, contexts, edges,
            reuse_context_if_already_exist=True, reuse_artifact_if_already_exist_by_external_id=True,
        )


def _context(store, pb, type_name: str, name: str):
    type_id = store.put_context_type(pb.ContextType(name=type_name), can_add_fields=True, can_omit_fields=True)
    return pb.Context(type_id=type_id, name=name)


def _execution(store, pb, ex: TfxExecution, run: int):
    type_name = COMPONENTS[ex.component].class_path
    type_id = store.put_execution_type(pb.ExecutionType(name=type_name), can_add_fields=True, can_omit_fields=True)
    execution = pb.Execution(type_id=type_id, last_known_state=pb.Execution.State.Value(_STATES.get(ex.state, "UNKNOWN")))
    for key, value in ex.params.items():
        _set_value(execution.custom_properties[key], value)
    _set_value(execution.custom_properties["zplan_address"], ex.address)
    _set_value(execution.custom_properties["zplan_cache_key"], ex.cache_key)
    _set_value(execution.custom_properties["zplan_run"], run)
    return execution


def _artifact(store, pb, rec: dict):
    from google.protobuf import json_format

    meta = rec["meta"]
    artifact_type = json_format.ParseDict(meta["mlmd_type"], pb.ArtifactType())
    type_id = store.put_artifact_type(artifact_type, can_add_fields=True, can_omit_fields=True)
    artifact = json_format.ParseDict(meta.get("mlmd_artifact", {}), pb.Artifact())
    artifact.type_id = type_id
    artifact.uri = tfx_uri(rec["uri"])
    artifact.state = pb.Artifact.LIVE
    artifact.external_id = f"zplan-tfx:{rec['digest']}"
    return artifact


def tfx_uri(store_uri: str) -> str:
    """Where TFX finds the artifact's files: a plain path for a local store (as TFX writes
    them), the object-store URL otherwise; in both, the ``data`` folder of the stored artifact."""
    if store_uri.startswith("file://"):
        return unquote(urlparse(store_uri).path).rstrip("/") + "/" + DATA
    return store_uri.rstrip("/") + "/" + DATA


def _set_value(value, python: Any) -> None:
    if isinstance(python, bool) or not isinstance(python, (int, float, str)):
        value.string_value = json.dumps(python, sort_keys=True)
    elif isinstance(python, int):
        value.int_value = python
    elif isinstance(python, float):
        value.double_value = python
    else:
        value.string_value = python
