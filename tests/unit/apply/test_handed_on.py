"""DataFrames one step hands to another are stored as Arrow IPC, the pipeline's results as Parquet;
an artifact keeps the materializer that wrote it, so an input stored the other way still loads."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from zplan.apply.applier import Applier
from zplan.apply.worker import ArtifactArg, StepTask, run_step
from zplan.artifacts.store import ArtifactStore
from zplan.plan import model as m
from zplan.state.model import State

from tests.unit.plan.inprocess import plan, write_project

HCL = '''
stack "local" {
  orchestrator   = "local"
  artifact_store = "file://.zplan/artifacts"
  metadata_store = "sqlite:///.zplan/metadata.db"
}

pipeline "frames" {
  step "make" {
    source = "frame_steps.py:make"
  }
  step "double" {
    source = "frame_steps.py:double"
    inputs = { frame = step.make.outputs.output }
  }
  step "count" {
    source = "frame_steps.py:count"
    inputs = { frame = step.make.outputs.output }
  }
}
'''

STEPS = '''import pandas as pd


def make():
    return pd.DataFrame({"x": [1.5, 2.5, 4.0], "k": pd.Categorical(["a", "b", "a"])}, index=pd.Index([10, 20, 30], name="id"))


def double(frame):
    return frame.assign(x=frame["x"] * 2)


def count(frame) -> int:
    return len(frame)
'''

MAKE, DOUBLE, COUNT = "pipeline.frames.step.make", "pipeline.frames.step.double", "pipeline.frames.step.count"


def _project(tmp_path: Path) -> Path:
    root = write_project(tmp_path, HCL)
    (root / "frame_steps.py").write_text(STEPS)
    return root


def _apply(root: Path, state: State):
    return _apply_request(root, state)


def _apply_request(root: Path, state: State, **request):
    made, planner, _ = plan(root, state, **request)
    return made, Applier(planner, made, state, lambda s: None, parallelism=1).apply()


def _stored_files(root: Path, record: dict) -> list[str]:
    folder = ArtifactStore.from_url("file://.zplan/artifacts", root).get(record["digest"])
    return sorted(p.name for p in folder.iterdir())


def test_an_output_another_step_reads_is_arrow_ipc_and_a_result_stays_parquet(tmp_path):
    root = _project(tmp_path)
    state = State()
    made, result = _apply(root, state)
    assert result.ok, result.outcome
    make = state.step_record(made.store_key, MAKE).outputs["output"]
    double = state.step_record(made.store_key, DOUBLE).outputs["output"]
    assert (make["materializer"], _stored_files(root, make)) == ("pandas.arrow", ["frame.arrow"])
    assert (double["materializer"], _stored_files(root, double)) == ("pandas.parquet", ["frame.parquet"])
    again, _, _ = plan(root, state)
    assert {s.action for s in again.steps} == {m.CACHED}  # the new form's version is checked like any other


def test_an_output_applied_alone_with_target_is_stored_as_its_readers_left_out_would_have_it(tmp_path):
    root = _project(tmp_path)
    state = State()
    _apply(root, state)
    made, result = _apply_request(root, state, targets=[MAKE], replace=[MAKE])  # its readers are not in this apply
    assert result.ok and [s.address for s in made.steps] == [MAKE]
    assert state.step_record(made.store_key, MAKE).outputs["output"]["materializer"] == "pandas.arrow"
    again, _, _ = plan(root, state)
    assert {s.address: s.action for s in again.steps} == dict.fromkeys((MAKE, DOUBLE, COUNT), m.CACHED)  # the same artifact: no rerun


def test_an_input_stored_as_parquet_by_an_earlier_version_still_loads(tmp_path, monkeypatch):
    root = _project(tmp_path)
    monkeypatch.chdir(tmp_path)  # the worker changes into the project folder: restore afterwards
    monkeypatch.syspath_prepend(str(root))
    frame = pd.DataFrame({"x": [1.5, 2.5], "k": pd.Categorical(["a", "b"])}, index=pd.Index([10, 20], name="id"))
    folder = tmp_path / "old"
    folder.mkdir()
    table = pa.Table.from_pandas(frame)  # as every DataFrame was written before: Parquet, zstd, zplan's key
    table = table.replace_schema_metadata({**table.schema.metadata, b"zplan.pandas": json.dumps({"freq": None}).encode()})
    pq.write_table(table, folder / "frame.parquet", compression="zstd")
    stored = ArtifactStore.from_url("file://.zplan/artifacts", root).put(folder)
    task = StepTask(
        address=DOUBLE, project_dir=str(root), source_file="frame_steps.py", function="double", params={},
        inputs={"frame": ArtifactArg(stored.digest, "pandas.parquet")}, declared_outputs=None,
        artifact_store_url="file://.zplan/artifacts", run_id=1, log_path=str(tmp_path / "double.log"), handed_on=("output",),
    )
    result = run_step(task)
    assert result.ok, result.error
    out = result.outputs["output"]
    assert out["materializer"] == "pandas.arrow"
    loaded = pd.read_feather(ArtifactStore.from_url("file://.zplan/artifacts", root).get(out["digest"]) / "frame.arrow")
    pd.testing.assert_frame_equal(loaded, frame.assign(x=frame["x"] * 2))


def test_the_task_names_the_outputs_another_step_of_the_plan_reads(tmp_path):
    from zplan.apply.runner import StepRunner
    from zplan.apply.tracker import RunTracker

    root = _project(tmp_path)
    made, planner, project = plan(root, State())
    runner = StepRunner(project, RunTracker(made, planner.apply_inputs().stack_settings), None, 1)
    tasks = {s.address: runner.task(s) for s in made.steps if not s.inputs}
    assert tasks[MAKE].handed_on == ("output",)
    double = dataclasses.replace(made.step(DOUBLE), inputs={})  # its own inputs do not matter, its readers do
    assert runner.task(double).handed_on == ()
