"""A local store rehashes on verified reads and on check(): silent damage (mtime put back) is found."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from zplan.artifacts.base import DAMAGED, INTACT, MISSING, ArtifactCorrupted
from zplan.artifacts.store import ArtifactStore

from .helpers import SAMPLE, make_tree


@pytest.fixture
def store(tmp_path: Path) -> ArtifactStore:
    return ArtifactStore.from_url(f"file://{tmp_path}/store", tmp_path)


@pytest.fixture
def digest(store: ArtifactStore, tmp_path: Path) -> str:
    return store.put(make_tree(tmp_path / "src", SAMPLE)).digest


def flip(path: Path) -> None:
    st = path.stat()
    os.chmod(path, 0o644)
    data = bytearray(path.read_bytes())
    data[0] ^= 0x80
    path.write_bytes(bytes(data))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def test_a_flipped_byte_with_its_mtime_put_back_passes_a_stamp_check_but_not_a_verified_read(store: ArtifactStore, tmp_path: Path) -> None:
    from zplan.artifacts.local import MANIFEST_MIN_BYTES

    big = {**SAMPLE, "big.bin": b"x" * MANIFEST_MIN_BYTES}  # kept with a manifest of stamps (a small one is rehashed)
    digest = store.put(make_tree(tmp_path / "src", big)).digest
    flip(store.get(digest) / "model.bin")
    assert store.get(digest)  # sizes and mtimes match: the cheap check cannot see it
    with pytest.raises(ArtifactCorrupted, match=rf"artifact damaged \(digest mismatch\): {digest}") as e:
        store.get(digest, verify=True)
    assert e.value.digest == digest
    assert store.check(digest) == DAMAGED


def test_a_missing_file_is_damage_even_to_the_cheap_check(store: ArtifactStore, digest: str) -> None:
    folder = store.get(digest)
    os.chmod(folder / "meta", 0o755)
    (folder / "meta/info.json").unlink()
    with pytest.raises(ArtifactCorrupted):
        store.get(digest)
    assert store.check(digest) == DAMAGED


def test_check_and_presence(store: ArtifactStore, digest: str) -> None:
    assert store.check(digest) == INTACT
    assert store.check("ab" * 16) == MISSING
    assert store.presence()(digest) and not store.presence()("ab" * 16)
    store.delete(digest)
    assert store.check(digest) == MISSING
