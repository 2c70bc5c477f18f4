"""What a step leaves running when it ends, stopped before its worker's next step.

A step may start processes that outlive it: a ``Popen`` it never waited for, a server it forgot, a
daemon that forks twice or starts a session of its own (``start_new_session=True``), out of reach of
the worker's process group. On Linux the step worker is their child subreaper: an orphan among them is
re-parented to the worker, not to init, so everything a step started is found below the worker in the
process tree. After each step, what still runs there is stopped (SIGTERM, SIGKILL after a grace period)
and reaped, and the step's log and the apply say so: an apply leaves nothing running, and no step runs
beside what an earlier one left. The worker's own helpers, which a later step uses again, are not the
step's: multiprocessing's forkserver and resource tracker, joblib's (loky's) reusable pool and its
resource tracker (what runs under them is). Elsewhere nothing is adopted and nothing is stopped here.

Threads a step leaves alive (a ``Thread`` not joined, a ``ThreadPoolExecutor`` not shut down, a
library's background thread) would go on in the worker's next step, changing globals, writing files or
holding locks; Python cannot stop a thread, so the worker that ran such a step runs no other: it ends
once it has sent the step's result, and the next step gets a new worker. The threads the worker had
before the step, zplan's own, joblib's reusable pool's, fsspec's event loop (and its executor's), dask's threaded scheduler's and
the idle threads of Beam's shared pool (kept for every step) are not the step's.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time

from zplan.processes import children, descendants, proc_stat

GRACE_SECONDS = 1.0  # between SIGTERM and SIGKILL to what a step left running
SETTLE_SECONDS = 0.2  # a process already on its way out (a Pool closed, not joined) ends by itself first
# a thread on its way out (a server stopped, a pool dropped) ends by itself first: it cannot be told to, and
# under load it may take longer than a process (which is signalled after SETTLE_SECONDS)
THREAD_SETTLE_SECONDS = 1.0
_PR_SET_CHILD_SUBREAPER = 36  # <linux/prctl.h>

_adopting = False  # this process is a step worker and its descendants' subreaper
_spoiled = False  # a step left threads alive in this process: it must run no other step


def adopt_orphans() -> None:
    """Make this process (a step worker) the child subreaper of everything it starts, on Linux."""
    global _adopting
    _adopting = _subreaper()


def adopt_workers_orphans() -> None:
    """In the workers' forkserver: what a worker that died (``os._exit``, a segfault) left running
    is re-parented here, not to init, so that the pool still finds and ends it. The forkserver's
    loop reaps them when they end, warning of each as an unexpected pid: not news here."""
    import warnings

    if _subreaper():
        warnings.filterwarnings("ignore", message="forkserver: waitpid returned unexpected pid")


def _subreaper() -> bool:
    """Whether this process is now its descendants' child subreaper (the setting is not inherited
    by a fork). ``ctypes`` is preloaded by the workers' forkserver: importing it costs ~5 ms a process."""
    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    try:
        return ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def stop_left_running(grace: float = GRACE_SECONDS) -> list[str]:
    """Stop and reap what the step that just ended left running below this worker; what it was
    ("sleep (pid 1234)"). Nothing outside a step worker that adopts orphans."""
    if not _adopting or not _has_children():
        return []
    helpers = _helpers()
    left = _running_after(helpers, SETTLE_SECONDS)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if not left or _signalled_until_ended(helpers, sig, grace):
            break
    _reap(helpers)
    return [f"{name} (pid {pid})" for pid, name in left.items()]


def left_running_message(left: list[str] | tuple[str, ...]) -> str:
    count = f"{len(left)} process{'es' if len(left) > 1 else ''}"
    return f"the step left {count} running when it ended, stopped now: {', '.join(left)}"


def threads_now() -> frozenset[threading.Thread]:
    """The threads alive now, to tell after a step which ones it started (~1 us)."""
    return frozenset(threading.enumerate())


def threads_left(before: frozenset[threading.Thread], settle: float = THREAD_SETTLE_SECONDS) -> list[str]:
    """The threads started since ``before`` and still alive ("Thread-1 (poll)"), after up to
    ``settle`` seconds for those on their way out (a pool the step dropped without shutting it down).
    When there are any, this process is spoiled for another step (``spoiled``)."""
    global _spoiled
    left = _new_threads(before)
    if not left:
        return []
    deadline = time.monotonic() + settle
    for thread in left:
        thread.join(max(0.0, deadline - time.monotonic()))
    left = [t for t in left if t.is_alive()]
    _spoiled = _spoiled or bool(left)
    return [t.name for t in left]


def left_threads_message(left: list[str] | tuple[str, ...]) -> str:
    count = f"{len(left)} thread{'s' if len(left) > 1 else ''}"
    return (f"the step left {count} running when it ended, which cannot be stopped: its worker ends after it, and the "
            f"next step starts in a new one: {', '.join(left)}")


def spoiled() -> bool:
    """Whether a step left this process unfit for another step (threads alive, a materializer an installed
    library registered): it must then end, and the next step starts in a new worker."""
    return _spoiled


def spoil() -> None:
    global _spoiled
    _spoiled = True


def _new_threads(before: frozenset[threading.Thread]) -> list[threading.Thread]:
    """Threads started since ``before``, alive, and not kept by zplan or joblib for every step. A
    thread started outside Python (``_DummyThread``) is left out: Python cannot tell whether it still runs."""
    new = [t for t in threading.enumerate() if t not in before and not isinstance(t, threading._DummyThread)]
    if not new:
        return new
    kept = _helper_threads()
    return [t for t in new if t not in kept and not t.name.startswith("zplan-")]


