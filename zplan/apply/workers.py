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
import multiprocessing
import multiprocessing.connection as mpc
import os
import signal
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from zplan.apply.strays import adopt_orphans, kill_all_below, spoiled
# (callers import these from here)
from zplan.apply.task_failures import TaskCancelled, TaskTimedOut, WorkerDied, describe_exit, format_seconds  # noqa: F401
from zplan.apply.worker import remove_scratch_of
from zplan.apply.worker_launch import WorkerProcess, ensure_forkserver, stop_helper_processes
from zplan.apply.worker_signals import end_orphans_of_ended_workers, live_workers, live_workers_lock, signal_all, signal_below
from zplan.processes import kill_group, wait_groups_gone
from zplan.stdio import fill_closed_standard_streams

STOP_GRACE_SECONDS = 5.0
EARLY_IMPORT_SECONDS = 120.0  # a worker importing for a later step is stopped after this (a step sent to it goes elsewhere)

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
    needs: frozenset[str] = frozenset()  # the libraries (top-level packages) it imports: a worker that has them is preferred
    early: bool = False  # it only imports ``needs``, for a task that comes later (``import_early``)
    speculative: bool = False  # an early import no plan asked for yet: stopped rather than keep a task from a worker


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
    ahead: _Task | None = None  # sent while it runs ``task``: it starts this one as it answers (``_dispatch``)
    loaded: set[str] = field(default_factory=set)  # the ``needs`` of the tasks it ran or runs: libraries it has imported


