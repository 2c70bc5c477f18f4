"""`zplan gc` on object stores: the moto S3 server and the GCS emulator (issue 20 item 3).
The objects of what goes are really gone from the bucket; an unreachable store is one error."""

from __future__ import annotations

import json
import re
import socket
import time
from pathlib import Path

import pytest

from tests.cli.helpers import TESTDATA, Project, cli_env, copy_project
from zplan.artifacts import ArtifactStore

pytestmark = pytest.mark.slow


def on_store(tmp_path: Path, url: str) -> Project:
    """The small pipeline with its artifacts at ``url`` (metadata and state stay local)."""
    project = copy_project(TESTDATA / "pipeline", tmp_path / "pipeline")
    project.replace("main.zp.hcl", 'artifact_store = "file://.zplan/artifacts"', f'artifact_store = "{url}"')
    return project


@pytest.mark.parametrize("server", ["s3", "gcs"])
def test_gc_removes_the_older_runs_artifacts_from_the_bucket(tmp_path: Path, server: str, request) -> None:
    url = request.getfixturevalue(f"{server}_url")
    project = on_store(tmp_path, url)
    env = cli_env()
    for c in ("2", "3", "4"):
        project.ok("apply", "-auto-approve", "-var", f"c={c}", env=env)
    store = ArtifactStore.from_url(url, project.root)
    before = {a.digest: a.size for a in store.listing()}
    assert all(a.uri.startswith(url + "/") for a in store.listing())

    dry = project.ok("gc", "-grace", "0", "-keep-runs", "1", "-dry-run", env=env)
    going = set(re.findall(r"^  - ([0-9a-f]{32})", dry.out, re.M))
    assert len(going) == 4  # scale and total of runs 1 and 2
    assert f"freeing {sum(before[d] for d in going)} B" in dry.out
    assert {a.digest for a in store.listing()} == set(before)

    done = project.ok("gc", "-grace", "0", "-keep-runs", "1", env=env)
    assert "Removed 4 artifact(s)" in done.out
    after = {a.digest for a in store.listing()}
    assert after == set(before) - going
    for digest in going:
        assert not store.exists(digest)
        assert not store.fs.exists(store.key(digest))  # no object left under its prefix
    assert project.ok("verify", env=env).code == 0
    assert "No changes." in project.ok("plan", "-var", "c=4", env=env).out


def test_an_unreachable_store_is_one_clear_error_and_nothing_changes(tmp_path: Path, s3_url: str) -> None:
    project = on_store(tmp_path, s3_url)
    project.ok("apply", "-auto-approve")
    state = project.state()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]  # nothing listens there once the socket is closed
    result = project.run("gc", env=cli_env(AWS_ENDPOINT_URL=f"http://127.0.0.1:{closed}"), timeout=300)
    assert result.code == 1 and "Traceback" not in result.err
    assert f"Error: artifact store {s3_url}" in result.err
    assert project.state() == state


@pytest.mark.parametrize("server", ["s3", "gcs"])
def test_an_upload_still_in_progress_is_never_listed_nor_removed(tmp_path: Path, server: str, request) -> None:
    url = request.getfixturevalue(f"{server}_url")
    project = on_store(tmp_path, url)
    project.ok("apply", "-auto-approve")
    store = ArtifactStore.from_url(url, project.root)
    digest = "ab" * 16
    store.fs.pipe_file(f"{store.key(digest)}/model.bin", b"half written")  # no completion marker yet
    assert digest not in {a.digest for a in store.listing()}
    result = project.ok("gc", "-keep-runs", "0")
    assert digest not in result.out and "Kept 1 incomplete upload(s)" in result.out
    assert store.fs.exists(f"{store.key(digest)}/model.bin")


