"""An apply of many steps records through a helper process: the same records, errors and run owner as
with the store in the apply's own process, and a helper that dies is an error naming it."""

from __future__ import annotations

import os
import signal
import threading

import pytest

from tests.unit.metadata.scenario import DATA, GIT1, MODEL, SNAP, T0
from tests.unit.plan.inprocess import copy_pipeline, plan
from zplan.apply import recorder
from zplan.apply.applier import Applier
from zplan.diags import DiagnosticError
from zplan.hooks import Recorder
from zplan.metadata import MetadataStore
from zplan.metadata.helper import MetadataHelper
from zplan.state.model import State

URL = "sqlite:///.zplan/metadata.db"


def _record(step: str, state: str, t: float, ins: dict, outs: dict) -> dict:
    return dict(address=f"pipeline.train.step.{step}", pipeline="train", step=step, cache_key=f"key-{step}", params={"seed": 1},
                code_hash=f"code-{step}", state=state, started_at=t, finished_at=t + 1, error=None, inputs=ins, outputs=outs)


def test_a_helper_records_the_run_as_this_process_would_and_the_run_is_this_processs(tmp_path):
    helper = MetadataHelper(URL, tmp_path, None)
    helper.open_for_writing()
    run = helper.start_run("train", "local", GIT1, T0)
    ids = helper.record_executions(run, [_record("load", "complete", T0, {"csv": SNAP}, {"output": DATA}),
                                         _record("train", "complete", T0 + 1, {"data": DATA}, {"output": MODEL})])
    assert len(ids) == 2
    helper.close()
    helper._proc.wait(timeout=30)  # the helper is gone: the run stays this (living) process's
    store = MetadataStore.from_url(URL, tmp_path)
    [summary] = store.runs()
    assert (summary.number, summary.status) == (run, "running")
    detail = store.run_detail(run)
    assert [(e.step, e.state) for e in detail.executions] == [("load", "complete"), ("train", "complete")]
    assert detail.executions[1].inputs["data"].id == detail.executions[0].outputs["output"].id
    store.close()


def test_a_store_that_cannot_open_is_the_same_error_as_here(tmp_path):
    (tmp_path / ".zplan").mkdir()
    (tmp_path / ".zplan" / "metadata.db").write_bytes(b"not a database at all" * 100)
    with pytest.raises(DiagnosticError) as here:
        MetadataStore.from_url(URL, tmp_path).open_for_writing()
    helper = MetadataHelper(URL, tmp_path, None)
    with pytest.raises(DiagnosticError) as there:
        helper.start_run("train", "local", GIT1, T0)  # (the opening's answer comes first)
    helper.close()
    assert there.value.diagnostics == here.value.diagnostics


def test_a_helper_that_dies_is_an_error_naming_it(tmp_path):
    helper = MetadataHelper(URL, tmp_path, None)
    helper.open_for_writing()
    os.kill(helper._proc.pid, signal.SIGKILL)
    with pytest.raises(DiagnosticError, match=r"helper process ended unexpectedly \(killed by signal 9\)"):
        helper.start_run("train", "local", GIT1, T0)


def test_a_helper_outlives_ctrl_c_so_the_apply_can_finish_its_run(tmp_path):
    helper = MetadataHelper(URL, tmp_path, None)
    helper.open_for_writing()
    os.kill(helper._proc.pid, signal.SIGINT)  # as the terminal sends it to every process of the apply
    run = helper.start_run("train", "local", GIT1, T0)
    helper.finish_run(run, "interrupted", T0 + 1)
    helper.close()
    assert [r.status for r in MetadataStore.from_url(URL, tmp_path).runs()] == ["interrupted"]


def test_an_apply_of_many_steps_records_through_a_helper_before_state(tmp_path, monkeypatch):
    monkeypatch.setattr(recorder, "HELPER_MIN_STEPS", 1)
    events: list[str] = []
    lock = threading.Lock()
    real_record = MetadataHelper.record_executions

    def record(self, run, records):
        with lock:
            events.append("lineage")
        return real_record(self, run, records)

    def persist(s: State) -> None:
        with lock:
            events.append("state")

    monkeypatch.setattr(MetadataHelper, "record_executions", record)
    monkeypatch.setattr(MetadataStore, "record_executions", lambda *a: pytest.fail("recorded in the apply's process"))
    root = copy_pipeline(tmp_path)
    state = State()
    made, planner, _ = plan(root, state)
    result = Applier(planner, made, state, persist, Recorder(), parallelism=1).apply()
    assert result.ok and events and events[0] == "lineage"
    store = MetadataStore.from_url(URL, root)
    [summary] = store.runs()
    assert summary.status == "succeeded" and len(store.run_detail(result.run_id).executions) == len(made.steps_to_run)


def test_an_apply_with_a_tfx_step_records_in_its_own_process(monkeypatch):
    from types import SimpleNamespace

    def project(*tfx):
        return SimpleNamespace(config=SimpleNamespace(steps=lambda: [SimpleNamespace(tfx=t) for t in tfx]))

    monkeypatch.setattr(recorder, "HELPER_MIN_STEPS", 2)
    assert recorder.through_helper(project(None, None), 2)
    assert not recorder.through_helper(project(None, None), 1)
    assert not recorder.through_helper(project(None, "StatisticsGen"), 2)  # (recorded with TFX's types: record_with)
