"""A data input's snapshot must hold the bytes its step's cache key was computed from."""

from __future__ import annotations

import pytest

from zplan.apply.runner import StepRefused, same_data
from zplan.hashing import combine
from zplan.plan import model as m


def test_a_folder_snapshot_matches_the_planned_digest_and_a_file_its_name_and_digest():
    same_data(m.DataInput("data/d", "ab" * 16), "ab" * 16, None)
    same_data(m.DataInput("data/x.csv", "cd" * 16), combine([("x.csv", "cd" * 16)]), "x.csv")


def test_other_bytes_than_planned_refuse_the_step_naming_the_input():
    with pytest.raises(StepRefused, match="input data data/x.csv changed as the step started"):
        same_data(m.DataInput("data/x.csv", "cd" * 16), combine([("x.csv", "ef" * 16)]), "x.csv")


def test_the_dask_orchestrator_refuses_a_snapshot_of_other_bytes_than_planned_too(tmp_path):
    from tests.unit.plan.inprocess import plan, write_project
    from zplan.apply.cluster import DaskStepRunner
    from zplan.apply.tracker import RunTracker
    from zplan.hashing import StatCache
    from zplan.state.model import State

    root = write_project(tmp_path, 'pipeline "p" {\n  step "s" {\n    source = "s.py:f"\n    inputs = { x = "data/x.csv" }\n  }\n}\n')
    (root / "s.py").write_text("def f(x):\n    return x.read_text()\n")
    (root / "data").mkdir()
    (root / "data/x.csv").write_text("a\n1\n")
    made, planner, project = plan(root, State())
    (root / "data/x.csv").write_text("a\n2\n")  # new data, after the step's re-plan and before its snapshot
    runner = DaskStepRunner(project, RunTracker(made, planner.apply_inputs().stack_settings), StatCache(tmp_path / "stat"), 1)
    with pytest.raises(StepRefused, match="input data data/x.csv changed as the step started"):
        runner.task(made.step("pipeline.p.step.s"))
