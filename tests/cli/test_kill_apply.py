"""`kill -9` of apply at moments hypothesis chooses: afterwards state, artifacts and outputs
are consistent, no process of the killed apply is left, and the next apply succeeds.

Each example continues from the previous one's project (a new value of var.c makes the
steps run again), so twenty kills cost about half a minute.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from urllib.parse import urlparse

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.cli.helpers import TESTDATA, Project, copy_project
from tests.cli.procs import left_alive, marked, start_zplan

SUM_OF_NUMBERS = 10.5  # tests/testdata/pipeline/data/numbers.txt
MARK = "ZPLAN_TEST_KILLED_APPLY"


@pytest.fixture(scope="module")
def crash_project(tmp_path_factory) -> dict:
    project = copy_project(TESTDATA / "pipeline", tmp_path_factory.mktemp("kills") / "pipeline")
    project.apply("-var", "c=1")
    return {"project": project, "c": 1}


def _expected_total(c: int) -> float:
    return round(SUM_OF_NUMBERS * c, 6)


def _check_consistent(project: Project, totals: set[float]) -> None:
    """What a killed apply leaves: whole JSON, records whose artifacts exist, outputs of a whole apply."""
    state = json.loads(project.read(".zplan/state.json"))
    for store in state["stores"].values():
        records = list(store["steps"].values()) + list(store["cache"].values())
        for record in records:
            for out in record.get("outputs", {}).values():
                assert Path(urlparse(out["uri"]).path).exists(), f"state names a missing artifact {out['uri']}"
    outputs = state["outputs"].get("local", {})
    if outputs:
        assert outputs["total"]["value"] in totals and outputs["count"]["value"] == 4, outputs
    _recorded_in_metadata_too(project, state)


def _recorded_in_metadata_too(project: Project, state: dict) -> None:
    """Every step record in state has its execution in ML Metadata, in the run it names."""
    import zplan

    opened = zplan.open(project.root)
    for store in state["stores"].values():
        for address, record in store["steps"].items():
            if record.get("run") is None:
                continue
            recorded = {e.address for e in opened.run(record["run"]).executions}
            assert address in recorded, f"state names run {record['run']} for {address}, ML Metadata has no execution of it there"


@settings(max_examples=20, derandomize=True, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(delay=st.floats(0.0, 0.6), c=st.integers(2, 10**6), rerun_all=st.booleans())
def test_kill_9_at_any_moment_of_apply(crash_project, delay, c, rerun_all):
    project: Project = crash_project["project"]
    before = crash_project["c"]
    c = c if c != before else c + 1
    mark = uuid.uuid4().hex
    extra = ["-replace", "pipeline.numbers.step.load"] if rerun_all else []
    apply = start_zplan(project.root, "apply", "-auto-approve", "-var", f"c={c}", *extra, **{MARK: mark})
    time.sleep(delay)
    apply.kill()
    apply.communicate(timeout=30)
    assert not left_alive(marked(MARK, mark), 10), "a process of the killed apply is still running"

    _check_consistent(project, {_expected_total(before), _expected_total(c)})
    again = project.apply("-var", f"c={c}")
    assert "Apply complete" in again.out or "No changes" in again.out, str(again)
    crash_project["c"] = c
    _check_consistent(project, {_expected_total(c)})


def test_after_the_kills_outputs_are_the_last_applys_and_no_run_is_left_running(crash_project):
    project = crash_project["project"]
    outputs = json.loads(project.ok("output", "-json").out)
    assert outputs["total"]["value"] == _expected_total(crash_project["c"]) and outputs["count"]["value"] == 4
    runs = project.ok("runs", "-limit", "100")
    assert " running " not in runs.out, str(runs)


KILLER_HCL = """
pipeline "p" {
  step "a" { source = "s.py:a" }
  step "b" {
    source = "s.py:kill_the_apply"
    inputs = { x = step.a.outputs.output }
  }
}
"""

KILLER = '''
import json, os, signal, time


def a() -> int:
    time.sleep(1.2)  # state is written at most once a second: at its end, a write is due
    return 1


def kill_the_apply(x: int) -> int:
    """As soon as state records step a, the apply is killed (kill -9), as a power cut would."""
    for _ in range(1000):
        steps = next(iter(json.load(open(".zplan/state.json"))["stores"].values()), {}).get("steps", {})
        if "pipeline.p.step.a" in steps:
            break
        time.sleep(0.01)
    os.kill(json.load(open(".zplan/state.json.lock"))["pid"], signal.SIGKILL)
    time.sleep(30)
    return 2
'''


def test_a_step_recorded_in_state_is_in_ml_metadata_when_the_apply_is_killed_at_once(tmp_path):
    project = Project(tmp_path / "p")
    project.write("main.zp.hcl", KILLER_HCL)
    project.write("s.py", KILLER)
    mark = uuid.uuid4().hex
    apply = start_zplan(project.root, "apply", "-auto-approve", **{MARK: mark})
    apply.communicate(timeout=60)
    assert apply.returncode == -9
    assert not left_alive(marked(MARK, mark), 10)
    state = json.loads(project.read(".zplan/state.json"))
    assert "pipeline.p.step.a" in next(iter(state["stores"].values()))["steps"]
    _recorded_in_metadata_too(project, state)
