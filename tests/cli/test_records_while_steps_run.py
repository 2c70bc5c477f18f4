"""State and ML Metadata are written at most once a second, by the apply's main thread while it waits for
running steps: a step that ended less than a second after the last write is recorded about a second later
even while the step after it runs for long (a `kill -9` meanwhile would otherwise cost it its record), and
the write never holds up the start of the steps its end made ready."""

from __future__ import annotations

import json

from tests.cli.helpers import Project

HCL = """
pipeline "p" {
  step "first" { source = "s.py:first" }
  step "second" {
    source = "s.py:second"
    inputs = { x = step.first.outputs.output }
  }
  step "long" {
    source = "s.py:wait_for_the_record_of_second"
    inputs = { x = step.second.outputs.output }
  }
}
"""

STEPS = '''
import json, time


def first() -> int:
    return 1  # its end makes the first write of the apply (one is due at once)


def second(x: int) -> int:
    return x + 1  # ends well within a second of that write: its record waits for the next


def wait_for_the_record_of_second(x: int) -> int:
    """Runs until state on disk records step second, or fails after 20 s."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            steps = next(iter(json.load(open(".zplan/state.json"))["stores"].values()), {}).get("steps", {})
        except (OSError, ValueError):
            steps = {}
        if "pipeline.p.step.second" in steps:
            return x + 1
        time.sleep(0.05)
    raise RuntimeError("step second was not recorded while this step ran")
'''


def test_a_step_is_recorded_while_the_step_after_it_runs(tmp_path):
    project = Project(tmp_path / "p")
    project.write("main.zp.hcl", HCL)
    project.write("s.py", STEPS)
    project.apply()  # (fails if the long step never saw the record)
    state = json.loads(project.read(".zplan/state.json"))
    assert {"pipeline.p.step.first", "pipeline.p.step.second", "pipeline.p.step.long"} <= set(next(iter(state["stores"].values()))["steps"])
