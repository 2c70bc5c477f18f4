"""Snapshots published at once and synced on a thread; reflinks where the file system has them."""

from __future__ import annotations

import errno
import fcntl
import importlib
import os
import tempfile
import threading
from pathlib import Path

import pytest

import zplan.fsutil as fsutil
from zplan.apply.step_failures import InputDamaged
from zplan.apply.worker import PathArg, _load_input
from zplan.artifacts import ArtifactStore, file_copy, snapshot
from zplan.artifacts.base import ArtifactStoreError
from zplan.hashing import StatCache, hash_tree

from .helpers import SAMPLE, evicted, make_tree

pytestmark = pytest.mark.usefixtures("per_file_syncs")  # (each sync watched: file by file)

local_module = importlib.import_module("zplan.artifacts.local")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_tree(tmp_path / "proj", {"data/big.bin": os.urandom(3 * 1024 * 1024), **{f"images/{k}": v for k, v in SAMPLE.items()}})


@pytest.fixture
def store(project: Path) -> ArtifactStore:
    return ArtifactStore.from_url("file://.zplan/artifacts", project)


def test_a_snapshot_is_published_before_it_is_synced_and_wait_returns_once_all_is_on_disk(
    project: Path, store: ArtifactStore, held_syncs: tuple[threading.Event, list[str]]
) -> None:
    release, synced = held_syncs
    ref = snapshot(project / "images", store, StatCache(None), sync_later=True)
    assert store.exists(ref.digest) and synced == []  # readable now, on disk later
    waited = threading.Thread(target=store.wait_synced)
    waited.start()
    waited.join(0.2)
    assert waited.is_alive()  # wait_synced blocks while a sync is pending
    release.set()
    waited.join(10)
    folder = ref.folder
    files = {str(folder / rel) for rel in SAMPLE}
    assert files <= set(synced)
    # the folders naming them too: the artifact's own, its sub-folder, the prefix it was renamed into
    assert {str(folder), str(folder / "meta"), str(folder.parent)} <= set(synced)
    assert max(synced.index(f) for f in files) < synced.index(str(folder.parent))


