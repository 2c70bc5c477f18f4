"""Object stores: existence in one listing per prefix, verified reads of cached downloads, check()."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from zplan.artifacts.base import DAMAGED, INTACT, MISSING
from zplan.artifacts.store import ArtifactStore, RemoteArtifactStore

pytestmark = pytest.mark.slow


@pytest.fixture(params=["s3", "gs"])
def remote(request: pytest.FixtureRequest, tmp_path: Path) -> RemoteArtifactStore:
    url = request.getfixturevalue("s3_url" if request.param == "s3" else "gcs_url")
    store = ArtifactStore.from_url(url, tmp_path / "proj")
    assert isinstance(store, RemoteArtifactStore)
    return store


def stored(remote: RemoteArtifactStore, tmp_path: Path, n: int) -> list[str]:
    digests = []
    for i in range(n):
        folder = tmp_path / f"out{i}"
        folder.mkdir()
        (folder / "value.json").write_text(str(i))
        digests.append(remote.put(folder).digest)
    return digests


def test_presence_costs_one_listing_per_prefix(remote: RemoteArtifactStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    digests = stored(remote, tmp_path, 12)
    absent = "ff" * 16
    listings: list[str] = []
    real_find = remote.fs.find

    def counting(path: str, *args: Any, **kwargs: Any) -> Any:
        listings.append(path)
        return real_find(path, *args, **kwargs)

    monkeypatch.setattr(remote.fs, "find", counting)
    monkeypatch.setattr(remote.fs, "exists", lambda *a, **k: pytest.fail("one request per artifact"))
    present = remote.presence()
    assert all(present(d) for d in digests + digests)
    assert not present(absent)
    assert len(listings) == len({d[:2] for d in digests + [absent]})
    remote.delete(digests[0])
    assert remote.presence()(digests[0]) is False  # a new plan lists again


def test_a_damaged_download_cache_is_fetched_again_when_verified(remote: RemoteArtifactStore, tmp_path: Path) -> None:
    (digest,) = stored(remote, tmp_path, 1)
    cached = remote.get(digest) / "value.json"
    st = cached.stat()
    os.chmod(cached, 0o644)
    cached.write_text("9")
    os.utime(cached, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert (remote.get(digest, verify=True) / "value.json").read_text() == "0"


def test_check_reads_the_stored_copy(remote: RemoteArtifactStore, tmp_path: Path) -> None:
    good, bad = stored(remote, tmp_path, 2)
    remote.fs.pipe_file(f"{remote.key(bad)}/value.json", b"tampered")
    assert (remote.check(good), remote.check(bad), remote.check("ab" * 16)) == (INTACT, DAMAGED, MISSING)