@pytest.mark.parametrize("server", ["s3", "gcs"])
def test_objects_left_without_a_marker_go_once_older_than_the_grace_period(tmp_path: Path, server: str, request) -> None:
    """An upload killed before its completion marker, and a gc cut short between an artifact's
    marker and its files, leave objects no artifact owns: gc lists them and deletes them once
    they are older than -grace, and nothing else."""
    url = request.getfixturevalue(f"{server}_url")
    project = on_store(tmp_path, url)
    project.ok("apply", "-auto-approve")
    store = ArtifactStore.from_url(url, project.root)
    killed = "ab" * 16
    store.fs.pipe_file(f"{store.key(killed)}/part-0.bin", b"\1" * 300)
    stray = tmp_path / "stray"
    stray.mkdir()
    (stray / "model.bin").write_bytes(b"\2" * 700)
    cut_short = store.put(stray).digest
    store.fs.rm_file(f"{store.key(cut_short)}/.zplan-complete")  # what a gc killed after the marker leaves
    kept = {a.digest for a in store.listing()}
    assert project.ok("gc", "-keep-runs", "0").out.count("Kept 2 incomplete upload(s)") == 1

    time.sleep(2.1)  # (S3 counts whole seconds)
    dry = project.ok("gc", "-grace", "1s", "-dry-run")
    assert set(re.findall(r"^  - ([0-9a-f]{32}) .*\(incomplete upload", dry.out, re.M)) == {killed, cut_short}
    assert "Would remove 0 artifact(s) and 2 incomplete upload(s), freeing 1000 B" in dry.out
    assert store.fs.exists(f"{store.key(killed)}/part-0.bin") and store.fs.exists(f"{store.key(cut_short)}/model.bin")

    done = project.ok("gc", "-grace", "1s")
    assert "Removed 0 artifact(s) and 2 incomplete upload(s), freed 1000 B" in done.out
    assert not store.fs.exists(store.key(killed)) and not store.fs.exists(store.key(cut_short))
    assert store.inventory() == ([a for a in store.listing() if a.digest in kept], [])
    assert {a.digest for a in store.listing()} == kept
    assert project.ok("verify").code == 0


def test_the_parts_of_a_killed_multipart_upload_go_once_older_than_the_grace_period(tmp_path: Path, s3_url: str) -> None:
    """s3fs uploads a file of 50 MiB or more in parts; a process killed meanwhile leaves parts the
    bucket stores (and bills) but no listing shows: gc aborts that upload once it is older than -grace."""
    project = on_store(tmp_path, s3_url)
    project.ok("apply", "-auto-approve")
    store = ArtifactStore.from_url(s3_url, project.root)
    kept = {a.digest for a in store.listing()}
    killed, again = "cd" * 16, sorted(kept)[0]  # (again: an artifact stored whole, then its upload begun again and killed)
    bucket = s3_url.removeprefix("s3://").partition("/")[0]
    for digest, size in ((killed, 600), (again, 300)):
        key = f"{store.key(digest)}/model.bin".partition("/")[2]
        upload = store.fs.call_s3("create_multipart_upload", Bucket=bucket, Key=key)["UploadId"]
        store.fs.call_s3("upload_part", Bucket=bucket, Key=key, UploadId=upload, PartNumber=1, Body=b"\3" * size)
    assert "Kept 2 incomplete upload(s)" in project.ok("gc", "-keep-runs", "0").out

    time.sleep(2.1)  # (S3 counts whole seconds)
    dry = project.ok("gc", "-grace", "1s", "-dry-run")
    assert set(re.findall(r"^  - ([0-9a-f]{32}) .*\(incomplete upload", dry.out, re.M)) == {killed, again}
    assert "Would remove 0 artifact(s) and 2 incomplete upload(s), freeing 900 B" in dry.out
    done = project.ok("gc", "-grace", "1s")
    assert "Removed 0 artifact(s) and 2 incomplete upload(s)" in done.out
    assert not store.fs.call_s3("list_multipart_uploads", Bucket=bucket).get("Uploads")
    assert store.inventory()[1] == [] and {a.digest for a in store.listing()} == kept
    assert project.ok("verify").code == 0


@pytest.mark.parametrize("server", ["s3", "gcs"])
def test_what_was_stored_within_the_grace_period_stays_by_the_buckets_own_time(tmp_path: Path, server: str, request) -> None:
    """An output a running Kubeflow/Vertex task stored and has not recorded yet is referred to by
    nothing: gc keeps it while it is newer than -grace (24h by default), by the object's
    LastModified (S3) or updated (GCS) time."""
    url = request.getfixturevalue(f"{server}_url")
    project = on_store(tmp_path, url)
    project.ok("apply", "-auto-approve")
    stray = tmp_path / "stray"
    stray.mkdir()
    (stray / "model.bin").write_bytes(b"\2" * 700)
    store = ArtifactStore.from_url(url, project.root)
    orphan = store.put(stray)
    kept = project.ok("gc")
    assert orphan.digest not in kept.out and "Kept 1 artifact(s) nothing refers to for being stored in the last 24h" in kept.out
    assert "Would remove 0 artifact(s)" in project.ok("gc", "-grace", "1m", "-dry-run").out
    time.sleep(2.1)  # (S3 counts whole seconds)
    done = project.ok("gc", "-grace", "1s")
    assert re.findall(r"^  - ([0-9a-f]{32})", done.out, re.M) == [orphan.digest] and "Kept" not in done.out
    assert not store.exists(orphan.digest)


