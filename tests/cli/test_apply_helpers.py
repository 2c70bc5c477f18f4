"""`zplan apply` forks its step workers' forkserver and resource tracker as it starts
(zplan.apply.forkserver_early): whatever the apply does (runs steps, finds nothing to run, refuses
its configuration), nothing of them is left once it has exited: no process, no socket folder."""

from __future__ import annotations

import os
from pathlib import Path

from tests.cli.helpers import Project, cli_env, zplan


def _running_in(folder: Path) -> list[int]:
    """Live processes working in ``folder`` (a forked helper keeps the apply's working folder)."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if os.readlink(f"/proc/{pid}/cwd") == str(folder):
                found.append(int(pid))
        except OSError:  # gone, or a zombie: no working folder
            continue
    return found


def test_nothing_of_the_helpers_outlives_an_apply(project: Project, short_tmp):
    tmp = short_tmp  # (the forkserver's socket lies there: a short path)
    env = cli_env(TMPDIR=str(tmp))
    for _ in range(2):  # it runs the steps, then finds nothing to run
        done = zplan(project.root, "apply", "-auto-approve", env=env)
        assert done.code == 0, done.err
        assert not list(tmp.glob("zplan-*")), list(tmp.iterdir())
    project.write("broken.zp.hcl", 'pipeline "x" {\n')  # refused before it plans
    done = zplan(project.root, "apply", "-auto-approve", env=env)
    assert done.code == 1 and "broken.zp.hcl" in done.err
    assert not list(tmp.glob("zplan-*")), list(tmp.iterdir())
    assert not _running_in(project.root)
