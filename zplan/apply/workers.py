"""A supervised pool of step worker processes.

``concurrent.futures.ProcessPoolExecutor`` breaks as a whole when one worker dies,
so a step that calls ``os._exit`` or segfaults would fail every sibling running
beside it, and it has no way to stop one task. This pool keeps each worker on its
own pipe, so:

- a worker that dies fails only its own task, with the exit code or signal named,
  and is replaced by a fresh one;
- a task past its timeout is stopped (SIGTERM, then SIGKILL after a grace period)
  together with any processes the step started (each worker leads its own process
  group, and on Linux adopts the orphans below it: what left the group, a daemon in
  a session of its own, is found below the worker and signalled too);
- ``shutdown`` stops everything, and a worker whose parent vanished (``kill -9`` of
  apply) kills what runs below it and its own process group instead of running on
  as an orphan.

Workers are forked from a forkserver that has the worker module imported once, and
live for the whole apply, so a step module is imported once per worker.
"""

from __future__ import annotations

import collections
import concurrent.futures as cf
import contextlib
import multiprocessing
import multiprocessing.connection as mpc
import os
import signal
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from zplan.apply.strays import adopt_orphans, kill_all_below, spoiled
from zplan.apply.worker import remove_scratch_of
from zplan.apply.worker_launch import WorkerProcess, stop_helper_processes
from zplan.processes import children, descendants, kill_group, start_ticks, wait_groups_gone
from zplan.stdio import fill_closed_standard_streams

STOP_GRACE_SECONDS = 5.0

# The workers of every pool of this process (they share the forkserver): what else runs below the
# forkserver was left by a worker that ended (``_end_orphans_of_ended_workers``).
_live_workers: set[int] = set()
_live_workers_lock = threading.Lock()


class WorkerDied(Exception):
    """The process running a task exited before it answered."""

    def __init__(self, exitcode: int | None) -> None:
        self.exitcode = exitcode
        super().__init__(describe_exit(exitcode))


class TaskTimedOut(Exception):
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        super().__init__(f"timed out after {format_seconds(seconds)} and was stopped")


class TaskCancelled(Exception):
    """The pool was shut down while the task waited or ran."""


def describe_exit(exitcode: int | None) -> str:
    if exitcode is None:
        return "the worker process vanished"
    if exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        return f"the step's process was killed by {name}"
    return f"the step's process exited with code {exitcode}"


def format_seconds(seconds: float) -> str:
    if seconds >= 60 and seconds % 60 == 0:
        return f"{seconds / 60:g}m"
    return f"{seconds:g}s"


# -- the worker side ------------------------------------------------------------------------------------


def _worker_main(tasks: mpc.Connection, alive: mpc.Connection) -> None:
    fill_closed_standard_streams()  # (a caller with no stdout: the step's log takes them over anyway)
    # Daemonic to the parent (ended with it), never to the step: multiprocessing refuses children
    # to a daemon, and joblib (scikit-learn's n_jobs) quietly runs on one core in one. What a step
    # leaves running still ends with the worker's process group.
    multiprocessing.current_process().daemon = False
    os.setpgrp()  # the step and whatever it starts can be stopped as one group
    adopt_orphans()  # and what leaves the group is still found below the worker (zplan.apply.strays)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    threading.Thread(target=_die_with_parent, args=(alive,), daemon=True).start()
    while True:
        try:
            message = tasks.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        fn, arg = message
        try:
            reply: tuple[str, Any, bool] = ("ok", fn(arg), spoiled())
        except BaseException as exc:  # report, so the parent fails this task and not the worker
            reply = ("error", _picklable(exc), spoiled())
        tasks.send(reply)
        if reply[2]:  # threads the step left run on here: end now, without waiting for them
            os._exit(0)


def _die_with_parent(alive: mpc.Connection) -> None:
    try:
        alive.recv()  # the parent never writes: this returns only when its end closes
    except (EOFError, OSError):
        pass
    kill_all_below()  # a step's daemon in a session of its own too
    os.killpg(os.getpgrp(), signal.SIGKILL)


def _picklable(exc: BaseException) -> BaseException:
    import pickle

    try:
        pickle.dumps(exc)
        return exc
    except Exception:
        return RuntimeError(f"{type(exc).__name__}: {exc}")


# -- the parent side ------------------------------------------------------------------------------------


@dataclass
class _Task:
    fn: Callable[[Any], Any]
    arg: Any
    timeout: float | None
    future: cf.Future = field(default_factory=cf.Future)


@dataclass
class _Worker:
    process: multiprocessing.process.BaseProcess
    tasks: mpc.Connection
    alive: mpc.Connection  # held open; closing it tells the worker its parent is gone
    task: _Task | None = None
    deadline: float | None = None
    stopping_since: float | None = None  # SIGTERM sent at this time; SIGKILL after the grace period
    below: dict[int, int] = field(default_factory=dict)  # pid -> start ticks of what ran below it when stopped
    ending: bool = False  # its step left threads alive: it ends after its answer and runs no other task


