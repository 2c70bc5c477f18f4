"""A command started with its standard streams closed (`zplan apply >&-`, a daemon, a cron job
with no terminal) works as with them sent to /dev/null: what it prints is dropped, the exit code
is the same, and no file it opens later takes the free descriptor."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.cli.helpers import Project, cli_env, closing

HCL = """
variable "n" {
  type    = number
  default = 1
}

pipeline "p" {
  step "talk" {
    source = "steps.py:talk"
    params = { n = var.n }
  }
}
"""

STEPS = '''
import os


def talk(n: int) -> int:
    print("talking", n)  # to the step's log, whatever the command's own stdout is
    return n + 1
'''


@pytest.fixture
def project(tmp_path):
    p = Project(tmp_path)
    p.write("main.zp.hcl", HCL)
    p.write("steps.py", STEPS)
    return p


def _closed(project: Project, fds: tuple[int, ...], *args: str) -> subprocess.CompletedProcess:
    """Run the command with ``fds`` closed; stderr is captured unless it is one of them."""
    return subprocess.run(closing(fds, [sys.executable, "-m", "zplan.cli", *args]), cwd=project.root, env=cli_env(), timeout=120,
                          stderr=None if 2 in fds else subprocess.PIPE, text=True)


@pytest.mark.parametrize("fds", [(1,), (0, 1, 2)], ids=["stdout", "all three"])
def test_plan_and_apply_with_closed_streams_exit_as_usual(project, fds):
    assert _closed(project, fds, "plan", "-detailed-exitcode").returncode == 2  # changes: the step is new
    done = _closed(project, fds, "apply", "-auto-approve")
    assert done.returncode == 0, done.stderr
    assert _closed(project, fds, "plan", "-detailed-exitcode").returncode == 0
    assert _closed(project, fds, "plan", "-detailed-exitcode", "-var", "n=2").returncode == 2

    # the step ran and printed to its log; the state and ML Metadata are whole
    (log,) = project.root.glob(".zplan/logs/*/run-*/pipeline.p.step.talk.log")
    assert log.read_text() == "talking 1\n"
    assert "No changes" in project.ok("plan").out
    assert "talk" in project.ok("runs", "show", "1").out


def test_other_commands_with_stdout_closed(project):
    project.apply()
    done = _closed(project, (1,), "state", "list")
    assert done.returncode == 0 and not done.stderr, done.stderr
