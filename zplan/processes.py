"""Which process did something, whether it is still there, and which processes it started.

A pid alone does not name a process (pids are reused), so a process is named by
its host, pid and start time (field 22 of /proc/PID/stat, clock ticks since boot).
Used to close the run of an apply that was killed before it could say so, to find
what a step left running below its worker (``descendants``), and to end a worker's process
group (``kill_group``, ``wait_groups_gone``).
"""

from __future__ import annotations

import os
import signal
import socket
import time
from dataclasses import dataclass
from typing import NamedTuple


@dataclass(frozen=True)
class ProcessId:
    host: str
    pid: int
    start_ticks: int  # 0 where /proc is not there

    @classmethod
    def current(cls) -> "ProcessId":
        import os

        return cls(socket.gethostname(), os.getpid(), start_ticks(os.getpid()) or 0)

    def is_gone(self) -> bool | None:
        """True when it has ended, False while it runs, None when this host cannot tell (another host)."""
        if self.host != socket.gethostname() or self.pid <= 0:
            return None
        started = start_ticks(self.pid)
        return started is None or (self.start_ticks != 0 and started != self.start_ticks)


class ProcStat(NamedTuple):
    """What /proc/PID/stat says of a process."""

    name: str  # the command name (field 2)
    state: str
    ppid: int
    pgrp: int
    start_ticks: int

    @property
    def ended(self) -> bool:
        return self.state in ("Z", "X")  # a zombie has finished its work


def proc_stat(pid: int | str) -> ProcStat | None:
    """/proc/PID/stat read, or None where there is no such process (or no /proc)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            data = f.read()
        end = data.rindex(")")  # the command name may hold spaces and parentheses
        fields = data[end + 2 :].split()
        return ProcStat(data[data.index("(") + 1 : end], fields[0], int(fields[1]), int(fields[2]), int(fields[19]))
    except (OSError, ValueError, IndexError):
        return None


def start_ticks(pid: int) -> int | None:
    """When ``pid`` started, or None when there is no such (live) process."""
    stat = proc_stat(pid)
    return None if stat is None or stat.ended else stat.start_ticks


def descendants(pid: int, through: frozenset[int] = frozenset()) -> list[int]:
    """The processes below ``pid`` in the process tree, parents before their children, zombies
    included; those in ``through`` are left out, but not their children. [] where there is no /proc."""
    found, todo = [], [pid]
    while todo:
        for child in children(todo.pop()):
            if child not in through:
                found.append(child)
            todo.append(child)
    return found


def children(pid: int) -> list[int]:
    """The children of ``pid``: those of each of its threads (a child belongs to the thread that
    forked it); read from /proc, or found by their parent pid where the kernel does not list them."""
    try:
        threads = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []
    found: list[int] = []
    for tid in threads:
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                found += map(int, f.read().split())
        except FileNotFoundError:
            if not os.path.exists(f"/proc/{pid}/task/{tid}"):
                continue  # the thread has ended
            return _children_by_parent(pid)  # a kernel built without CONFIG_PROC_CHILDREN
        except OSError:
            continue
    return found


def _children_by_parent(pid: int) -> list[int]:
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            stat = proc_stat(name)
            if stat is not None and stat.ppid == pid:
                found.append(int(name))
    return found


def kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def wait_groups_gone(groups: set[int], seconds: float) -> None:
    """Until no live process of ``groups`` is left (zombies, which wait for init to reap
    them, do not count)."""
    deadline = time.monotonic() + seconds
    while groups and time.monotonic() < deadline:
        left = _live_groups(groups)
        if not left:
            return
        for pgid in left:
            kill_group(pgid)
        time.sleep(0.01)


def _live_groups(groups: set[int]) -> set[int]:
    live = set()
    try:
        entries = os.listdir("/proc")
    except OSError:  # no /proc: the kernel's answer for the whole group, zombies included
        return {g for g in groups if _group_exists(g)}
    for name in entries:
        if name.isdigit():
            stat = proc_stat(name)
            if stat is not None and not stat.ended and stat.pgrp in groups:
                live.add(stat.pgrp)
    return live


def _group_exists(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except (ProcessLookupError, PermissionError):
        return False
