from __future__ import annotations

import multiprocessing
import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from zplan.artifacts import ArtifactCorrupted, ArtifactNotFound, ArtifactStore, SourceChanged, StoredArtifact
from zplan.artifacts.store import LocalArtifactStore, RemoteArtifactStore
from zplan.diags import DiagnosticError
from zplan.hashing import StatCache, hash_tree

from .helpers import SAMPLE, make_tree, read_tree

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_tree(tmp_path / "proj", {"README": b"x"})


@pytest.fixture
def store(project: Path) -> LocalArtifactStore:
    s = ArtifactStore.from_url("file://.zplan/artifacts", project)
    assert isinstance(s, LocalArtifactStore)
    return s


# --- from_url ---------------------------------------------------------------------------------


def test_from_url_resolves_local_forms(project: Path, tmp_path: Path) -> None:
    assert ArtifactStore.from_url("file://.zplan/artifacts", project).root == project / ".zplan/artifacts"
    assert ArtifactStore.from_url(f"file://{tmp_path}/abs", project).root == tmp_path / "abs"
    assert ArtifactStore.from_url("store", project).root == project / "store"
    assert ArtifactStore.from_url(str(tmp_path / "plain"), project).root == tmp_path / "plain"


def test_from_url_builds_remote_stores_without_connecting(project: Path) -> None:
    s3 = ArtifactStore.from_url("s3://bucket/some/prefix/", project)
    assert isinstance(s3, RemoteArtifactStore)
    assert (s3.protocol, s3.root) == ("s3", "bucket/some/prefix")
    assert s3.cache_dir == project / ".zplan/cache/artifacts"
    gs = ArtifactStore.from_url("gs://b", project, cache_dir=project / "c")
    assert (gs.protocol, gs.root, gs.cache_dir) == ("gs", "b", project / "c")
    assert gs.uri("ab" * 16) == f"gs://b/ab/{'ab' * 16}"


@pytest.mark.parametrize("url", ["ftp://host/x", "http://example.com/a", "s3://", "gs:///", "", "file://"])
def test_from_url_rejects_other_urls_naming_them(url: str, project: Path) -> None:
    with pytest.raises(DiagnosticError) as e:
        ArtifactStore.from_url(url, project)
    assert f"unsupported artifact store {url!r}" in str(e.value)


def test_options_are_refused_for_a_local_store(project: Path) -> None:
    with pytest.raises(DiagnosticError, match="takes no options"):
        ArtifactStore.from_url("file://a", project, options={"endpoint_url": "http://x"})


# --- put / get / exists -----------------------------------------------------------------------


def test_put_stores_a_folder_under_its_tree_hash(store: LocalArtifactStore, tmp_path: Path) -> None:
    src = make_tree(tmp_path / "out", SAMPLE)
    ref = store.put(src)
    assert ref.digest == hash_tree(src)
    assert ref == StoredArtifact(ref.digest, store.uri(ref.digest), sum(map(len, SAMPLE.values())), len(SAMPLE))
    assert ref.uri == (store.root / ref.digest[:2] / ref.digest).as_uri()
    assert store.exists(ref.digest)
    assert read_tree(store.get(ref.digest)) == SAMPLE
    assert hash_tree(store.get(ref.digest)) == ref.digest


def test_stored_files_are_read_only_and_nothing_else_is_left(store: LocalArtifactStore, tmp_path: Path) -> None:
    ref = store.put(make_tree(tmp_path / "out", SAMPLE))
    for p in store.get(ref.digest).rglob("*"):
        if p.is_file():
            assert not p.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
    assert list((store.root / ".tmp").iterdir()) == []