def test_a_put_without_sync_later_syncs_each_file_before_publishing_it(
    project: Path, store: ArtifactStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    order: list[str] = []
    real_fsync, real_rename = os.fsync, os.rename
    monkeypatch.setattr(local_module.os, "fsync", lambda fd: (order.append("fsync"), real_fsync(fd))[1])
    monkeypatch.setattr("zplan.artifacts.base.os.rename", lambda a, b: (order.append("rename"), real_rename(a, b))[1])
    snapshot(project / "images", store, StatCache(None))
    n = len(SAMPLE)
    assert order[:n] == ["fsync"] * n and set(order[n:]) == {"rename"}  # (a new prefix folder: the rename tried twice)


def test_a_put_with_sync_later_does_not_sync_on_the_callers_path(
    project: Path, store: ArtifactStore, monkeypatch: pytest.MonkeyPatch, held_syncs: tuple[threading.Event, list[str]]
) -> None:
    release, synced = held_syncs
    inline: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(local_module.os, "fsync", lambda fd: (inline.append(fd), real_fsync(fd))[1])
    snapshot(project / "images", store, StatCache(None), sync_later=True)
    snapshot(project / "data", store, StatCache(None), sync_later=True)  # a big file: the kernel copy
    assert inline == [] and synced == []
    release.set()
    store.wait_synced()
    assert synced


def test_a_failed_background_sync_stops_whatever_would_record_the_snapshot(
    project: Path, store: ArtifactStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing(path: str) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(fsutil, "fsync_path", failing)
    snapshot(project / "images", store, StatCache(None), sync_later=True)
    with pytest.raises(ArtifactStoreError, match="could not write artifacts to disk.*Input/output error"):
        store.wait_synced()


def test_a_snapshot_stored_here_is_marked_checked_and_one_found_from_an_earlier_process_is_not(
    project: Path, store: ArtifactStore
) -> None:
    first = snapshot(project / "images", store, StatCache(None), sync_later=True)
    assert first.written and snapshot(project / "images", store, StatCache(None)).written  # same process
    later = ArtifactStore.from_url("file://.zplan/artifacts", project)  # another process's view
    assert not snapshot(project / "images", later, StatCache(None)).written
    store.wait_synced()


def test_the_worker_skips_the_rehash_of_a_checked_snapshot_but_still_sees_it_truncated(
    project: Path, store: ArtifactStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    (project / "images" / "big.bin").write_bytes(os.urandom(local_module.MANIFEST_MIN_BYTES))  # kept with a manifest
    ref = snapshot(project / "images", store, StatCache(None))
    hashed: list[str] = []
    real = local_module.hash_file
    monkeypatch.setattr(local_module, "hash_file", lambda p: (hashed.append(str(p)), real(p))[1])
    _load_input(store, "images", PathArg(str(ref.folder), ref.digest, checked=True))
    assert hashed == []  # the parent hashed these bytes in this apply
    _load_input(store, "images", PathArg(str(ref.folder), ref.digest))
    assert len(hashed) == len(SAMPLE) + 1  # any other read rehashes every byte
    victim = ref.folder / "model.bin"
    os.chmod(victim, 0o644)
    victim.write_bytes(b"short")
    with pytest.raises(InputDamaged, match="artifact damaged"):
        _load_input(store, "images", PathArg(str(ref.folder), ref.digest, checked=True))


def _reflink_dir() -> Path | None:
    """A folder on a file system with reflinks: ZPLAN_TEST_REFLINK_DIR (an XFS or Btrfs mount),
    else the system temp folder if its file system clones."""
    candidates = [os.environ.get("ZPLAN_TEST_REFLINK_DIR"), tempfile.gettempdir()]
    for folder in filter(None, candidates):
        with tempfile.TemporaryDirectory(dir=folder) as probe:
            a, b = Path(probe, "a"), Path(probe, "b")
            a.write_bytes(b"x" * 4096)
            with open(a, "rb") as src, open(b, "wb") as dst:
                try:
                    fcntl.ioctl(dst.fileno(), local_module.FICLONE, src.fileno())
                except OSError:
                    continue
            return Path(folder)
    return None


def test_a_big_file_is_cloned_where_the_file_system_has_reflinks(monkeypatch: pytest.MonkeyPatch) -> None:
    where = _reflink_dir()
    if where is None:
        pytest.skip("no file system with reflinks here (set ZPLAN_TEST_REFLINK_DIR to an XFS or Btrfs folder)")
    kernel_copies: list[int] = []
    real = file_copy.copy_in_kernel
    monkeypatch.setattr(file_copy, "copy_in_kernel", lambda *a: (kernel_copies.append(1), real(*a))[1])
    with tempfile.TemporaryDirectory(dir=where) as root:
        src = make_tree(Path(root) / "in", {"big.bin": os.urandom(2 * 1024 * 1024)})
        store = ArtifactStore.from_url("file://store", Path(root))
        cache = StatCache(None)
        cache.tree_hash(src)
        ref = store.put(src, stat_cache=cache, sync_later=True)
        store.wait_synced()
        assert kernel_copies == [] and ref.written
        assert (ref.folder / "big.bin").read_bytes() == (src / "big.bin").read_bytes()
        with open(src / "big.bin", "r+b") as f:  # the clone shares blocks until either side is written
            f.write(b"changed")
        assert store.check(ref.digest) == "intact"


def test_without_reflinks_a_big_file_is_copied_by_the_kernel(project: Path, store: ArtifactStore, monkeypatch: pytest.MonkeyPatch) -> None:
    if _reflink_dir() == Path(tempfile.gettempdir()):
        pytest.skip("this file system has reflinks: the clone is taken instead")
    calls: list[int] = []
    real = os.copy_file_range
    monkeypatch.setattr(local_module.os, "copy_file_range", lambda *a: (calls.append(1), real(*a))[1])
    cache = StatCache(None)
    digest = cache.tree_hash(project / "data")
    ref = store.put(project / "data", stat_cache=cache)
    assert ref.digest == digest == hash_tree(project / "data") and calls
    assert store.check(ref.digest) == "intact"


def test_a_big_kernel_copy_starts_its_writeback_chunk_by_chunk(project: Path, store: ArtifactStore, monkeypatch: pytest.MonkeyPatch) -> None:
    if _reflink_dir() == Path(tempfile.gettempdir()):
        pytest.skip("this file system has reflinks: nothing is copied")
    monkeypatch.setattr(local_module, "WRITEBACK_CHUNK", 1024 * 1024)
    ranges: list[tuple[int, int]] = []
    real = fsutil.start_writeback
    monkeypatch.setattr(file_copy, "start_writeback", lambda fd, off, n: (ranges.append((off, n)), real(fd, off, n))[1])
    ref = store.put(project / "data", stat_cache=StatCache(None), sync_later=True)
    store.wait_synced()
    assert ranges == [(0, 1024 * 1024), (1024 * 1024, 1024 * 1024), (2 * 1024 * 1024, 1024 * 1024)]
    assert store.check(ref.digest) == "intact"


def test_a_snapshot_found_in_the_store_is_synced_too_before_the_apply_records_it(
    project: Path, store: ArtifactStore, held_syncs: tuple[threading.Event, list[str]]
) -> None:
    # Another apply may have published it a moment ago and not synced it yet.
    release, synced = held_syncs
    release.set()
    other = ArtifactStore.from_url("file://.zplan/artifacts", project)
    other.put(project / "images", sync_later=True)
    other.wait_synced()
    synced.clear()
    ref = store.put(project / "images", sync_later=True)
    store.wait_synced()
    assert not ref.written and {str(ref.folder / rel) for rel in SAMPLE} <= set(synced)


def test_a_big_file_out_of_memory_whose_digest_an_earlier_apply_recorded_is_read_once_as_it_is_copied(tmp_path: Path) -> None:
    from zplan.artifacts.base import SourceChanged, SourceFile
    from zplan.fsutil import share_in_memory

    if _reflink_dir() == Path(tempfile.gettempdir()):
        pytest.skip("this file system has reflinks: the clone is taken instead")
    folder = make_tree(tmp_path / "in", {"big.bin": os.urandom(3 * 1024 * 1024 + 7)})
    big = folder / "big.bin"
    store = ArtifactStore.from_url("file://store", tmp_path)
    entries, digest = store.scanned(folder, None)
    entries = [SourceFile(e.rel, e.path, e.digest, e.stat) for e in entries]  # (a digest from a record: not trusted)
    evicted(big)
    ref = store.put_scanned(entries, digest)
    with open(big, "rb") as f:  # its pages read once, for the copy, and dropped (copying then hashing kept them)
        assert share_in_memory(f.fileno(), big.stat().st_size) == 0.0
    assert store.check(ref.digest) == "intact" and (ref.folder / "big.bin").read_bytes() == big.read_bytes()
    # Bytes that no longer match the recorded digest are refused, and nothing is left half-written.
    evicted(big)
    wrong = [SourceFile(e.rel, e.path, "0" * 32, e.stat) for e in entries]
    with pytest.raises(SourceChanged, match="changed while it was being stored"):
        store.put_scanned(wrong, "1" * 32)
    assert not store.path("1" * 32).exists()
