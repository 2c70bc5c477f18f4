"""One store test-suite run against file://, s3:// (moto server) and gs:// (GCS emulator).

The server fixtures come from ``tests/fixtures/servers.py`` (registered as a pytest plugin).
"""

from __future__ import annotations

import json
import multiprocessing
import stat
import time
from pathlib import Path
from typing import Any, Mapping

import pytest

import zplan.artifacts.local as local_module
import zplan.artifacts.remote as store_module
from zplan.artifacts import ArtifactCorrupted, ArtifactNotFound, ArtifactStore, ArtifactStoreError, snapshot
from zplan.artifacts.store import MARKER, RemoteArtifactStore
from zplan.hashing import StatCache, hash_tree

pytestmark = pytest.mark.slow

FILES: Mapping[str, bytes] = {
    "model.bin": bytes(range(256)) * 300,
    "meta/info.json": b'{"a": 1}',
    "meta/deeper/empty.txt": b"",
    "naïve name.txt": b"unicode",
}


def make_tree(root: Path, files: Mapping[str, bytes]) -> Path:
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return root


def read_tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.fixture(params=["file", "s3", "gs"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "file":
        return f"file://{tmp_path}/store"
    return request.getfixturevalue("s3_url" if request.param == "s3" else "gcs_url")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "proj").mkdir()
    return tmp_path / "proj"


@pytest.fixture
def store(url: str, project: Path) -> ArtifactStore:
    return ArtifactStore.from_url(url, project)


@pytest.fixture
def src(tmp_path: Path) -> Path:
    return make_tree(tmp_path / "out", FILES)


def other_machine(store: ArtifactStore, tmp_path: Path) -> ArtifactStore:
    """The same store seen from elsewhere: a new client and an empty download cache."""
    return ArtifactStore.from_url(store.url, tmp_path / "elsewhere", cache_dir=tmp_path / "elsewhere-cache")


# --- the shared suite -------------------------------------------------------------------------


def test_put_then_get_gives_the_same_files(store: ArtifactStore, src: Path, tmp_path: Path) -> None:
    ref = store.put(src)
    assert ref.digest == hash_tree(src)
    assert (ref.size, ref.files) == (sum(map(len, FILES.values())), len(FILES))
    assert store.exists(ref.digest)
    elsewhere = other_machine(store, tmp_path)
    assert elsewhere.exists(ref.digest)
    got = elsewhere.get(ref.digest)
    assert read_tree(got) == FILES
    assert hash_tree(got) == ref.digest


def test_uri_names_the_content_address(store: ArtifactStore, src: Path) -> None:
    ref = store.put(src)
    base = Path(store.url.removeprefix("file://")).as_uri() if store.url.startswith("file://") else store.url
    assert ref.uri == store.uri(ref.digest) == f"{base}/{ref.digest[:2]}/{ref.digest}"


def test_putting_the_same_content_again_writes_nothing(store: ArtifactStore, src: Path, tmp_path: Path) -> None:
    first = store.put(src)

    def must_not_write(*args: Any) -> None:
        raise AssertionError("the artifact was written again")

    store._write = must_not_write  # type: ignore[method-assign]
    assert store.put(make_tree(tmp_path / "copy", FILES)) == first


def test_a_single_file_and_an_empty_folder(store: ArtifactStore, tmp_path: Path) -> None:
    one = store.put(make_tree(tmp_path / "in", {"data.csv": b"a,b\n"}) / "data.csv")
    (tmp_path / "empty").mkdir()
    empty = store.put(tmp_path / "empty")
    elsewhere = other_machine(store, tmp_path)
    assert read_tree(elsewhere.get(one.digest)) == {"data.csv": b"a,b\n"}
    assert (empty.files, read_tree(elsewhere.get(empty.digest))) == (0, {})


def test_an_unknown_digest_is_not_found(store: ArtifactStore) -> None:
    digest = "f" * 32
    assert not store.exists(digest)
    with pytest.raises(ArtifactNotFound, match=f"artifact {digest} is not in {store.url}"):
        store.get(digest)


def test_a_put_that_fails_midway_leaves_no_artifact(store: ArtifactStore, src: Path) -> None:
    real = store_module._stream
    calls = []

    def fail_on_second_file(a: Any, b: Any) -> str:
        calls.append(1)
        if len(calls) == 2:
            raise ConnectionResetError("connection lost")
        return real(a, b)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(store_module, "_stream", fail_on_second_file)
        mp.setattr(local_module, "_stream", fail_on_second_file)
        with pytest.raises((ConnectionResetError, ArtifactStoreError)):
            store.put(src)
    digest = hash_tree(src)
    assert not store.exists(digest)
    assert store.put(src).digest == digest
    assert read_tree(store.get(digest)) == FILES


def test_the_marker_name_is_reserved(store: ArtifactStore, tmp_path: Path) -> None:
    with pytest.raises(ArtifactStoreError, match=f"the name {MARKER} is reserved"):
        store.put(make_tree(tmp_path / "bad", {MARKER: b"{}"}))


def test_delete(store: ArtifactStore, src: Path, tmp_path: Path) -> None:
    ref = store.put(src)
    store.delete(ref.digest)
    assert not store.exists(ref.digest)
    assert not other_machine(store, tmp_path).exists(ref.digest)


def test_the_listing_gives_when_each_artifact_was_stored_and_storing_it_again_renews_it(store: ArtifactStore, src: Path,
                                                                                         tmp_path: Path) -> None:
    """gc keeps what was stored recently (a running pipeline's task may be about to record it): the
    time comes from the store itself (a folder's mtime, S3's LastModified, GCS's updated), and a
    task that finds its output already there (an old orphan) makes it recent again."""
    before = time.time()
    ref = store.put(src)
    (first,) = other_machine(store, tmp_path).listing()
    assert first.digest == ref.digest and before - 1 <= first.modified <= time.time() + 1  # (S3 counts whole seconds)
    time.sleep(1.1)
    store.put(make_tree(tmp_path / "again", FILES))
    (again,) = store.listing()
    assert again.modified > first.modified
    assert read_tree(other_machine(store, tmp_path / "3").get(ref.digest)) == FILES  # the marker written again is intact


def test_renewing_a_cache_hit_makes_it_recent_again_and_says_when_it_is_gone(store: ArtifactStore, src: Path,
                                                                              tmp_path: Path) -> None:
    """A Kubeflow/Vertex task taking an old artifact from the cache renews its time, so gc's grace
    keeps it while the task (holding no lock) hands it downstream; the content is left as it was."""
    ref = store.put(src)
    (first,) = store.listing()
    time.sleep(1.1)  # (S3 counts whole seconds)
    assert store.renew(ref.digest)
    (again,) = other_machine(store, tmp_path).listing()
    assert again.modified > first.modified
    assert read_tree(other_machine(store, tmp_path / "2").get(ref.digest, verify=True)) == FILES
    store.delete(ref.digest)
    assert not store.renew(ref.digest) and not store.exists(ref.digest)  # nothing stored by renewing


def test_snapshots_go_to_any_store(store: ArtifactStore, project: Path, tmp_path: Path) -> None:
    data = make_tree(project / "data", {"iris.csv": b"a,b\n1,2\n"})
    cache = StatCache(None)
    ref = snapshot(data, store, cache)
    assert snapshot(data, store, cache) == ref
    assert read_tree(other_machine(store, tmp_path).get(ref.digest)) == {"iris.csv": b"a,b\n1,2\n"}


# --- object stores only -----------------------------------------------------------------------


@pytest.fixture(params=["s3", "gs"])
def remote(request: pytest.FixtureRequest, project: Path) -> RemoteArtifactStore:
    url = request.getfixturevalue("s3_url" if request.param == "s3" else "gcs_url")
    s = ArtifactStore.from_url(url, project)
    assert isinstance(s, RemoteArtifactStore)
    return s


def test_only_the_marker_makes_an_uploaded_artifact_exist(remote: RemoteArtifactStore, src: Path) -> None:
    def crash(*args: Any) -> None:
        raise KeyboardInterrupt  # interrupted after every file was uploaded

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(remote, "_write_marker", crash)
        with pytest.raises(KeyboardInterrupt):
            remote.put(src)
    digest = hash_tree(src)
    assert remote.fs.exists(f"{remote.key(digest)}/model.bin")
    assert not remote.exists(digest)
    with pytest.raises(ArtifactNotFound):
        remote.get(digest)
    assert remote.put(src).digest == digest
    assert remote.exists(digest)


def test_downloads_are_cached_read_only(remote: RemoteArtifactStore, src: Path, project: Path) -> None:
    ref = remote.put(src)
    got = remote.get(ref.digest)
    assert got == project / ".zplan/cache/artifacts" / ref.digest
    assert all(not p.stat().st_mode & stat.S_IWUSR for p in got.rglob("*") if p.is_file())
    assert not any((project / ".zplan/cache/artifacts/.tmp").iterdir())
    remote.fs.rm(remote.key(ref.digest), recursive=True)  # the cache no longer needs the store
    assert remote.get(ref.digest) == got


def _forge_marker(fs: Any, key: str, files: dict[str, int]) -> None:
    digest = key.rsplit("/", 1)[1]
    fs.pipe_file(f"{key}/{MARKER}", json.dumps({"hash": digest, "files": files}).encode())


@pytest.mark.parametrize(
    "damage,why",
    [
        (lambda fs, key: fs.pipe_file(f"{key}/model.bin", b"tampered"), "do not hash to its digest"),
        (lambda fs, key: fs.rm_file(f"{key}/meta/info.json"), "its file 'meta/info.json' is missing"),
        (lambda fs, key: fs.pipe_file(f"{key}/{MARKER}", b"{not json"), "marker is not valid JSON"),
        (lambda fs, key: _forge_marker(fs, key, {"../../escape": 1}), "names files outside the artifact"),
        (lambda fs, key: _forge_marker(fs, key, {"/abs": 1}), "names files outside the artifact"),
    ],
)
def test_a_corrupted_remote_artifact_is_detected_on_get(
    remote: RemoteArtifactStore, src: Path, tmp_path: Path, damage: Any, why: str
) -> None:
    ref = remote.put(src)
    damage(remote.fs, remote.key(ref.digest))
    reader = other_machine(remote, tmp_path)
    with pytest.raises(ArtifactCorrupted) as e:
        reader.get(ref.digest)
    assert why in str(e.value)
    assert f"artifact damaged (digest mismatch): {ref.digest} in {remote.url}" in str(e.value)
    assert not [p for p in (tmp_path / "elsewhere-cache").rglob("*") if p.is_file()]  # nothing kept


def test_a_missing_bucket_is_a_clear_error(remote: RemoteArtifactStore, src: Path, project: Path) -> None:
    store = ArtifactStore.from_url(f"{remote.protocol}://no-such-bucket-zplan/x", project)
    with pytest.raises(ArtifactStoreError, match=f"artifact store {store.protocol}://no-such-bucket-zplan/x failed"):
        store.put(src)


def test_the_endpoint_can_come_from_options(
    request: pytest.FixtureRequest, src: Path, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    s3 = request.getfixturevalue("s3_server")
    gcs = request.getfixturevalue("gcs_server")
    for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION"):
        monkeypatch.setenv(k, s3.env[k])
    monkeypatch.setenv("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("STORAGE_EMULATOR_HOST", raising=False)
    stores = [
        ArtifactStore.from_url(s3.url("opts"), project, options={"endpoint_url": s3.endpoint}),
        ArtifactStore.from_url(gcs.url("opts"), project, options={"endpoint_url": gcs.endpoint, "token": "anon"}),
    ]
    for s in stores:
        ref = s.put(src)
        assert s.exists(ref.digest)


def _put_in_child(s: ArtifactStore, src: str) -> str:
    return s.put(Path(src)).digest


def test_a_store_made_before_a_fork_works_in_the_child(s3_url: str, project: Path, tmp_path: Path) -> None:
    s = ArtifactStore.from_url(s3_url, project)
    s.exists("0" * 32)  # the client exists in the parent before the fork
    srcs = [str(make_tree(tmp_path / f"out{i}", {"f": bytes([i]) * 10})) for i in range(2)]
    with multiprocessing.get_context("fork").Pool(2) as pool:
        digests = pool.starmap(_put_in_child, [(s, p) for p in srcs])
    assert all(s.exists(d) for d in digests)


def test_a_steps_output_folder_is_stored_in_every_store_and_only_a_local_one_leaves_its_syncs_to_the_caller(
    store: ArtifactStore, url: str
) -> None:
    with store.staging() as folder:
        make_tree(folder, FILES)
        expected = hash_tree(folder)
        ref = store.put_owned(folder, sync=False)
    assert ref.digest == expected
    assert read_tree(store.get(ref.digest, verify=True)) == dict(FILES)
    if url.startswith("file://"):
        assert set(ref.unsynced) == set(FILES)  # moved in unsynced: the caller queues it (sync_stored)
        store.sync_stored(ref.digest, ref.unsynced)
    else:
        assert ref.unsynced == ()  # an upload is durable once the store has acknowledged it: nothing changes
    store.wait_synced()


def test_a_writer_that_may_not_replace_objects_still_reuses_an_artifact_already_there(remote: RemoteArtifactStore, src: Path,
                                                                                      tmp_path: Path) -> None:
    """A Kubeflow/Vertex task's account may create objects but not replace them (GCS's
    objectCreator role): renewing the marker's time is refused, and storing an artifact that
    is already there goes on as before (it is only renewed where the store allows it)."""
    ref = remote.put(src)
    fs = remote.fs
    real = fs.pipe_file

    def refuse_replacing(path: str, data: bytes, **kw: Any) -> None:
        if fs.exists(path):
            raise PermissionError(f"Forbidden: {path}")  # (gcsfs raises OSError("Forbidden: ..."), s3fs PermissionError)
        real(path, data, **kw)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(fs, "pipe_file", refuse_replacing)
        assert remote.put(make_tree(tmp_path / "again", FILES)) == ref
    assert read_tree(other_machine(remote, tmp_path).get(ref.digest)) == FILES
