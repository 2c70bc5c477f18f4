"""The tfx-penguin example, applied once cold and once after a preprocessing_fn edit
(the lane's whole TFX cost: about four minutes on two cores), then read back with
TFX's own tooling from the ML Metadata store zplan wrote."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("tfx")

from tests.cli.helpers import Project, copy_project, ran, reasons, steps_by_action  # noqa: E402

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "tfx-penguin"
UPSTREAM = {"data", "examples", "statistics", "schema", "validate"}
DOWNSTREAM = {"transform", "train", "evaluate", "push", "report"}
APPLY_SECONDS = 900  # about two minutes alone on two cores; far more when the machine is busy


@pytest.fixture(scope="module")
def cold(tmp_path_factory) -> tuple[Project, object]:
    project = copy_project(EXAMPLE, tmp_path_factory.mktemp("tfx") / "penguin")
    return project, project.ok("apply", "-auto-approve", timeout=APPLY_SECONDS)


@pytest.fixture(scope="module")
def edited(cold) -> tuple[Project, dict, object]:
    project, _ = cold
    project.replace("penguin_utils.py", "tft.scale_to_z_score(inputs[name])", "tft.scale_to_0_1(inputs[name])")
    doc = project.plan_json()
    return project, doc, project.ok("apply", "-auto-approve", timeout=APPLY_SECONDS)


def test_the_cold_run_runs_every_component_and_blesses_the_model(cold):
    project, result = cold
    assert ran(result) == UPSTREAM | DOWNSTREAM
    assert '"blessed": true' in project.ok("output", "report").out
    assert list((project.root / "serving_model").iterdir())  # the Pusher pushed


def test_a_preprocessing_fn_edit_reruns_transform_and_downstream_only(edited):
    project, doc, result = edited
    assert steps_by_action(doc) == {"run": DOWNSTREAM, "cached": UPSTREAM}
    assert reasons(doc)["transform"] == ["code changed (penguin_utils.preprocessing_fn in penguin_utils.py)"]
    assert ran(result) == DOWNSTREAM
    assert steps_by_action(project.plan_json()) == {"run": set(), "cached": UPSTREAM | DOWNSTREAM}


def test_tfx_tooling_reads_the_runs_from_ml_metadata(edited):
    import tensorflow_model_analysis as tfma
    from ml_metadata import metadata_store
    from ml_metadata.proto import metadata_store_pb2 as pb
    from tfx.types import artifact_utils
    from tfx.utils import io_utils

    project, _, _ = edited
    config = pb.ConnectionConfig()
    config.sqlite.filename_uri, config.sqlite.connection_mode = str(project.root / ".zplan" / "metadata.db"), 1
    store = metadata_store.MetadataStore(config)

    examples_type = store.get_artifact_type("Examples")
    [raw] = [artifact_utils.deserialize_artifact(examples_type, a) for a in store.get_artifacts_by_type("Examples")
             if "transformed_examples" not in _output_names(store, a.id)]
    assert sorted(artifact_utils.decode_split_names(raw.split_names)) == ["eval", "train"]
    assert Path(artifact_utils.get_split_uri([raw], "train")).is_dir()

    [schema] = store.get_artifacts_by_type("Schema")[:1]
    features = {f.name for f in io_utils.SchemaReader().read(io_utils.get_only_uri_in_dir(schema.uri)).feature}
    assert {"species", "body_mass_g"} <= features

    evaluations = store.get_artifacts_by_type("ModelEvaluation")
    assert len(evaluations) == 2 and all(tfma.load_validation_result(e.uri).validation_ok for e in evaluations)

    transforms = store.get_executions_by_type("tfx.components.transform.component.Transform")
    assert [e.last_known_state for e in transforms] == [pb.Execution.COMPLETE, pb.Execution.COMPLETE]
    gens = store.get_executions_by_type("tfx.components.example_gen.csv_example_gen.component.CsvExampleGen")
    assert [e.last_known_state for e in gens] == [pb.Execution.COMPLETE, pb.Execution.CACHED]


def _output_names(store, artifact_id: int) -> set[str]:
    from ml_metadata.proto import metadata_store_pb2 as pb

    events = store.get_events_by_artifact_ids([artifact_id])
    return {e.path.steps[0].key for e in events if e.type == pb.Event.OUTPUT}
