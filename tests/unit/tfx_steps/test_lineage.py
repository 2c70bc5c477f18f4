"""TFX executions written to a real ML Metadata store with TFX's own types (no TFX needed),
and TFX artifacts stored and loaded through zplan's materializer registry."""

from __future__ import annotations

import json
from pathlib import Path

from ml_metadata import metadata_store
from ml_metadata.proto import metadata_store_pb2 as pb

from zplan.artifacts.materializers import get_materializer, materializer_for
from zplan.metadata import MetadataStore
from zplan.tfx.artifact import TfxArtifact
from zplan.tfx.lineage import TfxExecution, record

EXAMPLES_TYPE = {"name": "Examples", "properties": {"span": "INT", "split_names": "STRING", "version": "INT"}, "baseType": "DATASET"}
STATS_TYPE = {"name": "ExampleStatistics", "properties": {"span": "INT", "split_names": "STRING"}, "baseType": "STATISTICS"}
SPLITS = {"properties": {"split_names": {"stringValue": '["train", "eval"]'}, "span": {"intValue": "0"}},
          "customProperties": {"tfx_version": {"stringValue": "1.16.0"}}}


def _record(digest: str, mlmd_type: dict) -> dict:
    return {"digest": digest, "uri": f"file:///store/{digest[:2]}/{digest}", "materializer": "tfx.artifact",
            "meta": {"tfx_type": mlmd_type["name"], "mlmd_type": mlmd_type, "mlmd_artifact": SPLITS}}


def _run(store: MetadataStore, run: int, state: str) -> None:
    examples, stats = _record("ab" * 16, EXAMPLES_TYPE), _record("cd" * 16, STATS_TYPE)
    executions = [
        TfxExecution("pipeline.p.step.gen", "p", "gen", "CsvExampleGen", state, "k1", {"input_config": {"splits": []}},
                     outputs={"examples": examples}),
        TfxExecution("pipeline.p.step.stats", "p", "stats", "StatisticsGen", state, "k2", {"exclude_splits": []},
                     inputs={"examples": examples}, outputs={"statistics": stats}),
    ]
    store.record_with(lambda handle, protos: record(handle, protos, run, executions))


def _reader(path: Path) -> metadata_store.MetadataStore:
    config = pb.ConnectionConfig()
    config.sqlite.filename_uri, config.sqlite.connection_mode = str(path), 1
    return metadata_store.MetadataStore(config)


def test_tfx_types_contexts_and_events_as_tfx_queries_expect(tmp_path):
    store = MetadataStore.from_url("sqlite:///meta.db", tmp_path)
    _run(store, 1, "complete")
    _run(store, 2, "cached")
    store.close()
    mlmd = _reader(tmp_path / "meta.db")

    [examples] = mlmd.get_artifacts_by_type("Examples")  # the same artifact in both runs
    assert examples.uri == f"/store/ab/{'ab' * 16}/data"
    assert examples.properties["split_names"].string_value == '["train", "eval"]'
    assert examples.state == pb.Artifact.LIVE
    assert mlmd.get_artifact_type("Examples").base_type == pb.ArtifactType.DATASET

    stats_type = "tfx.components.statistics_gen.component.StatisticsGen"
    runs = mlmd.get_executions_by_type(stats_type)
    assert [e.last_known_state for e in runs] == [pb.Execution.COMPLETE, pb.Execution.CACHED]
    assert json.loads(runs[0].custom_properties["exclude_splits"].string_value) == []
    assert runs[0].custom_properties["zplan_address"].string_value == "pipeline.p.step.stats"

    events = mlmd.get_events_by_execution_ids([runs[0].id])
    named = {(e.type, e.path.steps[0].key, e.path.steps[1].index) for e in events}
    assert named == {(pb.Event.INPUT, "examples", 0), (pb.Event.OUTPUT, "statistics", 0)}

    run_one = mlmd.get_context_by_type_and_name("pipeline_run", "zplan-p-run-1")
    assert len(mlmd.get_executions_by_context(run_one.id)) == 2
    node = mlmd.get_context_by_type_and_name("node", "p.stats")
    assert len(mlmd.get_executions_by_context(node.id)) == 2
    assert mlmd.get_context_by_type_and_name("pipeline", "p") is not None


def test_a_tfx_artifact_is_stored_and_loaded_through_the_registry(tmp_path):
    files = tmp_path / "made" / "Split-train"
    files.mkdir(parents=True)
    (files / "data.gz").write_bytes(b"examples")
    artifact = TfxArtifact("Examples", tmp_path / "made", EXAMPLES_TYPE, SPLITS)
    materializer = materializer_for(artifact)
    assert materializer.name == "tfx.artifact" and get_materializer("tfx.artifact").name == "tfx.artifact"
    folder = tmp_path / "stored"
    folder.mkdir()
    meta = materializer.save(artifact, folder)
    assert meta["tfx_type"] == "Examples" and meta["mlmd_type"] == EXAMPLES_TYPE
    loaded = materializer.load(folder)
    assert (loaded.path / "Split-train" / "data.gz").read_bytes() == b"examples"
    assert loaded.split_names == ["train", "eval"]
    assert loaded.custom_properties == {"tfx_version": "1.16.0"} and loaded.properties["span"] == 0
