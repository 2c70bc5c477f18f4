"""Background syncs as one ``syncfs`` per file system, while the machine has little unwritten."""

from __future__ import annotations

import errno
import os
import threading
import time

import pytest

import zplan.fsutil as fsutil
from zplan.fsutil import BackgroundSync


@pytest.mark.usefixtures("whole_fs_syncs")
def test_a_batch_is_one_sync_of_its_file_system_after_every_add(tmp_path, monkeypatch) -> None:
    release, entered, synced = threading.Event(), threading.Event(), []
    real = fsutil.sync_file_system

    def slow(folder: str):
        if not folder.startswith(str(tmp_path)):
            return real(folder)  # another test's store, still syncing
        entered.set()
        release.wait(10)
        synced.append(folder)
        return real(folder)

    monkeypatch.setattr(fsutil, "sync_file_system", slow)
    monkeypatch.setattr(fsutil, "fsync_path", lambda path: pytest.fail(f"{path} synced alone"))
    syncs = BackgroundSync()
    syncs.add([str(tmp_path / "first")], [str(tmp_path)])  # its sync waits for release: the adds below queue up, one batch
    assert entered.wait(10)  # (taken alone: the thread is not between the adds below)
    for name in ("a", "b", "c"):
        folder = tmp_path / name
        folder.mkdir()
        (folder / "x").write_bytes(b"1")
        syncs.add([str(folder / "x")], [str(folder), str(tmp_path)])
    release.set()
    syncs.wait()
    assert len(synced) == 2  # the first add's batch, then the other three's: one file system each time
    assert all(os.stat(f).st_dev == os.stat(tmp_path).st_dev for f in synced)


def _io_error(folder: str) -> OSError:
    return OSError(errno.EIO, "Input/output error")  # (as sync_file_system reports a failed write)


def _bug(folder: str) -> None:
    raise RuntimeError("a bug")  # (a dead sync thread would leave ``wait`` waiting for ever)


@pytest.mark.usefixtures("whole_fs_syncs")
@pytest.mark.parametrize("sync, error", [(_io_error, OSError), (_bug, RuntimeError)], ids=["failed write", "any exception"])
def test_a_failed_file_system_sync_is_raised_by_wait_stays_raised_and_the_thread_lives_on(tmp_path, monkeypatch, sync, error) -> None:
    calls: list[str] = []
    monkeypatch.setattr(fsutil, "sync_file_system", lambda folder: (calls.append(folder), sync(folder))[1])
    syncs = BackgroundSync()
    syncs.add([str(tmp_path / "x")], [str(tmp_path)])
    with pytest.raises(error, match="Input/output error|a bug"):
        syncs.wait()
    syncs.add([str(tmp_path / "later")], [str(tmp_path)])
    with pytest.raises(error):
        syncs.wait()
    _drained(syncs)
    assert syncs._thread is not None and syncs._thread.is_alive() and len(calls) == 2


@pytest.mark.usefixtures("whole_fs_syncs")
def test_the_real_call_syncs_and_a_folder_removed_since_is_not_an_error(tmp_path) -> None:
    (tmp_path / "x").write_bytes(b"1")
    assert fsutil.sync_file_system(str(tmp_path)) is None
    assert fsutil.sync_file_system(str(tmp_path / "gone")) is None
    syncs = BackgroundSync()
    syncs.add([str(tmp_path / "gone" / "y")], [str(tmp_path / "gone")])
    syncs.wait()


def test_much_unwritten_data_syncs_file_by_file(tmp_path, monkeypatch) -> None:
    """An apply writing gigabytes, or another program's writes, are not waited for whole."""
    monkeypatch.setattr(fsutil, "_unwritten_bytes", lambda: fsutil.WHOLE_FS_DIRTY_MAX + 1)
    monkeypatch.setattr(fsutil, "sync_file_system", lambda folder: pytest.fail("the file system synced whole"))
    synced: list[str] = []
    monkeypatch.setattr(fsutil, "fsync_path", synced.append)
    syncs = BackgroundSync()
    syncs.add([str(tmp_path / "x")], [str(tmp_path)])
    syncs.wait()
    assert synced == [str(tmp_path / "x"), str(tmp_path)]


@pytest.mark.parametrize("system, release", [("Linux", "5.4.0-150-generic"), ("Linux", "4.19.0"), ("Darwin", "23.1.0"), ("Linux", "odd")])
def test_no_whole_file_system_syncs_where_syncfs_does_not_report_errors(monkeypatch, system, release) -> None:
    real = os.uname()
    monkeypatch.setattr(fsutil.os, "uname", lambda: os.uname_result((system, real.nodename, release, real.version, real.machine)))
    assert fsutil._reporting_syncfs() is False


def test_unwritten_bytes_are_read_from_the_kernel() -> None:
    if not os.path.exists("/proc/meminfo"):
        assert fsutil._unwritten_bytes() > fsutil.WHOLE_FS_DIRTY_MAX
    else:  # (what a file it cannot read or parse gives: more than the bar)
        unwritten = fsutil._unwritten_bytes()
        assert unwritten != fsutil.WHOLE_FS_DIRTY_MAX + 1 and unwritten % 1024 == 0


def _drained(syncs: BackgroundSync) -> None:
    """Until the thread took every batch (``wait`` returns at once after an error): none is left to
    meet the next test's patched syncs."""
    deadline = time.monotonic() + 10
    while syncs._done < syncs._added and time.monotonic() < deadline:
        time.sleep(0.01)
