"""An idle worker imports a later task's libraries (``import_early``); the task then goes to the worker that
has them, even while it still imports. Imports nobody waits for are stopped as the pool closes; a worker
that dies importing leaves the task to another; no worker is taken from tasks that wait."""

from __future__ import annotations

import os
import time

import pytest

from zplan.apply.runner import WORKER_PRELOAD
from zplan.apply.workers import WorkerDied, WorkerPool
from tests.unit.apply.test_workers_ahead import crash_at, wait_for


def pid(_: object) -> int:
    return os.getpid()


def _until(condition, what: str) -> None:
    deadline = time.monotonic() + 30
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert condition(), what


def _importing(pool: WorkerPool):
    return next((w for w in pool._workers if w.task is not None and w.task.early), None)


@pytest.fixture
def two_workers():
    pool = WorkerPool(2, grace=1.0, preload=WORKER_PRELOAD)
    yield pool
    pool.shutdown(cancel=True)


def test_a_task_waits_for_the_worker_importing_its_libraries_not_for_an_idle_one(two_workers, tmp_path):
    pool, upstream_gate, import_gate = two_workers, tmp_path / "upstream", tmp_path / "imports"
    upstream = pool.submit(wait_for, str(upstream_gate), needs=frozenset({"pandas"}))
    pool.import_early(wait_for, str(import_gate), frozenset({"pandas", "sklearn"}))
    _until(lambda: _importing(pool) is not None, "a second worker imports")
    importer = _importing(pool).process.pid
    upstream_gate.touch()
    first = upstream.result(30)
    later = pool.submit(pid, None, needs=frozenset({"sklearn", "pandas"}))
    time.sleep(0.3)
    assert not later.done(), "the idle worker lacks sklearn: the task waits for the one importing it"
    import_gate.touch()
    assert later.result(30) == importer != first


def test_an_idle_worker_with_the_libraries_is_preferred(two_workers, tmp_path):
    pool = two_workers
    gates = [tmp_path / "a", tmp_path / "b"]
    a = pool.submit(wait_for, str(gates[0]), needs=frozenset({"alpha"}))
    b = pool.submit(wait_for, str(gates[1]), needs=frozenset({"beta"}))
    _until(lambda: len(pool._workers) == 2 and all(w.task for w in pool._workers), "two workers busy")
    for gate in gates:
        gate.touch()
    in_a, in_b = a.result(30), b.result(30)
    _until(lambda: all(w.task is None for w in pool._workers), "both idle")
    assert pool.submit(pid, None, needs=frozenset({"beta"})).result(30) == in_b
    assert pool.submit(pid, None, needs=frozenset({"alpha"})).result(30) == in_a


def test_imports_nobody_waits_for_are_stopped_as_the_pool_closes(tmp_path):
    pool = WorkerPool(2, grace=1.0, preload=WORKER_PRELOAD)
    assert pool.submit(pid, None).result(30)
    pool.import_early(wait_for, str(tmp_path / "never"), frozenset({"torch"}))  # would wait 60 s
    _until(lambda: _importing(pool) is not None, "an idle worker imports")
    t0 = time.monotonic()
    pool.shutdown()
    assert time.monotonic() - t0 < 30 and not pool._workers


def test_a_task_sent_to_a_worker_that_dies_importing_runs_in_another(two_workers, tmp_path):
    pool, gate = two_workers, tmp_path / "gate"
    pool.import_early(crash_at, str(gate), frozenset({"broken"}))
    _until(lambda: _importing(pool) is not None, "a worker imports")
    dying = _importing(pool).process.pid
    later = pool.submit(pid, None, needs=frozenset({"broken"}))
    _until(lambda: _importing(pool) is not None and _importing(pool).ahead is not None, "the task is sent to it")
    gate.touch()
    assert later.result(30) != dying


