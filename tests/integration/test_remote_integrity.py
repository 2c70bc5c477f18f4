"""Object stores: existence in one listing per prefix, verified reads of cached downloads, check()."""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path
from typing import Any

import pytest

from tests.cli.helpers import TESTDATA, cli_env, copy_project
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


def test_show_lists_a_large_output_by_its_uri_when_the_store_cannot_be_reached(tmp_path: Path, s3_url: str) -> None:
    """`show` reads state: a JSON output too large for state whose artifact cannot be read leaves its
    URI, as for a missing artifact, rather than failing the whole view; `zplan output` says why."""
    project = copy_project(TESTDATA / "pipeline", tmp_path / "pipeline")
    project.replace("main.zp.hcl", 'artifact_store = "file://.zplan/artifacts"', f'artifact_store = "{s3_url}"')
    project.write("big.zp.hcl", 'pipeline "big" {\n  step "metrics" {\n    source = "big.py:metrics"\n  }\n}\n\n'
                                'output "metrics" {\n  value = step.metrics.outputs.output\n}\n')
    project.write("big.py", "def metrics():\n    return {f'k{i}': i for i in range(1000)}\n")
    project.ok("apply", "-auto-approve")
    assert '"k999": 999' in project.ok("show").out
    downloads = ArtifactStore.from_url(s3_url, project.root).cache_dir
    shutil.rmtree(downloads)  # as on another machine: the value is in the bucket only
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]  # nothing listens there once the socket is closed
    env = cli_env(AWS_ENDPOINT_URL=f"http://127.0.0.1:{closed}")
    shown = project.run("show", env=env, timeout=300)
    assert shown.code == 0 and "Traceback" not in shown.err, str(shown)
    assert f"metrics = \"{s3_url}/" in shown.out, str(shown)
    failed = project.run("output", "metrics", env=env, timeout=300)
    assert failed.code == 1 and f"Error: artifact store {s3_url}" in failed.err, str(failed)


def test_steps_on_an_object_store_leave_no_thread_and_keep_their_worker(tmp_path: Path, s3_url: str) -> None:
    """The store's S3 client runs on fsspec's event loop, whose default executor starts threads of its
    own (asyncio_0) as a step's inputs are read or its outputs stored: they are the store's, kept for
    every step, not threads the step left (which would end its worker and be reported after each step)."""
    project = copy_project(TESTDATA / "pipeline", tmp_path / "pipeline")
    project.replace("main.zp.hcl", 'artifact_store = "file://.zplan/artifacts"', f'artifact_store = "{s3_url}"')
    done = project.ok("apply", "-auto-approve", "-parallelism", "1")
    assert "left" not in done.text and "thread" not in done.text, str(done)