def _helper_threads() -> set[object]:
    """The threads a library keeps for every step in this worker: joblib's (loky's) reusable pool's,
    fsspec's event loop and its executor (S3 and GCS calls, an artifact store's among them), the idle ones of Beam's
    shared pool (a Beam pipeline on this machine's runner leaves them waiting for the next) and dask's
    threaded scheduler's."""
    fsspec = sys.modules.get("fsspec.asyn")
    threads: set[object] = set((getattr(fsspec, "iothread", None) or [None])[:1])
    # and its loop's default executor's (asyncio_0...: an S3 client's blocking calls run there)
    loop = (getattr(fsspec, "loop", None) or [None])[0]
    threads.update(getattr(getattr(loop, "_default_executor", None), "_threads", ()))
    for pool in ("joblib.externals.loky.reusable_executor", "loky.reusable_executor"):
        executor = getattr(sys.modules.get(pool), "_executor", None)
        threads.add(getattr(executor, "_executor_manager_thread", None))
        threads.add(getattr(getattr(executor, "_call_queue", None), "_thread", None))
    beam = getattr(sys.modules.get("apache_beam.utils.thread_pool_executor"), "_SHARED_UNBOUNDED_THREAD_POOL_EXECUTOR", None)
    threads.update(t for t in list(getattr(beam, "_workers", ())) if getattr(t, "_work_item", True) is None)  # (None: idle)
    dask = sys.modules.get("dask.threaded")  # the pools of dask's threaded scheduler, kept for its next compute()
    for pool in (getattr(dask, "default_pool", None), *(p for by_size in dict(getattr(dask, "pools", {})).values()
                                                         for p in dict(by_size).values())):
        threads.update(getattr(pool, "_threads", ()))
    return threads


def kill_all_below() -> None:
    """SIGKILL to every process below this worker, at once (its parent is gone: no grace). Repeated,
    as a killed process's children are re-parented to this one."""
    for _ in range(100):
        live = _running(frozenset())
        if not live:
            return
        _signal(live, signal.SIGKILL)
        time.sleep(0.01)


def _has_children() -> bool:
    """Whether this process has a child, ended or not: one system call, where listing them reads a
    file of /proc per thread (~50 us each). Without a child there is nothing below it (an orphan
    further down would have been re-parented here)."""
    try:
        os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return False
    return True


def _running_after(helpers: frozenset[int], seconds: float) -> dict[int, str]:
    """What still runs below this worker after up to ``seconds`` (at once when nothing does)."""
    deadline = time.monotonic() + seconds
    while True:
        _reap(helpers)
        left = _running(helpers)
        if not left or time.monotonic() >= deadline:
            return left
        time.sleep(0.01)


def _signalled_until_ended(helpers: frozenset[int], sig: signal.Signals, seconds: float) -> bool:
    """``sig`` to each process running below this worker (its helpers excepted), also to those that
    come up meanwhile (a killed process's children, re-parented here); whether all ended in ``seconds``."""
    deadline, signalled = time.monotonic() + seconds, set()
    while True:
        left = _running(helpers)
        _signal({pid: n for pid, n in left.items() if pid not in signalled}, sig)
        signalled |= left.keys()
        _reap(helpers)
        if not left:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.01)


def _running(helpers: frozenset[int]) -> dict[int, str]:
    """The processes below this one that still run (zombies have ended), by pid, with their names."""
    found = {}
    for pid in descendants(os.getpid(), helpers):
        name = _running_name(pid)
        if name is not None:
            found[pid] = name
    return found


def _running_name(pid: int) -> str | None:
    """The command name of ``pid``, None when it has ended (a zombie, or gone)."""
    stat = proc_stat(pid)
    return None if stat is None or stat.ended else stat.name


def _signal(pids: dict[int, str], sig: signal.Signals) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def _reap(helpers: frozenset[int]) -> None:
    """Collect the exit status of this worker's ended children: multiprocessing's through their
    ``Process`` objects, the others (orphans adopted here, a ``Popen`` never waited for) by pid. A
    helper's is its owner's to collect (multiprocessing looks for its forkserver's exit itself)."""
    import multiprocessing

    multiprocessing.active_children()
    for pid in children(os.getpid()):
        if pid not in helpers and _running_name(pid) is None:
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:  # reaped meanwhile (SIGCHLD ignored by the step, or its owner)
                pass


def _helpers() -> frozenset[int]:
    """The processes this worker keeps for every step, where a step started them."""
    pids: list[object] = []
    forkserver = sys.modules.get("multiprocessing.forkserver")
    pids.append(getattr(getattr(forkserver, "_forkserver", None), "_forkserver_pid", None))
    for tracker in ("multiprocessing.resource_tracker", "joblib.externals.loky.backend.resource_tracker",
                    "loky.backend.resource_tracker"):
        pids.append(getattr(getattr(sys.modules.get(tracker), "_resource_tracker", None), "_pid", None))
    for pool in ("joblib.externals.loky.reusable_executor", "loky.reusable_executor"):
        executor = getattr(sys.modules.get(pool), "_executor", None)
        pids += list(getattr(executor, "_processes", None) or ())
    return frozenset(p for p in pids if isinstance(p, int))
