from __future__ import annotations

import importlib
import os
import tempfile
from pathlib import Path

import pytest

import zplan.hashing
from zplan.artifacts import ArtifactCorrupted, ArtifactStore, snapshot
from zplan.diags import DiagnosticError
from zplan.hashing import StatCache, hash_tree

from .helpers import SAMPLE, make_tree, read_tree

# The package exports the function under the module's name, so reach the module itself.
snapshot_module = importlib.import_module("zplan.artifacts.snapshot")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_tree(tmp_path / "proj", {"data/iris.csv": b"a,b\n" + b"1,2\n" * 5000, **{f"images/{k}": v for k, v in SAMPLE.items()}})


@pytest.fixture
def store(project: Path) -> ArtifactStore:
    return ArtifactStore.from_url("file://.zplan/artifacts", project)


@pytest.fixture
def link_from_10k(monkeypatch: pytest.MonkeyPatch) -> None:
    """Files of 10 kB and more count as big (the real threshold is too large for a test)."""
    monkeypatch.setattr(snapshot_module, "LINK_MIN_BYTES", 10_000)


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


def test_a_big_file_is_hard_linked_into_a_local_store(project: Path, store: ArtifactStore, link_from_10k: None) -> None:
    src = project / "data/iris.csv"
    ref = snapshot(src, store, StatCache(None))
    stored = store.get(ref.digest) / "iris.csv"
    assert stored.read_bytes() == src.read_bytes()
    assert stored.stat().st_ino == src.stat().st_ino  # not copied
    assert oct(src.stat().st_mode & 0o777) == "0o644"  # the user's file keeps its mode


def test_a_folder_snapshot_links_only_its_big_files(project: Path, store: ArtifactStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(snapshot_module, "LINK_MIN_BYTES", 5_000)
    ref = snapshot(project / "images", store, StatCache(None))
    assert ref.digest == hash_tree(project / "images")
    stored = store.get(ref.digest)
    assert read_tree(stored) == SAMPLE
    same_inode = {rel for rel in SAMPLE if (stored / rel).stat().st_ino == (project / "images" / rel).stat().st_ino}
    assert same_inode == {"model.bin"}  # 9000 bytes; the others are small


def test_small_inputs_are_copied_so_rewriting_them_keeps_old_snapshots(project: Path, store: ArtifactStore) -> None:
    src = project / "data/iris.csv"
    old = snapshot(src, store, StatCache(None))
    src.write_bytes(b"rewritten in place")
    assert (store.get(old.digest) / "iris.csv").read_bytes().startswith(b"a,b\n1,2")


def test_unchanged_inputs_are_neither_reread_nor_stored_again(project: Path, store: ArtifactStore, reads: list[str]) -> None:
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


def test_editing_a_linked_input_in_place_is_caught_on_read(project: Path, store: ArtifactStore, link_from_10k: None) -> None:
    src = project / "data/iris.csv"
    ref = snapshot(src, store, StatCache(None))
    with open(src, "r+b") as f:  # an in-place write reaches the stored link too
        f.write(b"X")
    with pytest.raises(ArtifactCorrupted, match="modified in place"):
        store.get(ref.digest)
    fresh = snapshot(src, store, StatCache(None))
    assert fresh.digest != ref.digest
    assert (store.get(fresh.digest) / "iris.csv").read_bytes().startswith(b"X")


def test_a_store_on_another_file_system_gets_a_copy(project: Path, link_from_10k: None) -> None:
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
