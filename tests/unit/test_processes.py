"""Processes as /proc names them: a command name may hold spaces and parentheses, a zombie has ended."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from zplan.processes import proc_stat, start_ticks

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


def test_a_command_name_with_spaces_and_parentheses_is_read_whole(tmp_path):
    odd = tmp_path / "s) Z 1 ("
    odd.symlink_to("/bin/sleep")
    child = subprocess.Popen([str(odd), "60"])
    try:
        stat = proc_stat(child.pid)
        assert stat is not None and stat.name == "s) Z 1 (" and not stat.ended
        assert stat.ppid == os.getpid() and stat.pgrp == os.getpgrp() and start_ticks(child.pid) == stat.start_ticks
    finally:
        child.kill()
        child.wait()


def test_a_zombie_has_ended_and_a_process_gone_is_none():
    child = subprocess.Popen(["true"])
    while (stat := proc_stat(child.pid)) is not None and not stat.ended:
        time.sleep(0.01)
    assert stat is not None and stat.ended and start_ticks(child.pid) is None  # not reaped yet: a zombie
    child.wait()
    assert proc_stat(child.pid) is None and start_ticks(child.pid) is None
