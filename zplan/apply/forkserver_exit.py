"""Preloaded by the step workers' forkserver, and only there: its exit skips interpreter teardown.

When an apply ends, the worker pool stops the forkserver and waits for it to exit. An ordinary
exit tears down every module the forkserver preloaded (zplan's worker side and what it imports):
~12 ms at the end of every apply, for a process that holds no buffered output and no file to
flush. Only the forkserver's own process exits early: the processes forked from it (step workers,
and whatever a step forks) see the same pid check fail and exit as they always did.
"""

from __future__ import annotations

import atexit
import os


def _exit_at_once(pid: int) -> None:
    if os.getpid() == pid:
        os._exit(0)


atexit.register(_exit_at_once, os.getpid())  # registered last, run first