def test_no_worker_imports_early_for_libraries_a_worker_has_or_while_tasks_wait(tmp_path):
    pool = WorkerPool(1, grace=1.0, preload=WORKER_PRELOAD)
    try:
        gate = tmp_path / "gate"
        busy = pool.submit(wait_for, str(gate), needs=frozenset({"pandas"}))
        pool.import_early(wait_for, str(tmp_path / "never"), frozenset({"sklearn"}))  # no worker free: dropped
        pool.import_early(wait_for, str(tmp_path / "never"), frozenset({"pandas"}))  # one has it
        _until(lambda: not pool._early, "the early imports are placed or dropped")
        gate.touch()
        busy.result(30)
        _until(lambda: all(w.task is None for w in pool._workers), "idle")
        assert len(pool._workers) == 1 and _importing(pool) is None
        with pytest.raises(WorkerDied):  # (the pool still runs tasks as before)
            pool.submit(crash_at, str(gate)).result(30)
    finally:
        pool.shutdown(cancel=True)


def test_a_task_does_not_wait_for_an_import_of_more_than_it_needs(two_workers, tmp_path):
    pool = two_workers
    pool.import_early(wait_for, str(tmp_path / "never"), frozenset({"pandas", "sklearn"}))  # would wait 60 s
    _until(lambda: _importing(pool) is not None, "a worker imports")
    importer = _importing(pool).process.pid
    assert pool.submit(pid, None, needs=frozenset({"pandas"})).result(30) != importer  # a new worker, at once


def test_a_guessed_import_gives_its_worker_up_to_a_task_that_finds_none(two_workers, tmp_path):
    pool, gate = two_workers, tmp_path / "gate"
    pool.import_early(wait_for, str(tmp_path / "never"), frozenset({"sklearn"}), speculative=True)
    _until(lambda: _importing(pool) is not None, "a worker imports the guess")
    guessed = _importing(pool).process.pid
    busy = pool.submit(wait_for, str(gate), needs=frozenset({"pandas"}))  # the second worker
    t0 = time.monotonic()
    other = pool.submit(pid, None, needs=frozenset({"torch"}))
    assert other.result(30) != guessed and time.monotonic() - t0 < 20, "the guess was stopped, not waited for"
    gate.touch()
    busy.result(30)


def test_a_guess_the_plan_asks_for_is_kept(two_workers, tmp_path):
    pool, gate, imports = two_workers, tmp_path / "gate", tmp_path / "imports"
    pool.import_early(wait_for, str(imports), frozenset({"sklearn", "pandas"}), speculative=True)
    _until(lambda: _importing(pool) is not None, "a worker imports the guess")
    guessed = _importing(pool).process.pid
    busy = pool.submit(wait_for, str(gate), needs=frozenset({"pandas"}))
    pool.import_early(wait_for, str(imports), frozenset({"sklearn", "pandas"}))  # the plan's own: confirms the guess
    _until(lambda: not pool._early and not _importing(pool).task.speculative, "confirmed")
    later = pool.submit(pid, None, needs=frozenset({"sklearn", "pandas"}))
    other = pool.submit(pid, None, needs=frozenset({"torch"}))
    time.sleep(0.3)
    assert _importing(pool).process.pid == guessed and not other.done(), "kept: the other task waits its turn"
    imports.touch()
    assert later.result(30) == guessed
    gate.touch()
    busy.result(30)
    other.result(30)


def test_a_task_imports_the_rest_of_its_libraries_where_some_are_being_imported(two_workers, tmp_path):
    """Not all of them anew in another worker: an apply whose only step to run needs pandas and scikit-learn, and
    whose pool was started importing pandas (``zplan.apply.early_pool``), runs it where pandas is being imported."""
    pool, imports = two_workers, tmp_path / "imports"
    pool.import_early(wait_for, str(imports), frozenset({"pandas"}), speculative=True)
    _until(lambda: _importing(pool) is not None, "a worker imports")
    importer = _importing(pool).process.pid
    later = pool.submit(pid, None, needs=frozenset({"pandas", "sklearn"}))
    time.sleep(0.3)
    assert not later.done() and len(pool._workers) == 1, "it waits for that worker"
    imports.touch()
    assert later.result(30) == importer