def start_forkserver(preload: tuple[str, ...]) -> None:
    """Start the forkserver the pools of this process fork their workers from, importing ``preload``
    (``WorkerPool.warm``'s work, before a pool exists); not waiting for it to boot."""
    from multiprocessing import forkserver

    multiprocessing.get_context("forkserver").set_forkserver_preload(list(preload))
    forkserver.ensure_running()


class WorkerPool:
    """``submit(fn, arg, timeout)`` runs ``fn(arg)`` in a worker process; returns a Future."""

    def __init__(self, size: int, preload: tuple[str, ...] = (), grace: float = STOP_GRACE_SECONDS) -> None:
        self.size = max(1, size)
        self.grace = grace
        self._ctx = multiprocessing.get_context("forkserver")
        if preload:
            self._ctx.set_forkserver_preload(list(preload))
        self._queue: collections.deque[_Task] = collections.deque()
        self._workers: list[_Worker] = []
        self._lock = threading.Lock()
        self._wake_r, self._wake_w = multiprocessing.Pipe(duplex=False)
        self._closing = False
        self._groups: set[int] = set()  # process groups of ended workers, checked empty at shutdown
        self._thread = threading.Thread(target=self._supervise, name="zplan-workers", daemon=True)
        self._thread.start()
        self._helpers_stop: threading.Thread | None = None

    # -- public ------------------------------------------------------------------------------------------
    def submit(self, fn: Callable[[Any], Any], arg: Any, timeout: float | None = None) -> cf.Future:
        task = _Task(fn, arg, timeout)
        with self._lock:
            if self._closing:
                raise RuntimeError("the worker pool is shut down")
            self._queue.append(task)
        self._wake()
        return task.future

    def shutdown(self, cancel: bool = False, wait: bool = True) -> None:
        """Wait for running tasks (or, with ``cancel``, stop them), then end every worker, the
        forkserver and the resource tracker. Their exit is waited for here, or with ``wait=False``
        on a thread of its own (``wait_closed``): the caller has its last records to write meanwhile.
        Without ``cancel`` that includes the idle workers' exit when no task is left to wait for."""
        if cancel:
            self.cancel()
        with self._lock:
            self._closing = True
            idle = not self._queue and all(w.task is None for w in self._workers)
        self._wake()
        if cancel or wait or not idle:
            self._end_supervision()
        # not a daemon: even a caller that never calls wait_closed waits for it before the process exits
        self._helpers_stop = threading.Thread(target=self._stop_helpers, name="zplan-helpers-stop")
        self._helpers_stop.start()
        if wait:
            self.wait_closed()

    def _end_supervision(self) -> None:
        """Until the supervising thread has ended the workers (and returned)."""
        if self._thread.is_alive() or not self._wake_r.closed:
            self._thread.join()
            self._wake_r.close()
            self._wake_w.close()

    def _stop_helpers(self) -> None:
        self._end_supervision()
        stop_helper_processes()

    def wait_closed(self) -> None:
        """Until the forkserver and the resource tracker have exited (after ``shutdown``)."""
        if self._helpers_stop is not None:
            self._helpers_stop.join()

    def warm(self) -> None:
        """Start the forkserver and resource tracker now, not waiting: they boot while the caller goes on."""
        from multiprocessing import forkserver
        forkserver.ensure_running()

    def cancel(self, grace: float | None = None) -> None:
        """Without waiting: fail queued tasks, stop running ones (SIGTERM to their process
        groups, SIGKILL ``grace`` seconds later); the pool takes new tasks afterwards."""
        with self._lock:
            if grace is not None:
                self.grace = grace
            dropped = list(self._queue)
            self._queue.clear()
            for w in self._workers:
                if w.task is not None:
                    self._stop(w, TaskCancelled("stopped: the apply was interrupted"))
        for task in dropped:
            task.future.set_exception(TaskCancelled("not started: the apply was interrupted"))
        self._wake()

    def pids(self) -> list[int]:
        return [w.process.pid for w in self._workers if w.process.pid is not None]

    # -- supervision -------------------------------------------------------------------------------------
    def _wake(self) -> None:
        try:
            self._wake_w.send_bytes(b"")
        except OSError:
            pass

    def _supervise(self) -> None:
        while True:
            with self._lock:
                self._dispatch()
                done = self._closing and not self._queue and all(w.task is None for w in self._workers)
            if done:
                break
            waitables: list[Any] = [self._wake_r]
            for w in self._workers:
                waitables += [w.tasks, w.process.sentinel]
            for ready in mpc.wait(waitables, timeout=self._next_timer()):
                if ready is self._wake_r:
                    self._drain_wake()
            with self._lock:
                self._collect()
                self._check_timers()
        self._end_workers()

    def _dispatch(self) -> None:
        while self._queue:
            worker = next((w for w in self._workers if w.task is None and w.stopping_since is None and not w.ending
                           and w.process.is_alive()), None)
            if worker is None:
                if len(self._workers) >= self.size:
                    return
                worker = self._spawn()
            task = self._queue.popleft()
            if not task.future.set_running_or_notify_cancel():
                continue
            try:
                worker.tasks.send((task.fn, task.arg))
            except Exception as exc:  # an argument that cannot be pickled, or a worker gone meanwhile
                task.future.set_exception(exc)
                continue
            worker.task = task
            worker.deadline = time.monotonic() + task.timeout if task.timeout else None

    def _spawn(self) -> _Worker:
        parent_end, child_end = self._ctx.Pipe(duplex=True)
        alive_r, alive_w = self._ctx.Pipe(duplex=False)
        process = WorkerProcess(target=_worker_main, args=(child_end, alive_r), name="zplan-step-worker", daemon=True)
        with _live_workers_lock:
            process.start()
            _live_workers.add(process.pid)
        child_end.close()
        alive_r.close()
        worker = _Worker(process, parent_end, alive_w)
        self._workers.append(worker)
        return worker

    def _collect(self) -> None:
        for w in list(self._workers):
            if w.task is not None and _readable(w.tasks):
                try:
                    status, value, w.ending = w.tasks.recv()
                except (EOFError, OSError):
                    pass  # it died while answering: handled as a death below
                else:
                    self._settle(w, value if status == "ok" else None, None if status == "ok" else value)
                    continue
            if not w.process.is_alive():
                w.process.join(0)
                if w.task is not None:
                    self._settle(w, None, WorkerDied(w.process.exitcode))
                self._retire(w)

    def _settle(self, w: _Worker, value: Any, error: BaseException | None) -> None:
        task, w.task, w.deadline = w.task, None, None
        assert task is not None
        if error is None:
            task.future.set_result(value)
        else:
            task.future.set_exception(error)

    def _check_timers(self) -> None:
        now = time.monotonic()
        for w in self._workers:
            if w.deadline is not None and now >= w.deadline and w.stopping_since is None and w.task is not None:
                self._stop(w, TaskTimedOut(w.task.timeout or 0.0))
            elif w.stopping_since is not None and now - w.stopping_since >= self.grace:
                _signal_all(w, signal.SIGKILL)

    def _stop(self, w: _Worker, why: BaseException) -> None:
        """Stop the task running in ``w``: its future fails now, its process group is ended."""
        task, w.task, w.deadline = w.task, None, None
        w.stopping_since = time.monotonic()
        _signal_all(w, signal.SIGTERM)
        if task is not None and not task.future.done():
            task.future.set_exception(why)

    def _next_timer(self) -> float | None:
        now = time.monotonic()
        times = [w.deadline for w in self._workers if w.deadline is not None]
        times += [w.stopping_since + self.grace for w in self._workers if w.stopping_since is not None]
        return max(0.0, min(times) - now) if times else None

    def _retire(self, w: _Worker) -> None:
        """Forget an ended worker; what its step started and left running goes with it, and so does
        the scratch folder of a step that ended with it."""
        self._workers.remove(w)
        for conn in (w.tasks, w.alive):
            conn.close()
        if w.process.pid is not None:
            kill_group(w.process.pid)
            _signal_below(w, signal.SIGKILL)  # (re-parented elsewhere when the worker ended)
            _end_orphans_of_ended_workers(w.process.pid)
            self._groups.add(w.process.pid)
            remove_scratch_of(w.process.pid)

    def _drain_wake(self) -> None:
        while self._wake_r.poll():
            self._wake_r.recv_bytes()

    def _end_workers(self) -> None:
        for w in self._workers:
            try:
                w.tasks.send(None)
            except OSError:
                pass
        deadline = time.monotonic() + self.grace
        for w in self._workers:
            w.process.join(max(0.0, deadline - time.monotonic()))
            if w.process.is_alive():
                _signal_all(w, signal.SIGKILL)
                w.process.join()
        for w in list(self._workers):
            self._retire(w)
        wait_groups_gone(self._groups, self.grace)


