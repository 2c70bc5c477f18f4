"""Steps that crash, hang or get interrupted, driven through the real `zplan apply`.

A crashing step fails alone (its exit code or signal named) while its running sibling
finishes; a step past its timeout is stopped with its children; Ctrl-C and SIGTERM stop
the apply, record the run as interrupted and exit 130 / 143. After each, no process the
apply started is left running.
"""

from __future__ import annotations

import json
import signal

import pytest

from tests.cli.helpers import TESTDATA, Project, copy_project
from tests.cli.procs import descendants, left_alive, noted, pids_noted, start_zplan, wait_for


@pytest.fixture
def project(tmp_path) -> Project:
    return copy_project(TESTDATA / "misbehaving", tmp_path / "misbehaving")


def _lines(text: str, *needles: str) -> list[int]:
    """The line number of the first line holding each needle."""
    lines = text.splitlines()
    found = []
    for needle in needles:
        found.append(next(i for i, line in enumerate(lines) if needle in line))
    return found


@pytest.mark.parametrize("mode, named", [("exit", "exited with code 7"), ("segfault", "killed by SIGSEGV")])
def test_a_crashing_step_fails_alone_and_its_sibling_finishes(project, mode, named):
    result = project.run("apply", "-auto-approve", "-var", f"mode={mode}", "-var", "slow_seconds=1.5")
    assert result.code == 1, str(result)
    assert "Traceback" not in result.err
    assert f"pipeline.p.step.bad: FAILED after" in result.out and named in result.out, str(result)
    assert "Apply failed: 2 ok, 1 failed, 1 skipped." in result.out and "complete" not in result.out, str(result)  # not "complete", as Terraform
    assert "pipeline.p.step.slow: done in" in result.out, "the running sibling finished normally"
    assert "step.after_bad: skipped (an upstream step failed)" in result.out
    failed_at, slow_done = _lines(result.out, "step.bad: FAILED", "step.slow: done")
    assert failed_at < slow_done, "the crash is reported as soon as it happens, not after the sibling"
    records = project.step_records()
    assert records["slow"]["status"] == "succeeded" and records["bad"]["status"] == "failed"
    assert named in records["bad"]["error"]
    assert not left_alive(pids_noted(project.root), 5)
    shown = project.ok("runs", "show", "1").out  # never an execution, yet part of the run
    assert "pipeline.p.step.after_bad  skipped (not started: upstream pipeline.p.step.bad failed)" in shown, shown


def test_a_step_past_its_timeout_is_stopped_with_its_children(project):
    result = project.run("apply", "-auto-approve", "-var", "mode=hang_with_child", "-var", "slow_seconds=0")
    assert result.code == 1, str(result)
    assert "pipeline.p.step.bad: FAILED after" in result.out
    assert "timed out after 2s and was stopped" in result.out, str(result)
    assert noted(project.root) == {"fast", "slow", "bad", "child"}
    assert not left_alive(pids_noted(project.root)), "the step and the process it started are gone when apply returns"


def test_the_stack_step_timeout_applies_to_steps_without_their_own(project):
    project.replace("main.zp.hcl", 'step_timeout   = "30s"', 'step_timeout   = "1s"')
    result = project.run("apply", "-auto-approve", "-var", "slow_seconds=30", "-var", "mode=ok")
    assert result.code == 1, str(result)
    assert "pipeline.p.step.slow: FAILED after" in result.out and "timed out after 1s" in result.out, str(result)
    assert "pipeline.p.step.after_bad: done" in result.out


@pytest.mark.parametrize("value", ['"soon"', '"-5m"', "0", "true"])
def test_a_bad_stack_step_timeout_is_a_plan_error_at_its_line(project, value):
    project.replace("main.zp.hcl", 'step_timeout   = "30s"', f"step_timeout   = {value}")
    result = project.run("plan")
    assert result.code == 1 and "Traceback" not in result.err, str(result)
    assert "main.zp.hcl:17" in result.err and "step_timeout" in result.err, str(result)


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_an_interrupted_apply_stops_its_steps_records_what_finished_and_exits(project, sig, code):
    apply = start_zplan(project.root, "apply", "-auto-approve", "-var", "mode=hang_with_child", "-var", "slow_seconds=60")
    # wait until the hanging step and its child run, beside the slow sibling
    wait_for(lambda: {"slow", "child"} <= noted(project.root) or apply.poll() is not None, what="the steps to start")
    started = descendants(apply.pid) | pids_noted(project.root)
    assert len(started) >= 5  # forkserver, workers, the step's child...
    apply.send_signal(sig)
    out, err = apply.communicate(timeout=60)
    assert apply.returncode == code, f"{out}\n{err}"
    assert f"Apply interrupted ({sig.name}): 1 ok, 2 stopped, 1 skipped." in out, out
    assert f"interrupted by {sig.name}" in err and "Traceback" not in err
    assert f"pipeline.p.step.slow: stopped after" in out and f"(the apply was interrupted by {sig.name})" in out, out
    assert not left_alive(started), "no process of the apply outlives it"
    # state holds what finished; the run is recorded as interrupted; the lock is free
    records = Project(project.root).step_records()
    assert records["fast"]["status"] == "succeeded" and "slow" not in records and "bad" not in records
    runs = project.ok("runs")
    assert " interrupted " in runs.out, str(runs)
    again = project.ok("apply", "-auto-approve", "-var", "mode=ok", "-var", "slow_seconds=0")
    assert "pipeline.p.step.fast: cached" in again.out and "Apply complete" in again.out


def test_a_killed_apply_leaves_no_process_and_its_run_is_closed(project):
    apply = start_zplan(project.root, "apply", "-auto-approve", "-var", "mode=hang_with_child", "-var", "slow_seconds=60")
    wait_for(lambda: {"slow", "child"} <= noted(project.root) or apply.poll() is not None, what="the steps to start")
    started = descendants(apply.pid) | pids_noted(project.root)
    apply.kill()
    apply.communicate(timeout=30)
    assert not left_alive(started, 10), "workers, their children, the forkserver and resource tracker end with apply"
    runs = project.ok("runs")
    assert " interrupted " in runs.out and " running " not in runs.out, str(runs)
    result = project.ok("apply", "-auto-approve", "-var", "mode=ok", "-var", "slow_seconds=0")
    assert "Apply complete" in result.out
    assert json.loads(project.ok("output", "-json").out)["slow"]["value"] == "slow finished"