class WorkerPool:
    """``submit(fn, arg, timeout)`` runs ``fn(arg)`` in a worker process; returns a Future."""

    def __init__(self, size: int, preload: tuple[str, ...] = (), grace: float = STOP_GRACE_SECONDS) -> None:
        self.size = max(1, size)
        self.grace = grace
        self._ctx = multiprocessing.get_context("forkserver")
        if preload:
            self._ctx.set_forkserver_preload(list(preload))
        self._queue: collections.deque[_Task] = collections.deque()
        self._early: collections.deque[_Task] = collections.deque()  # import_early's, placed after the waiting tasks
        self._workers: list[_Worker] = []
        self._lock = threading.Lock()
        self._wake_r, self._wake_w = multiprocessing.Pipe(duplex=False)
        self._closing = False
        self._groups: set[int] = set()  # process groups of ended workers, checked empty at shutdown
        self._thread = threading.Thread(target=self._supervise, name="zplan-workers", daemon=True)
        self._thread.start()
        self._helpers_stop: threading.Thread | None = None

    # -- public ------------------------------------------------------------------------------------------
    def submit(self, fn: Callable[[Any], Any], arg: Any, timeout: float | None = None, needs: frozenset[str] = frozenset()) -> cf.Future:
        task = _Task(fn, arg, timeout, needs=needs)
        with self._lock:
            if self._closing:
                raise RuntimeError("the worker pool is shut down")
            self._queue.append(task)
        self._wake()
        return task.future

    def import_early(self, fn: Callable[[Any], Any], arg: Any, needs: frozenset[str], speculative: bool = False) -> None:
        """Have an idle worker (a new one, while the pool has room) run ``fn(arg)``, which imports ``needs`` for a
        task submitted later with them: that task then goes to this worker, even while it still imports. Nothing is
        done when a worker has them already, or none is free once the waiting tasks have theirs. A ``speculative``
        import (``zplan.apply.early_pool``) is stopped when a task finds no worker, until one not speculative asks
        for the same libraries."""
        with self._lock:
            if self._closing or not needs:
                return
            self._early.append(_Task(fn, arg, EARLY_IMPORT_SECONDS, needs=needs, early=True, speculative=speculative))
        self._wake()

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
        ensure_forkserver()

    def cancel(self, grace: float | None = None) -> None:
        """Without waiting: fail queued tasks, stop running ones (SIGTERM to their process
        groups, SIGKILL ``grace`` seconds later); the pool takes new tasks afterwards."""
        with self._lock:
            if grace is not None:
                self.grace = grace
            dropped = list(self._queue) + [w.ahead for w in self._workers if w.ahead is not None]
            self._queue.clear()
            self._early.clear()
            for w in self._workers:
                w.ahead = None
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
                if self._closing and not self._queue:
                    self._stop_early_imports()
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
            worker = self._free_worker(self._queue[0])
            if worker is None:
                self._stop_a_guess(self._queue[0])
                break
            task = self._queue.popleft()
            if not task.future.running() and not task.future.set_running_or_notify_cancel():  # (running: put back)
                continue
            try:
                worker.tasks.send((task.fn, task.arg))
            except Exception as exc:  # an argument that cannot be pickled, or a worker gone meanwhile
                task.future.set_exception(exc)
                continue
            if worker.task is None:
                self._begin(worker, task)
            else:
                worker.ahead = task
        self._dispatch_early()

    def _dispatch_early(self) -> None:
        """Place import_early's tasks on idle (or new) workers; those no worker is free for are dropped."""
        while self._early:
            task = self._early.popleft()
            if self._closing:
                continue
            usable = [w for w in self._workers if w.stopping_since is None and not w.ending]
            for w in usable if not task.speculative else ():  # the plan asks for a guess's libraries: it is kept
                if w.task is not None and w.task.speculative and task.needs <= w.loaded:
                    w.task.speculative = False
            if self._queue or any(task.needs <= w.loaded for w in usable):
                continue
            worker = next((w for w in usable if w.task is None and w.process.is_alive()), None)
            if worker is None and len(self._workers) < self.size:
                worker = self._spawn()
            if worker is None or not task.future.set_running_or_notify_cancel():
                continue
            try:
                worker.tasks.send((task.fn, task.arg))
            except Exception:
                continue
            self._begin(worker, task)

    def _stop_a_guess(self, task: _Task) -> None:
        """``task`` found no worker: a speculative import that is not for it gives its worker up (the next
        dispatch starts a new one in its place)."""
        for w in self._workers:
            if w.task is not None and w.task.speculative and w.ahead is None and w.stopping_since is None and not w.task.needs <= task.needs:
                self._stop(w, TaskCancelled("not needed: a step needs the worker"))
                return

    def _stop_early_imports(self) -> None:
        """As the pool closes: imports no task will use are stopped, not waited for."""
        for w in self._workers:
            if w.task is not None and w.task.early and w.ahead is None and w.stopping_since is None:
                self._stop(w, TaskCancelled("not needed: the pool is closing"))

    def _free_worker(self, task: _Task) -> _Worker | None:
        """An idle worker, the one with most of the task's ``needs`` loaded (a new one while the pool has fewer than
        its size), or one importing more of them than that and nothing else (``import_early``: the task then
        imports the rest there, not all of them anew elsewhere); else, while more tasks wait
        than the pool has workers, a busy one with no task ahead. A worker given its next task before it
        answers starts it at once, instead of waiting for the answer to reach this thread and the task to
        come back (a millisecond or more a task when the cores are busy). Only with a backlog: a task
        ahead of a long one waits for it, even if another worker becomes free meanwhile."""
        usable = [w for w in self._workers if w.stopping_since is None and not w.ending]
        # the idle worker with most of the task's libraries loaded, else one importing more of them (and nothing else)
        idle = max((w for w in usable if w.task is None and w.process.is_alive()), key=lambda w: len(task.needs & w.loaded), default=None)
        if task.needs and (idle is None or not task.needs <= idle.loaded):
            has = len(task.needs & idle.loaded) if idle is not None else 0
            importing = next((w for w in usable if w.task is not None and w.task.early and w.ahead is None
                              and w.task.needs <= task.needs  # (never to wait for libraries it does not import)
                              and len(task.needs & w.loaded) > has), None)
            if importing is not None:
                return importing
        if idle is not None or len(self._workers) < self.size:
            return idle or self._spawn()
        if len(self._queue) > self.size:
            return next((w for w in usable if w.task is not None and w.ahead is None), None)
        return None

    def _begin(self, w: _Worker, task: _Task) -> None:
        w.task = task
        w.loaded |= task.needs
        w.deadline = time.monotonic() + task.timeout if task.timeout else None

    def _put_back_ahead(self, w: _Worker) -> None:
        """The task sent ahead to a worker that will not start it (it ends, or is stopped) waits for another."""
        if w.ahead is not None:
            self._queue.appendleft(w.ahead)
            w.ahead = None

    def _spawn(self) -> _Worker:
        parent_end, child_end = self._ctx.Pipe(duplex=True)
        alive_r, alive_w = self._ctx.Pipe(duplex=False)
        process = WorkerProcess(target=_worker_main, args=(child_end, alive_r), name="zplan-step-worker", daemon=True)
        with live_workers_lock:
            process.start()
            live_workers.add(process.pid)
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
                    if w.ahead is not None and not w.ending:  # it has started the task sent ahead
                        self._begin(w, w.ahead)
                        w.ahead = None
                    self._put_back_ahead(w)
                    continue
            if not w.process.is_alive():
                w.process.join(0)
                self._put_back_ahead(w)
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
                signal_all(w, signal.SIGKILL)

    def _stop(self, w: _Worker, why: BaseException) -> None:
        """Stop the task running in ``w``: its future fails now, its process group is ended."""
        self._put_back_ahead(w)
        task, w.task, w.deadline = w.task, None, None
        w.stopping_since = time.monotonic()
        signal_all(w, signal.SIGTERM)
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
            signal_below(w, signal.SIGKILL)  # (re-parented elsewhere when the worker ended)
            end_orphans_of_ended_workers(w.process.pid)
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
                signal_all(w, signal.SIGKILL)
                w.process.join()
        for w in list(self._workers):
            self._retire(w)
        wait_groups_gone(self._groups, self.grace)


def _readable(conn: mpc.Connection) -> bool:
    try:
        return conn.poll()
    except (EOFError, OSError):
        return False
