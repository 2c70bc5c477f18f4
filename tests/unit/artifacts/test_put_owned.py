"""A step's output folder, built in the store's temp area, is moved into place: hashed once, never
copied; synced before the rename, or left for the caller to sync (``sync_stored``)."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

import zplan.fsutil as fsutil
from zplan.artifacts import ArtifactCorrupted, ArtifactStore, SourceChanged
from zplan.artifacts.base import ArtifactStoreError
from zplan.hashing import hash_tree

from .helpers import SAMPLE, make_tree, read_tree

pytestmark = pytest.mark.usefixtures("per_file_syncs")  # (each sync watched: file by file)

local_module = importlib.import_module("zplan.artifacts.local")
REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def store(tmp_path: Path) -> ArtifactStore:
    return ArtifactStore.from_url("file://.zplan/artifacts", tmp_path)


def test_the_staged_folder_is_moved_into_the_store_and_hashed_once(store, monkeypatch) -> None:
    hashed: list[str] = []
    real_hash = local_module.hash_file
    monkeypatch.setattr(local_module, "hash_file", lambda p: (hashed.append(str(p)), real_hash(p))[1])
    with store.staging() as folder:
        make_tree(folder, SAMPLE)
        inodes = {rel: os.stat(folder / rel).st_ino for rel in SAMPLE}
        expected = hash_tree(folder)
        ref = store.put_owned(folder)
        assert not folder.exists()  # renamed, not copied
    assert ref.digest == expected and ref.written and ref.unsynced == ()
    assert len(hashed) == len(SAMPLE)  # each file read once, to hash it
    stored = store.get(ref.digest, verify=True)
    assert read_tree(stored) == SAMPLE
    assert {rel: os.stat(stored / rel).st_ino for rel in SAMPLE} == inodes  # the same files, not copies
    assert all((stored / rel).stat().st_mode & 0o222 == 0 for rel in SAMPLE)  # read-only
    assert list((store.root / ".tmp").iterdir()) == []  # no temp folder or lock left


def test_the_same_content_already_stored_is_kept_and_the_staged_copy_dropped(store) -> None:
    with store.staging() as folder:
        make_tree(folder, SAMPLE)
        first = store.put_owned(folder)
    with store.staging() as folder:
        make_tree(folder, SAMPLE)
        again = store.put_owned(folder, sync=False)
    assert again.digest == first.digest
    assert again.unsynced == tuple(sorted(SAMPLE, key=_walk_key))  # maybe another process's, still syncing
    assert list((store.root / ".tmp").iterdir()) == []
    assert store.check(first.digest) == "intact"


def _walk_key(rel: str):
    from zplan.artifacts.base import walk_order

    return walk_order(rel)


def test_a_symlink_in_the_staged_folder_is_stored_by_copy(store, tmp_path: Path) -> None:
    target = make_tree(tmp_path / "elsewhere", {"data.bin": b"outside"})
    with store.staging() as folder:
        make_tree(folder, {"a.txt": b"a"})
        os.symlink(target / "data.bin", folder / "link.bin")
        ref = store.put_owned(folder)
    stored = store.get(ref.digest, verify=True)
    assert not (stored / "link.bin").is_symlink() and (stored / "link.bin").read_bytes() == b"outside"
    assert (target / "data.bin").read_bytes() == b"outside"


def test_a_file_written_while_it_is_hashed_is_refused_and_nothing_is_published(store, monkeypatch) -> None:
    real_hash = local_module.hash_file

    def hash_then_someone_writes(path):
        digest = real_hash(path)
        os.chmod(path, 0o644)
        with open(path, "ab") as f:
            f.write(b"late")
        return digest

    monkeypatch.setattr(local_module, "hash_file", hash_then_someone_writes)
    with store.staging() as folder:
        make_tree(folder, {"only.txt": b"first"})
        with pytest.raises(SourceChanged):
            store.put_owned(folder)
    assert store.listing() == []


def test_a_moved_artifact_damaged_later_is_found_when_read(store) -> None:
    with store.staging() as folder:
        make_tree(folder, SAMPLE)
        ref = store.put_owned(folder)
    path = store.path(ref.digest) / "model.bin"
    st = path.stat()
    os.chmod(path, 0o644)
    with open(path, "r+b") as f:
        f.write(b"X")  # same size
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))  # and its mtime put back
    with pytest.raises(ArtifactCorrupted):
        store.get(ref.digest, verify=True)  # how a step's inputs are read
    with open(path, "ab") as f:
        f.write(b"more")
    with pytest.raises(ArtifactCorrupted):
        store.get(ref.digest)  # stamps moved: rehashed


def test_with_sync_each_file_is_synced_before_the_rename(store, monkeypatch) -> None:
    order: list[str] = []
    real_sync, real_rename = local_module.fsync_path, os.rename
    monkeypatch.setattr(local_module, "fsync_path", lambda p: (order.append("fsync"), real_sync(p))[1])
    monkeypatch.setattr("zplan.artifacts.base.os.rename", lambda a, b: (order.append("rename"), real_rename(a, b))[1])
    with store.staging() as folder:
        make_tree(folder, SAMPLE)
        store.put_owned(folder)
    n = len(SAMPLE)
    assert order[:n] == ["fsync"] * n and set(order[n:]) == {"rename"}


def test_without_sync_nothing_syncs_until_the_caller_queues_it_and_wait_covers_it(store, monkeypatch, held_syncs) -> None:
    inline: list[object] = []
    monkeypatch.setattr(local_module.os, "fsync", lambda fd: inline.append(fd))
    monkeypatch.setattr(local_module, "fsync_path", lambda p: inline.append(p))
    release, synced = held_syncs
    with store.staging() as folder:
        make_tree(folder, SAMPLE)
        ref = store.put_owned(folder, sync=False)
    assert inline == [] and synced == [] and set(ref.unsynced) == set(SAMPLE)
    store.sync_stored(ref.digest, ref.unsynced)  # the parent, when the step's result arrives
    waited = threading.Thread(target=store.wait_synced)
    waited.start()
    waited.join(0.2)
    assert waited.is_alive()  # a record naming it waits for its sync
    release.set()
    waited.join(10)
    assert not waited.is_alive()
    folder = store.path(ref.digest)
    files = {str(folder / rel) for rel in SAMPLE}
    assert files <= set(synced)
    assert {str(folder), str(folder / "meta"), str(folder.parent), str(store.root)} <= set(synced)
    assert max(synced.index(f) for f in files) < synced.index(str(folder.parent))


def test_a_failed_sync_of_an_output_is_a_clear_error_when_waited_for(store, monkeypatch) -> None:
    import errno

    def failing(path: str) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(fsutil, "fsync_path", failing)
    with store.staging() as folder:
        make_tree(folder, SAMPLE)
        ref = store.put_owned(folder, sync=False)
    store.sync_stored(ref.digest, ref.unsynced)
    with pytest.raises(ArtifactStoreError, match="could not write artifacts to disk.*Input/output error"):
        store.wait_synced()


_KILLED_WHILE_WRITING = textwrap.dedent(
    """
    import os, sys, time
    from pathlib import Path
    from zplan.artifacts.store import ArtifactStore

    store = ArtifactStore.from_url(sys.argv[1], Path("."))
    with store.staging() as folder:
        (folder / "half.bin").write_bytes(b"x" * 4096)  # a materializer half-way through
        print("writing", flush=True)
        sys.stdin.read()  # until killed
    """
)

_DIES_AFTER_PUBLISHING = textwrap.dedent(
    """
    import os, sys
    from pathlib import Path
    from zplan.artifacts.store import ArtifactStore

    store = ArtifactStore.from_url(sys.argv[1], Path("."))
    with store.staging() as folder:
        (folder / "model.bin").write_bytes(bytes(range(256)) * 4096)
        (folder / "meta").mkdir()
        (folder / "meta" / "info.json").write_bytes(b'{"a": 1}')
        ref = store.put_owned(folder, sync=False)
    print(ref.digest, flush=True)
    os._exit(3)  # a worker killed before its parent synced the output
    """
)


def test_a_worker_killed_while_writing_an_output_leaves_no_artifact_and_the_next_put_cleans_up(store, tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-c", _KILLED_WHILE_WRITING, str(store.root)], cwd=REPO,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "writing"  # the staged file is there, the process alive
    proc.kill()
    proc.wait(30)
    proc.stdin.close()
    proc.stdout.close()
    assert store.listing() == []
    assert len(list((store.root / ".tmp").iterdir())) == 1  # the half-written folder (its lock died with the process)
    with store.staging() as folder:  # the next writer sweeps it
        make_tree(folder, {"x": b"1"})
        ref = store.put_owned(folder)
    assert [a.digest for a in store.listing()] == [ref.digest]
    assert list((store.root / ".tmp").iterdir()) == []


def test_a_worker_dying_before_its_output_is_synced_leaves_a_whole_artifact(store) -> None:
    proc = subprocess.run([sys.executable, "-c", _DIES_AFTER_PUBLISHING, str(store.root)], cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 3, proc.stderr
    digest = proc.stdout.strip()
    assert store.check(digest) == "intact"  # every byte there: the rename came after the last write


def test_two_writers_making_the_same_new_prefix_folder_at_once_both_publish(store, monkeypatch) -> None:
    """The rename finds no prefix folder, then another writer makes it before the check: tried again."""
    import zplan.artifacts.base as base_module

    real_rename, calls = os.rename, []

    def other_writer_first(src, dst):
        calls.append(dst)
        if len(calls) == 1:
            os.makedirs(os.path.dirname(dst), exist_ok=True)  # the other writer's prefix folder, just too late
            raise FileNotFoundError(2, "No such file or directory", str(src), None, str(dst))
        return real_rename(src, dst)

    monkeypatch.setattr(base_module.os, "rename", other_writer_first)
    with store.staging() as folder:
        make_tree(folder, SAMPLE)
        ref = store.put_owned(folder)
    assert len(calls) == 2 and store.check(ref.digest) == "intact"
