"""The background syncs: several at once, yet every file before the folders that name it."""

from __future__ import annotations

import errno
import os
import threading

import pytest

import zplan.fsutil as fsutil
from zplan.fsutil import BackgroundSync

pytestmark = pytest.mark.usefixtures("per_file_syncs")  # (each sync watched: file by file)


def test_files_then_folders_deepest_first_each_once_per_batch(monkeypatch) -> None:
    release, entered, synced, lock = threading.Event(), threading.Event(), [], threading.Lock()

    def record(path: str) -> None:
        entered.set()
        release.wait(10)  # a slow disk
        with lock:
            synced.append(path)

    monkeypatch.setattr(fsutil, "fsync_path", record)
    syncs = BackgroundSync()
    blocker = os.path.join(os.sep, "earlier")
    syncs.add([blocker])  # its sync waits for release: both adds below queue up meanwhile, one batch
    assert entered.wait(10)  # (taken alone: the thread is not between the two adds below)
    root = os.path.join(os.sep, "store")
    for digest in ("aa1", "aa2"):
        folder = os.path.join(root, "aa", digest)
        syncs.add([os.path.join(folder, "x"), os.path.join(folder, "sub", "y")],
                  [os.path.join(folder, "sub"), folder, os.path.join(root, "aa"), root])
    release.set()
    syncs.wait()
    synced.remove(blocker)  # (a batch of its own, or the first of the same batch's files)
    assert sorted(synced) == sorted(set(synced))  # the shared prefix and root synced once
    depth = {p: p.count(os.sep) for p in synced}
    files = [p for p in synced if os.path.basename(p) in ("x", "y")]
    assert synced[: len(files)] == files  # every file before any folder
    folders = synced[len(files):]
    assert [depth[p] for p in folders] == sorted((depth[p] for p in folders), reverse=True)


def test_a_failed_sync_is_raised_by_wait_and_stays_raised(monkeypatch) -> None:
    def failing(path: str) -> None:
        if path.endswith("bad"):
            raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(fsutil, "fsync_path", failing)
    syncs = BackgroundSync()
    syncs.add(["/s/good", "/s/bad"], ["/s"])
    with pytest.raises(OSError, match="Input/output error"):
        syncs.wait()
    syncs.add(["/s/later"])
    with pytest.raises(OSError):
        syncs.wait()


def test_a_file_removed_before_its_sync_is_not_an_error(tmp_path) -> None:
    syncs = BackgroundSync()
    kept = tmp_path / "kept"
    kept.write_bytes(b"1")
    syncs.add([str(kept), str(tmp_path / "gone")], [str(tmp_path)])
    syncs.wait()
