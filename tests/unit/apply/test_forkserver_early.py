"""The worker pool's forkserver starts before the run is recorded when a step will surely run,
so it boots while ML Metadata opens; not when every step to run waits on another's output."""

from __future__ import annotations

import os
import shutil
from multiprocessing import forkserver

from zplan.apply.applier import Applier
from zplan.apply import recorder
from zplan.apply.recorder import RunRecorder
from zplan.apply.worker_launch import stop_helper_processes
from zplan.hooks import Recorder
from zplan.operations import early_start
from zplan.operations.planning import make_plan
from zplan.plan.planner import PlanRequest
from zplan.project import Project
from zplan.state.model import State

from tests.unit.plan.inprocess import copy_pipeline, plan, registry


def _forkserver_pid_when_the_run_opens(monkeypatch) -> list:
    seen: list = []
    real_open = RunRecorder.open_run

    def opening(self, *args, **kwargs):
        seen.append(forkserver._forkserver._forkserver_pid)
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(RunRecorder, "open_run", opening)
    return seen


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_root_step_to_run_starts_the_forkserver_before_the_run_is_recorded(tmp_path, monkeypatch):
    stop_helper_processes()  # none left from an earlier test
    seen = _forkserver_pid_when_the_run_opens(monkeypatch)
    root = copy_pipeline(tmp_path)
    state = State()
    made, planner, _ = plan(root, state)
    assert Applier(planner, made, state, lambda s: None, Recorder(), parallelism=1).apply().ok
    assert len(seen) == 1 and seen[0] is not None
    assert forkserver._forkserver._forkserver_pid is None and not _alive(seen[0])  # stopped with the pool: no orphan


def test_when_only_steps_reading_other_steps_run_the_forkserver_waits_for_the_first_of_them(tmp_path, monkeypatch):
    root = copy_pipeline(tmp_path)
    state = State()
    made, planner, _ = plan(root, state)
    assert Applier(planner, made, state, lambda s: None, Recorder(), parallelism=1).apply().ok
    stop_helper_processes()
    seen = _forkserver_pid_when_the_run_opens(monkeypatch)
    hcl = root / "main.zp.hcl"
    hcl.write_text(hcl.read_text().replace("default = 1.0", "default = 2.0"))
    made, planner, _ = plan(root, state)  # scale (reads load) and total run again
    assert sorted(s.address.rsplit(".", 1)[-1] for s in made.steps_to_run) == ["scale", "total"]
    result = Applier(planner, made, state, lambda s: None, Recorder(), parallelism=1).apply()
    assert result.ok and seen == [None]  # it may still come out cached: no forkserver started for nothing


BIG_INPUT = '''stack "local" {
  orchestrator   = "local"
  artifact_store = "file://.zplan/artifacts"
  metadata_store = "sqlite:///.zplan/metadata.db"
}

pipeline "p" {
  step "size" {
    source = "steps.py:size"
    inputs = { f = "data/big.bin" }
  }
}
'''


def test_an_apply_plan_starts_the_forkserver_as_it_starts_reading_a_big_new_input(tmp_path, monkeypatch):
    """The plan's read of new data is the slow part of a first apply: the workers boot meanwhile.
    A plan made for `zplan plan` starts nothing."""
    monkeypatch.setattr(early_start, "START_MIN_BYTES", 1024 * 1024)  # (64 MiB: too big a file to write here)
    (tmp_path / "data").mkdir()
    (tmp_path / "data/big.bin").write_bytes(os.urandom(2 * 1024 * 1024))
    (tmp_path / "steps.py").write_text("def size(f) -> int:\n    return len(f.read_bytes())\n")
    (tmp_path / "main.zp.hcl").write_text(BIG_INPUT)
    stop_helper_processes()
    try:
        project = Project.open(tmp_path, registry=registry())
        make_plan(project, project.state_backend(), PlanRequest())
        assert forkserver._forkserver._forkserver_pid is None
        assert not (tmp_path / ".zplan/metadata.db").exists()  # a plan writes nothing
        project = Project.open(tmp_path, registry=registry())
        shutil.rmtree(tmp_path / ".zplan/cache", ignore_errors=True)  # the first plan's stat cache: the input is new again
        planned = make_plan(project, project.state_backend(), PlanRequest(), for_apply=True)
        assert [s.action for s in planned.plan.steps] == ["run"]
        assert forkserver._forkserver._forkserver_pid is not None
        # the metadata store was opened (made) meanwhile, for the apply's run to take
        assert (tmp_path / ".zplan/metadata.db").exists() and [k[1] for k in recorder._opened_early] == [project.root]
        result = Applier(planned.planner, planned.plan, planned.state, lambda s: None, Recorder(), parallelism=1).apply()
        assert result.ok and result.run_id == 1 and not recorder._opened_early
    finally:
        stop_helper_processes()
        for _store, git in recorder._opened_early.values():
            git.discard()
        recorder._opened_early.clear()
