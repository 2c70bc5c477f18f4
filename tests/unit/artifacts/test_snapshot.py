from __future__ import annotations

import fcntl
import importlib
import os
import tempfile
from pathlib import Path

import pytest

import zplan.hashing
from zplan.artifacts import ArtifactStore, snapshot
from zplan.diags import DiagnosticError
from zplan.hashing import StatCache, hash_tree

from .helpers import SAMPLE, make_tree, read_tree

local_module = importlib.import_module("zplan.artifacts.local")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_tree(tmp_path / "proj", {"data/iris.csv": b"a,b\n" + b"1,2\n" * 5000, **{f"images/{k}": v for k, v in SAMPLE.items()}})


@pytest.fixture
def store(project: Path) -> ArtifactStore:
    return ArtifactStore.from_url("file://.zplan/artifacts", project)


@pytest.fixture
def clone_from_10k(monkeypatch: pytest.MonkeyPatch) -> None:
    """Files of 10 kB and more count as big (the real threshold is too large for a test)."""
    monkeypatch.setattr(local_module, "CLONE_MIN_BYTES", 10_000)


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Names of the files actually read for hashing through the stat cache."""
    seen: list[str] = []
    real = zplan.hashing.hash_file

    def counting(path: Path) -> str:
        seen.append(Path(path).name)
        return real(path)

    monkeypatch.setattr(zplan.hashing, "hash_file", counting)
    return seen


def test_a_big_file_is_stored_as_a_file_of_its_own(project: Path, store: ArtifactStore, clone_from_10k: None) -> None:
    src = project / "data/iris.csv"
    ref = snapshot(src, store, StatCache(None))
    stored = store.get(ref.digest) / "iris.csv"
    assert stored.read_bytes() == src.read_bytes()
    assert stored.stat().st_ino != src.stat().st_ino  # never a hard link to the user's file
    assert oct(src.stat().st_mode & 0o777) == "0o644"  # the user's file keeps its mode


def test_editing_a_big_input_in_place_leaves_its_snapshot_as_it_was(project: Path, store: ArtifactStore, clone_from_10k: None) -> None:
    src = project / "data/iris.csv"
    before = src.read_bytes()
    ref = snapshot(src, store, StatCache(None))
    with open(src, "r+b") as f:  # an in-place write, as `open(path, "r+")` in a notebook does
        f.write(b"X")
    assert (store.get(ref.digest, verify=True) / "iris.csv").read_bytes() == before
    fresh = snapshot(src, store, StatCache(None))
    assert fresh.digest != ref.digest
    assert (store.get(fresh.digest) / "iris.csv").read_bytes().startswith(b"X")


def test_big_files_are_cloned_copy_on_write_where_the_file_system_can_and_copied_otherwise(
    project: Path, store: ArtifactStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(local_module, "CLONE_MIN_BYTES", 5_000)
    calls: list[int] = []
    real_ioctl = fcntl.ioctl

    def watching(fd, request, arg=0, *rest):  # type: ignore[no-untyped-def]
        calls.append(request)
        return real_ioctl(fd, request, arg, *rest)

    monkeypatch.setattr(fcntl, "ioctl", watching)
    ref = snapshot(project / "images", store, StatCache(None))
    assert calls == [local_module.FICLONE]  # model.bin (9000 bytes) only; the others are small
    assert read_tree(store.get(ref.digest, verify=True)) == SAMPLE


def test_small_inputs_are_copied_so_rewriting_them_keeps_old_snapshots(project: Path, store: ArtifactStore) -> None:
    src = project / "data/iris.csv"
    old = snapshot(src, store, StatCache(None))
    src.write_bytes(b"rewritten in place")
    assert (store.get(old.digest) / "iris.csv").read_bytes().startswith(b"a,b\n1,2")


def test_unchanged_inputs_are_neither_reread_nor_stored_again(project: Path, store: ArtifactStore, reads: list[str],
                                                              hashing_clock) -> None:
    cache = StatCache(project / ".zplan/stat-cache.json")
    first = snapshot(project / "images", store, cache)
    assert sorted(reads) == sorted(Path(k).name for k in SAMPLE)
    cache.save()
    reads.clear()
    again = snapshot(project / "images", store, StatCache(project / ".zplan/stat-cache.json"))
    assert again == first
    assert reads == []


def test_a_changed_input_gives_a_new_snapshot_and_only_it_is_reread(project: Path, store: ArtifactStore, reads: list[str]) -> None:
    cache = StatCache(None)
    first = snapshot(project / "images", store, cache)
    reads.clear()
    (project / "images/z.txt").write_bytes(b"new text")
    second = snapshot(project / "images", store, cache)
    assert reads == ["z.txt"]
    assert second.digest != first.digest
    assert store.get(first.digest) != store.get(second.digest)
    assert (store.get(second.digest) / "z.txt").read_bytes() == b"new text"


def test_a_store_on_another_file_system_gets_a_copy(project: Path, clone_from_10k: None) -> None:
    shm = Path("/dev/shm")
    if not shm.is_dir() or os.stat(shm).st_dev == os.stat(project).st_dev:
        pytest.skip("needs a second file system (tmpfs at /dev/shm)")
    with tempfile.TemporaryDirectory(dir=shm) as other:
        store = ArtifactStore.from_url(f"file://{other}/store", project)
        ref = snapshot(project / "data/iris.csv", store, StatCache(None))
        stored = store.get(ref.digest) / "iris.csv"
        assert stored.read_bytes() == (project / "data/iris.csv").read_bytes()
        assert stored.stat().st_dev != (project / "data/iris.csv").stat().st_dev


def test_a_missing_input_is_a_clear_error(project: Path, store: ArtifactStore) -> None:
    with pytest.raises(DiagnosticError, match="input .*nope.csv does not exist"):
        snapshot(project / "data/nope.csv", store, StatCache(None))


@pytest.mark.parametrize("odd", ["fifo", "dangling link"])
def test_a_folder_holding_no_file_is_refused_unopened(project: Path, store: ArtifactStore, odd: str):
    """At apply too (a saved plan, a folder changed since): a message naming the entry, no hang."""
    entry = project / "images" / "odd"
    os.mkfifo(entry) if odd == "fifo" else os.symlink("gone.png", entry)
    for scanned in (lambda: snapshot(project / "images", store, StatCache(None)), lambda: store.scanned(project / "images", StatCache(None))):
        with pytest.raises(DiagnosticError) as caught:
            scanned()
        summary = caught.value.diagnostics[0].summary
        assert f"{entry} is a" in summary and ("named pipe" in summary if odd == "fifo" else "symbolic link to gone.png" in summary)