def test_put_is_idempotent_and_does_not_copy_again(store: LocalArtifactStore, tmp_path: Path) -> None:
    a = store.put(make_tree(tmp_path / "a", SAMPLE))
    stored = store.get(a.digest) / "model.bin"
    before = stored.stat()
    b = store.put(make_tree(tmp_path / "b", SAMPLE))  # same content, another folder
    assert a == b
    after = stored.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_a_single_file_becomes_a_one_file_artifact(store: LocalArtifactStore, tmp_path: Path) -> None:
    src = make_tree(tmp_path / "in", {"data.csv": b"a,b\n1,2\n"}) / "data.csv"
    ref = store.put(src)
    assert read_tree(store.get(ref.digest)) == {"data.csv": b"a,b\n1,2\n"}
    assert ref.digest == hash_tree(src.parent)  # same digest as the folder holding just it


def test_an_empty_folder_is_an_artifact_too(store: LocalArtifactStore, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    ref = store.put(tmp_path / "empty")
    assert (ref.size, ref.files) == (0, 0)
    assert list(store.get(ref.digest).iterdir()) == []


def test_missing_and_malformed_digests(store: LocalArtifactStore, tmp_path: Path) -> None:
    absent = "0" * 32
    assert not store.exists(absent)
    with pytest.raises(ArtifactNotFound, match=f"artifact {absent} is not in file://.zplan/artifacts"):
        store.get(absent)
    with pytest.raises(ValueError, match="not an artifact digest"):
        store.exists("../../etc")
    with pytest.raises(DiagnosticError, match="no such file or folder"):
        store.put(tmp_path / "nope")


def test_delete_removes_the_artifact(store: LocalArtifactStore, tmp_path: Path) -> None:
    ref = store.put(make_tree(tmp_path / "out", SAMPLE))
    store.delete(ref.digest)
    assert not store.exists(ref.digest)
    assert not (store.root / ref.digest[:2] / f"{ref.digest}.json").exists()
    assert store.put(tmp_path / "out") == ref  # and it can be stored again


# --- integrity --------------------------------------------------------------------------------


def _tamper(path: Path, data: bytes) -> None:
    path.chmod(0o644)
    path.write_bytes(data)


def test_a_stored_file_changed_in_place_is_detected(store: LocalArtifactStore, tmp_path: Path) -> None:
    ref = store.put(make_tree(tmp_path / "out", SAMPLE))
    _tamper(store.get(ref.digest) / "z.txt", b"something else")
    with pytest.raises(ArtifactCorrupted) as e:
        store.get(ref.digest)
    assert ref.digest in str(e.value) and "file://.zplan/artifacts" in str(e.value)


def test_a_touched_but_unchanged_file_is_accepted(store: LocalArtifactStore, tmp_path: Path) -> None:
    ref = store.put(make_tree(tmp_path / "out", SAMPLE))
    f = store.get(ref.digest) / "z.txt"
    os.utime(f, ns=(1, 1))
    assert read_tree(store.get(ref.digest)) == SAMPLE


def _manifest(store: LocalArtifactStore, digest: str) -> Path:
    return store.root / digest[:2] / f"{digest}.json"


def test_a_small_artifact_keeps_no_manifest_file_and_another_process_rehashes_it(
    store: LocalArtifactStore, project: Path, tmp_path: Path
) -> None:
    ref = store.put(make_tree(tmp_path / "out", {"a.txt": b"one", "b/c.txt": b"two"}))
    assert not _manifest(store, ref.digest).exists()
    assert (ref.size, ref.files) == (6, 2)
    f = store.get(ref.digest) / "a.txt"
    st = f.stat()
    _tamper(f, b"ONE")  # same size, mtime put back: only a hash tells
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert store.get(ref.digest)  # this process kept its stamps in memory, as a manifest would
    with pytest.raises(ArtifactCorrupted):
        store.get(ref.digest, verify=True)
    other = ArtifactStore.from_url("file://.zplan/artifacts", project)  # as another process sees it
    with pytest.raises(ArtifactCorrupted):
        other.get(ref.digest)
    assert not _manifest(store, ref.digest).exists()  # checking wrote none either


@pytest.mark.parametrize("tree", [{"big.bin": b"x" * 256 * 1024}, {f"f{i}": b"x" for i in range(8)}],
                         ids=["256 KiB", "8 files"])
def test_a_bigger_artifact_keeps_its_stamps_in_a_manifest(store: LocalArtifactStore, tmp_path: Path, tree) -> None:
    ref = store.put(make_tree(tmp_path / "out", tree))
    assert _manifest(store, ref.digest).exists()
    _manifest(store, ref.digest).unlink()  # lost: rebuilt by the next check
    assert read_tree(store.get(ref.digest)) == tree
    assert _manifest(store, ref.digest).exists()


def test_put_repairs_a_damaged_artifact(store: LocalArtifactStore, tmp_path: Path) -> None:
    src = make_tree(tmp_path / "out", SAMPLE)
    ref = store.put(src)
    _tamper(store.get(ref.digest) / "model.bin", b"garbage")
    assert store.put(src) == ref
    assert read_tree(store.get(ref.digest)) == SAMPLE


def _rewritten_within_one_tick(cache: StatCache, path: Path) -> None:
    """A second write within one timestamp tick leaves inode, size, mtime and ctime as they were
    when the file was hashed: the cache's record keeps its (now stale) digest."""
    st = path.stat()
    cache._entries[str(path)][:4] = [st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns]


def test_a_source_changing_while_stored_is_refused(store: LocalArtifactStore, tmp_path: Path) -> None:
    # A writer that keeps size and mtime fools the stat cache; the copy's own hash does not lie.
    src = make_tree(tmp_path / "in", {"data.bin": b"A" * 100})
    cache = StatCache(None)
    cache.tree_hash(src)
    (src / "data.bin").write_bytes(b"B" * 100)
    _rewritten_within_one_tick(cache, src / "data.bin")
    with pytest.raises(SourceChanged, match="changed while it was being stored"):
        store.put(src, stat_cache=cache)
    assert list(store.root.glob("??/*")) == []
    assert list((store.root / ".tmp").iterdir()) == []


# --- atomicity --------------------------------------------------------------------------------

_DIE_MID_PUT = textwrap.dedent(
    """
    import os, sys
    from pathlib import Path
    from zplan.artifacts.store import ArtifactStore, LocalArtifactStore

    real_copy = LocalArtifactStore._copy
    copied = []

    def copy_then_die(self, entry, dst, durable):
        real_copy(self, entry, dst, durable)
        copied.append(entry.rel)
        if len(copied) == 2:
            os._exit(3)  # the process dies with the put half done

    LocalArtifactStore._copy = copy_then_die
    ArtifactStore.from_url(sys.argv[2], Path(".")).put(Path(sys.argv[1]), sync_later=sys.argv[3] == "later")
    """
)

_DIE_AFTER_PUT = textwrap.dedent(
    """
    import os, sys
    from pathlib import Path
    import zplan.fsutil
    from zplan.artifacts.store import ArtifactStore

    zplan.fsutil.WHOLE_FS_DIRTY_MAX = -1  # file by file:
    zplan.fsutil.fsync_path = lambda path: os._exit(4)  # dies before the first background sync
    ArtifactStore.from_url(sys.argv[2], Path(".")).put(Path(sys.argv[1]), sync_later=True)
    os._exit(3)
    """
)


@pytest.mark.parametrize("sync", ["before-rename", "later"])
def test_a_crash_mid_put_leaves_no_artifact_and_the_next_put_cleans_up(store: LocalArtifactStore, tmp_path: Path, sync: str) -> None:
    src = make_tree(tmp_path / "out", SAMPLE)
    proc = subprocess.run([sys.executable, "-c", _DIE_MID_PUT, str(src), str(store.root), sync], cwd=REPO)
    assert proc.returncode == 3
    digest = hash_tree(src)
    assert not store.exists(digest)
    leftovers = list((store.root / ".tmp").iterdir())
    assert len(leftovers) == 1 and leftovers[0].is_dir()  # the half-written folder (its lock died with the process)
    ref = store.put(make_tree(tmp_path / "other", {"x": b"1"}))
    assert store.exists(ref.digest)
    assert list((store.root / ".tmp").iterdir()) == []
    assert not store.exists(digest)


def test_a_process_dying_before_its_background_sync_leaves_a_whole_artifact(store: LocalArtifactStore, tmp_path: Path) -> None:
    src = make_tree(tmp_path / "out", SAMPLE)
    proc = subprocess.run([sys.executable, "-c", _DIE_AFTER_PUT, str(src), str(store.root)], cwd=REPO)
    assert proc.returncode in (3, 4)  # published, then died with its sync pending or running
    assert store.check(hash_tree(src)) == "intact"  # every byte there: the rename came after the copy


def test_a_failing_put_leaves_nothing(store: LocalArtifactStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = make_tree(tmp_path / "out", SAMPLE)

    def disk_full(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("zplan.artifacts.local._place", disk_full)
    with pytest.raises(OSError):
        store.put(src)
    assert not store.exists(hash_tree(src))
    assert list((store.root / ".tmp").iterdir()) == []


def test_the_sweep_spares_a_folder_another_writer_is_filling(store: LocalArtifactStore, tmp_path: Path) -> None:
    with store.temp.folder() as live:
        (live / "partial").write_bytes(b"...")
        store.put(make_tree(tmp_path / "out", SAMPLE))
        assert (live / "partial").exists()


def _put_in_process(root: str, src: str) -> str:
    return ArtifactStore.from_url(root, Path(".")).put(Path(src)).digest


def test_concurrent_puts_of_the_same_content_agree(store: LocalArtifactStore, tmp_path: Path) -> None:
    src = make_tree(tmp_path / "out", {f"f{i}": os.urandom(2000) for i in range(30)})
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(2) as pool:
        digests = pool.starmap(_put_in_process, [(str(store.root), str(src))] * 4)
    assert set(digests) == {hash_tree(src)}
    assert read_tree(store.get(digests[0])) == read_tree(src)
    assert list((store.root / ".tmp").iterdir()) == []


# --- lazy imports -----------------------------------------------------------------------------


def test_the_local_store_loads_no_remote_client_or_data_library(tmp_path: Path) -> None:
    src = make_tree(tmp_path / "out", SAMPLE)
    code = textwrap.dedent(
        f"""
        import sys
        from pathlib import Path
        import zplan.artifacts as a
        s = a.ArtifactStore.from_url("file://store", Path({str(tmp_path)!r}))
        s.get(s.put(Path({str(src)!r})).digest)
        a.materializer_for({{"k": [1, 2.5, None]}})
        a.get_materializer("pandas.parquet")
        heavy = {{"fsspec", "s3fs", "gcsfs", "botocore", "pandas", "numpy", "pyarrow", "sklearn"}}
        print(sorted(heavy & set(sys.modules)))
        """
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_walk_order_matches_the_tree_hash_order(tmp_path: Path) -> None:
    from zplan.artifacts.store import walk_order
    from zplan.hashing import iter_tree

    root = make_tree(tmp_path / "t", {n: b"" for n in ["b", "a/z", "a/b/c", "a-b", "a/a", "ab/c", "Z/q", "a/b/a"]})
    walked = [p.relative_to(root).as_posix() for p in iter_tree(root)]
    assert sorted(walked, key=walk_order) == walked


@pytest.mark.parametrize("url,module", [("s3://b/x", "s3fs"), ("gs://b/x", "gcsfs.core")])
def test_a_missing_client_library_says_what_to_install(
    url: str, module: str, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # makes "import <module>" fail
    with pytest.raises(DiagnosticError, match=rf"(?s)needs {module.split('.')[0]}\n.*pip install 'zplan\[remote\]'"):
        ArtifactStore.from_url(url, project).exists("0" * 32)


# --- big snapshots: one read, not two -------------------------------------------------------------


def _count_hashing_copies(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record each copy that hashes the bytes it copies (the copy itself still runs)."""
    import zplan.artifacts.local as local

    calls: list[str] = []
    real = local._stream

    def counting(src, dst):
        calls.append(src.name)
        return real(src, dst)

    monkeypatch.setattr(local, "_stream", counting)
    return calls


def test_a_big_file_hashed_by_this_process_is_copied_without_a_second_hash(
    store: LocalArtifactStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    big = os.urandom(3 * 1024 * 1024 + 17)
    src = make_tree(tmp_path / "in", {"big.bin": big})
    cache = StatCache(None)
    digest = cache.tree_hash(src)  # what the plan does: the one read of the bytes
    hashing = _count_hashing_copies(monkeypatch)
    ref = store.put(src, stat_cache=cache)
    assert ref.digest == digest and hashing == []
    assert (store.get(ref.digest, verify=True) / "big.bin").read_bytes() == big


def test_a_big_file_rewritten_after_hashing_with_its_mtime_put_back_is_hashed_again(
    store: LocalArtifactStore, tmp_path: Path
) -> None:
    src = make_tree(tmp_path / "in", {"big.bin": b"A" * (2 * 1024 * 1024)})
    cache = StatCache(None)
    first = cache.tree_hash(src)
    st = (src / "big.bin").stat()
    (src / "big.bin").write_bytes(b"B" * (2 * 1024 * 1024))
    os.utime(src / "big.bin", ns=(st.st_atime_ns, st.st_mtime_ns))  # size and mtime as hashed; ctime moved
    ref = store.put(src, stat_cache=cache)
    assert ref.digest != first and ref.digest == hash_tree(src)
    assert read_tree(store.get(ref.digest, verify=True)) == {"big.bin": b"B" * (2 * 1024 * 1024)}


def _count_hashed_copies(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record each stored copy read back to be hashed (the hash itself still runs)."""
    import zplan.artifacts.local as local

    calls: list[str] = []
    real = local.hash_file

    def counting(path):
        calls.append(str(path))
        return real(path)

    monkeypatch.setattr(local, "hash_file", counting)
    return calls


def test_a_big_file_known_only_from_an_earlier_process_is_copied_by_the_kernel_then_its_copy_hashed(
    store: LocalArtifactStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hashing_clock
) -> None:
    src = make_tree(tmp_path / "in", {"big.bin": os.urandom(2 * 1024 * 1024)})  # (hashed long after: recorded)
    earlier = StatCache(tmp_path / "stat.json")
    earlier.tree_hash(src)
    earlier.save()
    in_python, read_back = _count_hashing_copies(monkeypatch), _count_hashed_copies(monkeypatch)
    ref = store.put(src, stat_cache=StatCache(tmp_path / "stat.json"))  # a later command: the record, not a read
    assert in_python == [] and len(read_back) == 1
    assert read_back[0].startswith(str(store.root / ".tmp"))  # the copy itself, before it was published
    assert read_tree(store.get(ref.digest, verify=True)) == read_tree(src)


def test_a_big_file_whose_stat_cache_record_is_stale_is_refused(store: LocalArtifactStore, tmp_path: Path,
                                                                hashing_clock) -> None:
    # Rewritten within one timestamp tick, every stamp as recorded: the record's digest is stale; the copy's hash tells.
    src = make_tree(tmp_path / "in", {"big.bin": b"A" * (2 * 1024 * 1024)})
    earlier = StatCache(tmp_path / "stat.json")
    earlier.tree_hash(src)
    with open(src / "big.bin", "r+b") as f:
        f.write(b"B")
    _rewritten_within_one_tick(earlier, src / "big.bin")
    earlier.save()
    with pytest.raises(SourceChanged, match="changed while it was being stored"):
        store.put(src, stat_cache=StatCache(tmp_path / "stat.json"))
    assert list(store.root.glob("??/*")) == []
