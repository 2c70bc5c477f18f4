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


def test_a_temporary_folder_too_long_for_a_socket_still_runs_the_steps(project: Project, tmp_path):
    """multiprocessing's forkserver listens on a Unix socket under TMPDIR (at most 107 bytes in all): under a longer
    TMPDIR every step failed with "AF_UNIX path too long". The socket goes to /tmp; the steps keep TMPDIR."""
    long_tmp = tmp_path / ("t" * 90)
    long_tmp.mkdir()
    for command in (["apply"], ["-chdir", str(project.root), "apply"]):  # (forked as it starts; started by multiprocessing)
        done = zplan(project.root if command == ["apply"] else tmp_path, *command, "-auto-approve", "-replace", "pipeline.numbers.step.load",
                     env=cli_env(TMPDIR=str(long_tmp)))
        assert done.code == 0, done.err
        assert "AF_UNIX" not in done.out + done.err and "step.load: done" in done.out, done.out
        assert not _running_in(project.root) and not list(long_tmp.iterdir())
