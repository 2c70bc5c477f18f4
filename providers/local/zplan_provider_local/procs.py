"""Starting, recognising and stopping service processes through Linux's /proc.

A pid alone does not name a process: pids are reused. A process is recognised
by its pid *and* its start time (field 22 of /proc/PID/stat, in clock ticks since
boot), recorded when it was started.
"""

from __future__ import annotations

import datetime as _dt
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, Sequence

PROC = Path("/proc")
GONE_STATES = ("Z", "X")  # zombie or dead: no longer serving anything

# Processes started by this interpreter, kept so they can be reaped (no zombies).
_children: dict[int, subprocess.Popen] = {}


@dataclass(frozen=True)
class ProcStat:
    pid: int
    state: str
    pgrp: int
    start_ticks: int


def stat(pid: int) -> ProcStat | None:
    try:
        data = (PROC / str(pid) / "stat").read_text()
    except OSError:  # gone, or /proc is not there
        return None
    # The command name (field 2) may hold spaces and ')': the fields resume after the last ')'.
    rest = data[data.rindex(")") + 2 :].split()
    return ProcStat(pid, rest[0], int(rest[2]), int(rest[19]))


def spawn(argv: Sequence[str], cwd: Path, env: Mapping[str, str], log_file: Path) -> subprocess.Popen:
    """Start detached: its own session (no terminal signals), output to the log file."""
    with open(log_file, "ab") as log:
        proc = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
        )
    _children[proc.pid] = proc
    return proc


def exit_code(pid: int) -> int | None:
    """The exit code of a process this interpreter started, once it has ended."""
    proc = _children.get(pid)
    return None if proc is None else proc.poll()


def _reap(pid: int) -> None:
    proc = _children.get(pid)
    if proc is not None and proc.poll() is not None:
        del _children[pid]


def is_running(pid: int, start_ticks: int | None) -> bool:
    """True when ``pid`` is alive and is the very process started at ``start_ticks``."""
    _reap(pid)
    st = stat(pid)
    if st is None or st.state in GONE_STATES:
        return False
    return start_ticks is None or st.start_ticks == start_ticks


def group_alive(pgid: int) -> bool:
    _reap(pgid)
    with os.scandir(PROC) as entries:
        for entry in entries:
            if entry.name.isdigit():
                st = stat(int(entry.name))
                if st is not None and st.pgrp == pgid and st.state not in GONE_STATES:
                    return True
    return False


def stop(pid: int, start_ticks: int | None, grace: float) -> None:
    """SIGTERM the process (its whole group when it leads one), SIGKILL after ``grace`` s.

    Raises PermissionError when the process belongs to someone else.
    """
    st = stat(pid)
    if st is None or not is_running(pid, start_ticks):
        return  # already gone, or the pid now names another process: leave it alone
    group = st.pgrp == pid  # processes started here lead their own group
    try:
        for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
            if group:
                os.killpg(pid, sig)
            else:  # an imported process that shares its group with others
                os.kill(pid, sig)
            if _wait_until(lambda: not (group_alive(pid) if group else is_running(pid, start_ticks)), wait):
                return
    except ProcessLookupError:
        return
    finally:
        _reap(pid)  # the leader may end as our zombie after the group check


def _wait_until(cond: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    delay = 0.02
    while True:
        if cond():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(delay)
        delay = min(delay * 2, 0.25)


def cmdline(pid: int) -> list[str]:
    raw = (PROC / str(pid) / "cmdline").read_bytes()
    return [part.decode(errors="replace") for part in raw.split(b"\0")[:-1]]


def cwd(pid: int) -> str | None:
    try:
        return os.readlink(PROC / str(pid) / "cwd")
    except OSError:
        return None


def started_at(start_ticks: int) -> str:
    """Wall-clock start time (UTC, ISO-8601) of a process from its start ticks."""
    btime = 0
    for line in (PROC / "stat").read_text().splitlines():
        if line.startswith("btime "):
            btime = int(line.split()[1])
    seconds = btime + start_ticks / os.sysconf("SC_CLK_TCK")
    return _dt.datetime.fromtimestamp(seconds, _dt.timezone.utc).isoformat(timespec="seconds")


def stop_recorded(attrs: Mapping[str, object], grace: float) -> None:
    """Stop the process a resource recorded (``pid``, ``start_ticks``), if any; a process of
    another user is a ProviderError, not a traceback."""
    from zplan.provider import ProviderError

    pid = attrs.get("pid")
    if pid is None:
        return
    try:
        stop(int(pid), attrs.get("start_ticks"), grace)
    except PermissionError:
        raise ProviderError(f"not allowed to stop process {pid}: it belongs to another user") from None
