"""While more tasks wait than the pool has workers, a busy worker is sent its next task before it answers.
That task starts as the first answers; a worker that dies, is stopped or ends leaves it to another worker,
where it runs once; without a backlog no task waits behind another."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from zplan.apply.runner import WORKER_PRELOAD
from zplan.apply.workers import TaskCancelled, TaskTimedOut, WorkerDied, WorkerPool


def square(x: int) -> int:
    return x * x


def wait_for(gate: str) -> int:
    deadline = time.monotonic() + 60
    while not os.path.exists(gate) and time.monotonic() < deadline:
        time.sleep(0.01)
    return os.getpid()


def crash_at(gate: str) -> None:
    wait_for(gate)
    os._exit(7)


def spoil_at(gate: str) -> int:
    """Leaves its worker unfit for another task (as a step leaving threads does): the worker ends after it."""
    from zplan.apply.strays import spoil

    spoil()
    return wait_for(gate)


def note(arg: tuple[str, str]) -> int:
    with open(arg[0], "a") as log:
        log.write(arg[1] + "\n")
    return os.getpid()


@pytest.fixture
def one_worker():
    pool = WorkerPool(1, grace=1.0, preload=WORKER_PRELOAD)
    yield pool
    pool.shutdown(cancel=True)


def _with_tasks_behind(pool: WorkerPool, first, arg, log: Path, count: int = 3) -> tuple:
    """``first`` running in the pool's one worker with a task sent ahead; ``count`` tasks noting their name in ``log``."""
    running = pool.submit(first, arg)
    behind = [pool.submit(note, (str(log), f"t{i}")) for i in range(count)]
    deadline = time.monotonic() + 30
    while not (pool._workers and pool._workers[0].ahead is not None) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert pool._workers[0].ahead is not None, "the next task was sent to the busy worker"
    return running, behind


def test_with_a_backlog_a_busy_worker_is_sent_its_next_task_which_runs_once(one_worker, tmp_path):
    log = tmp_path / "log"
    running, behind = _with_tasks_behind(one_worker, wait_for, str(tmp_path / "gate"), log)
    assert len(one_worker._queue) == 2 and not log.exists()  # one ahead, sent but not started
    (tmp_path / "gate").touch()
    pids = {running.result(30), *(f.result(30) for f in behind)}
    assert len(pids) == 1 and log.read_text().split() == ["t0", "t1", "t2"]


def test_the_task_ahead_of_one_whose_worker_dies_runs_in_a_new_worker(one_worker, tmp_path):
    log = tmp_path / "log"
    crashed, behind = _with_tasks_behind(one_worker, crash_at, str(tmp_path / "gate"), log)
    (tmp_path / "gate").touch()
    with pytest.raises(WorkerDied, match="exited with code 7"):
        crashed.result(30)
    assert [f.result(30) for f in behind] and sorted(log.read_text().split()) == ["t0", "t1", "t2"]


def test_the_task_ahead_of_one_past_its_timeout_runs_in_a_new_worker(one_worker, tmp_path):
    log = tmp_path / "log"
    stopped = one_worker.submit(wait_for, str(tmp_path / "never"), timeout=1.0)
    behind = [one_worker.submit(note, (str(log), f"t{i}")) for i in range(3)]
    with pytest.raises(TaskTimedOut):
        stopped.result(30)
    assert [f.result(30) for f in behind] and sorted(log.read_text().split()) == ["t0", "t1", "t2"]


def test_the_task_ahead_of_one_that_spoils_its_worker_runs_in_a_new_worker(one_worker, tmp_path):
    log = tmp_path / "log"
    spoiler, behind = _with_tasks_behind(one_worker, spoil_at, str(tmp_path / "gate"), log)
    (tmp_path / "gate").touch()
    spoiled_pid = spoiler.result(30)
    assert spoiled_pid not in {f.result(30) for f in behind}
    assert sorted(log.read_text().split()) == ["t0", "t1", "t2"]


def test_a_cancel_fails_the_tasks_sent_ahead_which_never_run(one_worker, tmp_path):
    log = tmp_path / "log"
    running, behind = _with_tasks_behind(one_worker, wait_for, str(tmp_path / "never"), log)
    one_worker.cancel()
    for future in (running, *behind):
        with pytest.raises(TaskCancelled):
            future.result(30)
    assert one_worker.submit(square, 3).result(30) == 9  # (the pool takes new tasks)
    assert not log.exists()


def test_without_a_backlog_no_task_waits_behind_a_running_one(tmp_path):
    pool = WorkerPool(2, grace=1.0, preload=WORKER_PRELOAD)
    try:
        long = pool.submit(wait_for, str(tmp_path / "gate"))
        short = [pool.submit(square, i) for i in range(2)]  # (one runs, one waits: no more than the workers)
        assert [f.result(30) for f in short] == [0, 1] and not long.done()
        (tmp_path / "gate").touch()
        long.result(30)
    finally:
        pool.shutdown(cancel=True)