def _readable(conn: mpc.Connection) -> bool:
    try:
        return conn.poll()
    except (EOFError, OSError):
        return False


def _end_orphans_of_ended_workers(pid: int) -> None:
    """Kill what runs below the forkserver besides live workers: left by a worker that ended without
    stopping it (one that died under its step), in a session of its own, and adopted by the forkserver."""
    from multiprocessing import forkserver

    with _live_workers_lock:
        _live_workers.discard(pid)
        server = getattr(forkserver._forkserver, "_forkserver_pid", None)
        for orphan in children(server) if server else ():
            if orphan not in _live_workers:
                for stray in (orphan, *descendants(orphan)):
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.kill(stray, signal.SIGKILL)


def _signal_all(w: _Worker, sig: signal.Signals) -> None:
    """``sig`` to the worker's process group and to every process below the worker, in the group or
    not (a session of its own), the latter remembered first: once the worker has ended, they are
    re-parented away from it, and only their pid and start time still name them."""
    if w.process.pid is not None:
        for pid in descendants(w.process.pid):
            ticks = start_ticks(pid)
            if ticks is not None:
                w.below.setdefault(pid, ticks)
    _signal_group(w.process.pid, sig)
    _signal_below(w, sig)


def _signal_below(w: _Worker, sig: signal.Signals) -> None:
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