def test_gc_keeps_what_a_stack_with_its_own_mysql_state_refers_to(tmp_path: Path, s3_url: str, mysql_url: str) -> None:
    """dev (SQLite) and prod (MySQL: its state and runs in that database) share one bucket. gc on
    dev keeps everything prod refers to; without prod's password it refuses rather than delete blind."""
    project = on_store(tmp_path, s3_url)
    user_host_db = mysql_url.replace("zplan:zplan@", "zplan@")
    project.replace("main.zp.hcl", 'stack "local" {', f'''variable "db_password" {{
  type      = string
  default   = null
  sensitive = true
}}

stack "prod" {{
  artifact_store    = "{s3_url}/"
  metadata_store    = "{user_host_db}"
  metadata_password = var.db_password
}}

stack "dev" {{''')
    with_password = cli_env(ZPLAN_VAR_db_password="zplan")
    project.ok("apply", "-auto-approve", "-stack", "prod", "-var", "c=2", env=with_password)
    project.ok("apply", "-auto-approve", "-stack", "dev", "-var", "c=3")
    store = ArtifactStore.from_url(s3_url, project.root)
    before = {a.digest for a in store.listing()}

    refused = project.run("gc", "-stack", "dev", "-keep-runs", "0")
    assert refused.code == 1 and "Traceback" not in refused.err
    assert 'Error: stack "prod" may share the artifact store' in refused.err and "-ignore-stack prod" in refused.err
    assert {a.digest for a in store.listing()} == before

    done = project.ok("gc", "-grace", "0", "-stack", "dev", "-keep-runs", "0", env=with_password)
    assert "Removed 0 artifact(s)" in done.out and "also those of stack prod" in done.out
    assert {a.digest for a in store.listing()} == before
    assert project.ok("verify", "-stack", "prod", env=with_password).code == 0
    assert "No changes." in project.ok("plan", "-stack", "prod", "-var", "c=2", env=with_password).out
    assert "No changes." in project.ok("plan", "-stack", "dev", "-var", "c=3").out


def test_gc_on_one_stack_never_leaves_another_stacks_cache_entries_naming_what_it_deleted(tmp_path: Path, s3_url: str,
                                                                                        mysql_url: str) -> None:
    """prod keeps its state in its MySQL database: gc on dev cannot drop prod's cache entries, so it
    keeps every artifact they name (as it does for stacks sharing dev's state file), whatever -keep-runs says."""
    project = on_store(tmp_path, s3_url)
    project.replace("main.zp.hcl", 'stack "local" {', f'''variable "db_password" {{
  type      = string
  default   = null
  sensitive = true
}}

stack "prod" {{
  artifact_store    = "{s3_url}"
  metadata_store    = "{mysql_url.replace("zplan:zplan@", "zplan@")}"
  metadata_password = var.db_password
}}

stack "dev" {{''')
    env = cli_env(ZPLAN_VAR_db_password="zplan")
    for c in ("2", "3"):
        project.ok("apply", "-auto-approve", "-stack", "prod", "-var", f"c={c}", env=env)
    project.ok("apply", "-auto-approve", "-stack", "dev", "-var", "c=4")
    assert prod_actions(project, "c=2", env) == {"cached"}

    done = project.ok("gc", "-stack", "dev", "-keep-runs", "1", "-grace", "0", env=env)
    assert "Removed 0 artifact(s)" in done.out, done.out
    assert project.ok("verify", "-stack", "prod", env=env).code == 0
    assert "No changes." in project.ok("plan", "-stack", "prod", "-var", "c=3", env=env).out
    assert prod_actions(project, "c=2", env) == {"cached"}


def prod_actions(project: Project, var: str, env: dict[str, str]) -> set[str]:
    return {s["action"] for s in json.loads(project.ok("plan", "-format", "json", "-stack", "prod", "-var", var, env=env).out)["steps"]}
