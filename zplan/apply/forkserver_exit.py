"""Preloaded by the step workers' forkserver: there, its exit skips interpreter teardown, and it
adopts what a worker that died left running (``zplan.apply.strays``).

When an apply ends, the worker pool stops the forkserver and waits for it to exit. An ordinary
exit tears down every module the forkserver preloaded (zplan's worker side and what it imports):
~12 ms at the end of every apply, for a process that holds no buffered output and no file to
flush. Imported anywhere else (a tool importing every module, a test) it does nothing; and the
processes forked from the forkserver (step workers, and whatever a step forks) fail its pid check
and exit as they always did.
"""

from __future__ import annotations

import atexit
import os

from zplan.apply.forkserver_preload import preloaded_by_forkserver


def _exit_at_once(pid: int) -> None:
    if os.getpid() == pid:
        os._exit(0)


if preloaded_by_forkserver():
    atexit.register(_exit_at_once, os.getpid())  # registered last, run first
    from zplan.apply.strays import adopt_workers_orphans

    adopt_workers_orphans()
