"""Signalling a step worker and everything below it, and ending what a worker that died left below the forkserver."""

from __future__ import annotations

import contextlib
import os
import signal
import threading

from zplan.processes import children, descendants, start_ticks

# The workers of every pool of this process (they share the forkserver): what else runs below the
# forkserver was left by a worker that ended (``end_orphans_of_ended_workers``).
live_workers: set[int] = set()
live_workers_lock = threading.Lock()


def end_orphans_of_ended_workers(pid: int) -> None:
    """Kill what runs below the forkserver besides live workers: left by a worker that ended without
    stopping it (one that died under its step), in a session of its own, and adopted by the forkserver."""
    from multiprocessing import forkserver

    with live_workers_lock:
        live_workers.discard(pid)
        server = getattr(forkserver._forkserver, "_forkserver_pid", None)
        for orphan in children(server) if server else ():
            if orphan not in live_workers:
                for stray in (orphan, *descendants(orphan)):
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.kill(stray, signal.SIGKILL)


def signal_all(w, sig: signal.Signals) -> None:
    """``sig`` to the worker's process group and to every process below the worker, in the group or
    not (a session of its own), the latter remembered first: once the worker has ended, they are
    re-parented away from it, and only their pid and start time still name them."""
    if w.process.pid is not None:
        for pid in descendants(w.process.pid):
            ticks = start_ticks(pid)
            if ticks is not None:
                w.below.setdefault(pid, ticks)
    _signal_group(w.process.pid, sig)
    signal_below(w, sig)


def signal_below(w, sig: signal.Signals) -> None:
    for pid, ticks in w.below.items():
        if start_ticks(pid) == ticks:  # still that process, not another one given its pid
            try:
                os.kill(pid, sig)
            except (ProcessLookupError, PermissionError):
                pass


def _signal_group(pid: int | None, sig: signal.Signals) -> None:
    if pid is None:
        return
    for kill in (os.killpg, os.kill):  # the group if it was made, else the process alone
        try:
            kill(pid, sig)
            return
        except ProcessLookupError:
            continue
        except PermissionError:
            return
