"""The pool an apply starts as it begins to plan: one worker imports what the last apply imported early first,
before any step is submitted, and the runner takes the pool; nothing is guessed without a kept list or for a
pool of one; a pool nobody took is ended."""

from __future__ import annotations

import os

import pytest

from zplan.apply import early_pool
from tests.unit.apply.test_workers_early_imports import _importing, _until


def pid(_: object) -> int:
    return os.getpid()


@pytest.fixture
def cache(tmp_path):
    folder = tmp_path / ".zplan" / "cache"
    folder.mkdir(parents=True)
    yield folder
    early_pool.discard()


def test_the_kept_libraries_are_imported_before_any_step_and_the_runner_takes_that_pool(cache, tmp_path):
    early_pool.remember(cache, ("json", "email.message:Message"))
    early_pool.start(tmp_path, cache, 2)
    pool = early_pool._pool
    _until(lambda: _importing(pool) is not None, "a worker imports the kept libraries")
    importer = _importing(pool)
    assert importer.task.speculative and importer.loaded == {"json", "email"}
    assert early_pool.take(2) is pool and early_pool._pool is None
    try:
        assert pool.submit(pid, None, needs=frozenset({"json", "email"})).result(30) == importer.process.pid
    finally:
        pool.shutdown(cancel=True)


def test_nothing_is_guessed_without_kept_libraries_or_for_one_worker(cache, tmp_path):
    early_pool.start(tmp_path, cache, 2)
    assert early_pool._pool is None
    early_pool.remember(cache, ("json",))
    early_pool.start(tmp_path, cache, 1)
    assert early_pool._pool is None and early_pool.take(1) is None


def test_a_pool_nobody_took_or_of_another_size_is_ended(cache, tmp_path):
    early_pool.remember(cache, ("json",))
    for end in (early_pool.discard, lambda: early_pool.take(3)):
        early_pool.start(tmp_path, cache, 2)
        pool = early_pool._pool
        _until(lambda: pool._workers, "a worker started")
        assert end() is None
        assert early_pool._pool is None and not pool._workers and pool._closing


def test_the_kept_list_is_read_back_and_anything_else_is_no_list(cache, tmp_path):
    assert early_pool.read(cache) == ()
    early_pool.remember(cache, ("sklearn.model_selection:train_test_split", "pandas"))
    assert early_pool.read(cache) == ("sklearn.model_selection:train_test_split", "pandas")
    for text in ("{", '{"a": 1}', '[1, 2]'):
        (cache / early_pool.HINT).write_text(text)
        assert early_pool.read(cache) == ()
    early_pool.remember(tmp_path / "no-such-folder", ("pandas",))  # (a project without a cache folder: nothing kept)
    assert not (tmp_path / "no-such-folder").exists()
