"""An apply's plan copies a big data input into the store as it hashes it, and the snapshot is that
copy (``zplan.artifacts.early_clones``): a clone on a real XFS with reflinks, mounted for the test
in a mount namespace by ``scripts/reflink-fs`` (skipped where the machine cannot), and the bytes
copied as they are hashed on this machine's own file system, where it has no reflinks."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from zplan.artifacts import ArtifactStore
from zplan.artifacts.early_clones import EarlyClones
from zplan.hashing import StatCache, hash_file

from .helpers import evicted

ROOT = Path(__file__).resolve().parents[3]

ON_XFS = textwrap.dedent('''
    import os, sys
    from pathlib import Path
    from zplan.artifacts import ArtifactStore
    from zplan.artifacts.early_clones import EarlyClones
    from zplan.hashing import StatCache, hash_file

    def evicted(path):
        """Out of memory, as data that arrived a while ago (only such a file is cloned first)."""
        fd = os.open(path, os.O_RDONLY)
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        os.close(fd)

    def written(path, size):
        path.write_bytes(os.urandom(size))
        evicted(path)

    root = Path(sys.argv[1])
    (root / "data").mkdir()
    big, small = root / "data/big.bin", root / "data/small.bin"
    written(big, 3 * 1024 * 1024)
    written(small, 1000)
    store = ArtifactStore.from_url("file://.zplan/artifacts", root)
    early = EarlyClones(lambda: store)
    cache = StatCache(None)
    cache.clone_first = early.make

    # The plan hashes a clone of the big file, made in the store's temp area, not the file itself.
    digest = cache.file_hash(big, clone=True)
    assert digest == hash_file(big)
    clone = cache.clone_of(big)
    assert clone and Path(clone).parent.parent == store.root / ".tmp", clone
    assert Path(clone).read_bytes() == big.read_bytes()
    # Neither a small file nor a file the plan does not snapshot is cloned.
    cache.file_hash(small, clone=True)
    assert cache.clone_of(small) is None
    other = root / "data/other.bin"
    written(other, 2 * 1024 * 1024)
    cache.file_hash(other)
    assert cache.clone_of(other) is None
    # Nor a file in memory (just written, or read): hashing it reads memory, its clone would read the disk.
    hot = root / "data/hot.bin"
    hot.write_bytes(os.urandom(2 * 1024 * 1024))
    assert cache.file_hash(hot, clone=True) == hash_file(hot) and cache.clone_of(hot) is None

    # The snapshot is that very clone (same inode, the pages the hash read), moved out of the temp area.
    inode = os.stat(clone).st_ino
    ref = store.put(big, stat_cache=cache)
    stored = store.get(ref.digest) / "big.bin"
    assert os.stat(stored).st_ino == inode and not os.path.exists(clone)
    assert store.get(ref.digest, verify=True) and stored.read_bytes() == big.read_bytes()

    # A file edited after its clone was hashed is hashed again, and the stale clone is not used.
    other = root / "data/edited.bin"
    written(other, 2 * 1024 * 1024)
    cache.file_hash(other, clone=True)
    stale = cache.clone_of(other)
    with open(other, "r+b") as f:
        f.write(b"edited")
    evicted(other)
    assert cache.file_hash(other, clone=True) == hash_file(other)
    fresh = cache.clone_of(other)
    assert fresh not in (None, stale) and Path(fresh).read_bytes() == other.read_bytes()
    # A worker storing what the parent scanned takes the clone too.
    entries, digest = store.scanned(other, cache)
    assert entries[0].clone == fresh
    inode = os.stat(fresh).st_ino
    ref = ArtifactStore.from_url("file://.zplan/artifacts", root).put_scanned(entries, digest)
    assert os.stat(store.get(ref.digest) / "edited.bin").st_ino == inode

    # What no snapshot took goes with the temp folder when the process ends.
    early.close()
    assert not os.path.exists(stale)
    assert os.listdir(store.root / ".tmp") == []
    print("ok")
''')


def _on_xfs(tmp_path: Path, *command: str) -> subprocess.CompletedProcess:
    """``command`` run in ``tmp_path/xfs``, an XFS with reflinks mounted there for it alone."""
    mount = tmp_path / "xfs"
    mount.mkdir()
    proc = subprocess.run([str(ROOT / "scripts/reflink-fs"), str(mount), *command],
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=300)
    if proc.returncode == 99:
        pytest.skip(f"no XFS with reflinks can be mounted here: {proc.stderr.strip()}")
    return proc


@pytest.mark.skipif(sys.platform != "linux", reason="reflinks through FICLONE are Linux's")
def test_on_a_file_system_with_reflinks_the_snapshot_is_the_clone_the_plan_hashed(tmp_path: Path) -> None:
    script = tmp_path / "on_xfs.py"
    script.write_text(ON_XFS)
    proc = _on_xfs(tmp_path, sys.executable, str(script), str(tmp_path / "xfs"))
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stdout + proc.stderr


APPLY_ON_XFS = textwrap.dedent('''
    set -e
    mkdir data
    head -c 5000000 /dev/urandom > data/big.bin
    "$PY" -c "import os; fd = os.open('data/big.bin', os.O_RDONLY); os.fsync(fd); os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)"
    cat > steps.py <<'EOF'
    def size(f) -> int:
        return len(f.read_bytes())
    EOF
    cat > main.zp.hcl <<'EOF'
    stack "local" {
      orchestrator   = "local"
      artifact_store = "file://.zplan/artifacts"
      metadata_store = "sqlite:///.zplan/metadata.db"
    }
    pipeline "p" {
      step "size" {
        source = "steps.py:size"
        inputs = { f = "data/big.bin" }
      }
    }
    output "size" { value = step.size.outputs.output }
    EOF
    "$PY" -m zplan.cli apply -auto-approve
    echo "source pages read=$(fincore --noheadings --bytes --output RES data/big.bin | tr -d " ")"
    echo "size=$("$PY" -m zplan.cli output size)"
    echo "left in the temp area=[$(ls -A .zplan/artifacts/.tmp)]"
    "$PY" -m zplan.cli verify
''')


@pytest.mark.skipif(sys.platform != "linux", reason="reflinks through FICLONE are Linux's")
def test_an_apply_on_a_file_system_with_reflinks_leaves_no_clone_behind(tmp_path: Path) -> None:
    proc = _on_xfs(tmp_path, "sh", "-c", f"PY={sys.executable}; export PY; {APPLY_ON_XFS}")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Apply complete: 1 ok." in proc.stdout
    assert "source pages read=0" in proc.stdout, proc.stdout  # the plan hashed the clone, which the step read
    assert "size=5000000" in proc.stdout and "left in the temp area=[]" in proc.stdout, proc.stdout


def _no_reflinks_here(store: ArtifactStore, tmp_path: Path) -> None:
    from zplan.artifacts.file_copy import clone

    probe = tmp_path / "probe"
    probe.write_bytes(b"x" * 1024 * 1024)
    evicted(probe)  # (skips where a file cannot be put out of memory)
    store.root.mkdir(parents=True, exist_ok=True)
    with open(probe, "rb") as src, open(store.root / "probe", "xb") as out:
        if clone(src, out):
            pytest.skip("this machine's own file system has reflinks")
    (store.root / "probe").unlink()


def test_without_reflinks_the_bytes_are_copied_as_they_are_hashed_and_the_snapshot_is_that_copy(tmp_path: Path) -> None:
    store = ArtifactStore.from_url("file://.zplan/artifacts", tmp_path)
    _no_reflinks_here(store, tmp_path)
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(9 * 1024 * 1024 + 123))  # (not a whole number of the copy's chunks)
    evicted(big)
    early = EarlyClones(lambda: store)
    cache = StatCache(None)
    cache.clone_first = early.make
    assert cache.file_hash(big, clone=True) == hash_file(big)
    copy = cache.clone_of(big)
    assert copy and Path(copy).parent.parent == store.root / ".tmp" and Path(copy).read_bytes() == big.read_bytes()
    # The snapshot is that copy, moved into place (same inode), and checks out in full.
    inode = os.stat(copy).st_ino
    ref = store.put(big, stat_cache=cache)
    stored = store.get(ref.digest) / "big.bin"
    assert os.stat(stored).st_ino == inode and not os.path.exists(copy)
    assert store.get(ref.digest, verify=True) and stored.read_bytes() == big.read_bytes()
    # A file in memory is hashed where it lies: a copy made on a guess would cost a touched file's rehash a write.
    hot = tmp_path / "hot.bin"
    hot.write_bytes(os.urandom(2 * 1024 * 1024))
    assert cache.file_hash(hot, clone=True) == hash_file(hot) and cache.clone_of(hot) is None
    early.close()
    assert os.listdir(store.root / ".tmp") == []


def test_a_file_written_while_it_is_copied_is_hashed_where_it_lies_and_its_copy_removed(tmp_path: Path, monkeypatch) -> None:
    from zplan.artifacts import file_copy

    store = ArtifactStore.from_url("file://.zplan/artifacts", tmp_path)
    _no_reflinks_here(store, tmp_path)
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(3 * 1024 * 1024))
    os.utime(big, ns=(1_000_000_000, 1_000_000_000))  # (written long ago: no racy stamps)
    before = hash_file(big)
    evicted(big)
    real = file_copy.copy_hashed

    def written_meanwhile(src, out, chunk):
        digest = real(src, out, chunk)
        with open(big, "r+b") as f:  # another program writes the file as the copy ends
            f.write(b"edited")
        return digest

    monkeypatch.setattr(file_copy, "copy_hashed", written_meanwhile)
    early = EarlyClones(lambda: store)
    cache = StatCache(None)
    cache.clone_first = early.make
    assert cache.file_hash(big, clone=True) == hash_file(big) != before  # hashed again, as it is now
    assert cache.clone_of(big) is None and os.listdir(store.root / ".tmp" / os.listdir(store.root / ".tmp")[0]) == []
    early.close()


def test_a_copy_that_fails_leaves_nothing_and_the_plan_hashes_the_source(tmp_path: Path, monkeypatch) -> None:
    import errno

    from zplan.artifacts import file_copy

    store = ArtifactStore.from_url("file://.zplan/artifacts", tmp_path)
    _no_reflinks_here(store, tmp_path)
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(9 * 1024 * 1024))
    evicted(big)
    real_write = os.write

    def full_disk(fd, data):
        if fd > 2 and len(data) > 1024 * 1024:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(file_copy.os, "write", full_disk)
    early = EarlyClones(lambda: store)
    cache = StatCache(None)
    cache.clone_first = early.make
    assert cache.file_hash(big, clone=True) == hash_file(big) and cache.clone_of(big) is None
    tmp = store.root / ".tmp"
    assert all(os.listdir(tmp / name) == [] for name in os.listdir(tmp))  # no half-written copy
    early.close()
    assert os.listdir(tmp) == []


def test_the_first_big_new_input_starts_the_step_runner_once_even_where_nothing_is_cloned(tmp_path: Path) -> None:
    store = ArtifactStore.from_url("file://.zplan/artifacts", tmp_path)
    small, big, other = tmp_path / "small.bin", tmp_path / "big.bin", tmp_path / "other.bin"
    small.write_bytes(b"x" * 1000)
    big.write_bytes(os.urandom(2 * 1024 * 1024))
    other.write_bytes(os.urandom(2 * 1024 * 1024))
    started: list[str] = []
    early = EarlyClones(lambda: None, lambda: started.append("runner"))  # no local store: clones are off
    cache = StatCache(None)
    cache.clone_first = early.make
    cache.file_hash(small, clone=True)
    assert started == []  # a small input is read at once: nothing to overlap
    for path in (big, other):
        assert cache.file_hash(path, clone=True) == hash_file(path) and cache.clone_of(path) is None
    assert started == ["runner"]
    early.close()
    assert not (store.root / ".tmp").exists() or os.listdir(store.root / ".tmp") == []


@pytest.mark.parametrize("size", [0, 1, 4 * 1024 * 1024, 3 * 4 * 1024 * 1024 + 5])
def test_a_copy_made_as_it_is_hashed_holds_the_bytes_hashed(tmp_path: Path, size: int) -> None:
    from zplan.artifacts.file_copy import copy_hashed

    src, dst = tmp_path / "src.bin", tmp_path / "dst.bin"
    src.write_bytes(os.urandom(size))
    with open(src, "rb", buffering=0) as s, open(dst, "xb") as out:
        digest = copy_hashed(s, out, 8 * 1024 * 1024)
    assert dst.read_bytes() == src.read_bytes() and digest == hash_file(src)


def test_a_copy_made_as_it_is_hashed_leaves_the_bytes_in_memory_once_as_the_copy(tmp_path: Path) -> None:
    from zplan.artifacts.file_copy import copy_hashed
    from zplan.fsutil import share_in_memory

    src, dst = tmp_path / "src.bin", tmp_path / "dst.bin"
    src.write_bytes(os.urandom(16 * 1024 * 1024))
    evicted(src)
    with open(src, "rb", buffering=0) as s, open(dst, "xb") as out:
        copy_hashed(s, out, 8 * 1024 * 1024)
    with open(src, "rb") as s, open(dst, "rb") as copy:
        copied = share_in_memory(copy.fileno(), 16 * 1024 * 1024)
        if copied == 0.0:
            pytest.skip("this machine's file system does not tell which pages are in memory")
        assert share_in_memory(s.fileno(), 16 * 1024 * 1024) == 0.0  # the source's pages this read brought in: dropped
    assert copied == 1.0  # what the step reads next


def test_an_apply_without_reflinks_snapshots_the_copy_its_plan_hashed_and_leaves_nothing_behind(tmp_path: Path) -> None:
    store = ArtifactStore.from_url("file://.zplan/artifacts", tmp_path)
    _no_reflinks_here(store, tmp_path)
    script = APPLY_ON_XFS.replace("fincore --noheadings --bytes --output RES data/big.bin | tr -d \" \"",
                                  "\"$PY\" -c \"from zplan.fsutil import share_in_memory; "
                                  "print(share_in_memory(open('data/big.bin', 'rb').fileno(), 5000000))\"")
    proc = subprocess.run(["sh", "-c", f"PY={sys.executable}; export PY; {script}"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Apply complete: 1 ok." in proc.stdout
    assert "source pages read=0.0" in proc.stdout, proc.stdout  # read once, copied as hashed: the step read the copy
    assert "size=5000000" in proc.stdout and "left in the temp area=[]" in proc.stdout, proc.stdout
