"""Which process did something, and whether it is still there.

A pid alone does not name a process (pids are reused), so a process is named by
its host, pid and start time (field 22 of /proc/PID/stat, clock ticks since boot).
Used to close the run of an apply that was killed before it could say so.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from pathlib import Path


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


def start_ticks(pid: int) -> int | None:
    """When ``pid`` started, or None when there is no such (live) process."""
    try:
        data = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = data[data.rindex(")") + 2 :].split()  # the command name (field 2) may hold spaces
    if fields[0] in ("Z", "X"):  # a zombie has finished its work
        return None
    return int(fields[19])
