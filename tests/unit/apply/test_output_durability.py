"""A step's outputs are published by its worker unsynced; the apply syncs them on its background
thread and writes no state (step record, cache entry) or lineage naming one before it is on disk."""

from __future__ import annotations

import json
import os
import sys
import threading
from pathlib import Path

import pytest

import zplan.fsutil as fsutil
from zplan.apply.applier import Applier
from zplan.artifacts.base import ArtifactStoreError
from zplan.artifacts.local import LocalArtifactStore
from zplan.hooks import Recorder
from zplan.metadata import MetadataStore
from zplan.state.model import State

from tests.unit.plan.inprocess import copy_pipeline, plan

pytestmark = pytest.mark.usefixtures("per_file_syncs")  # (each sync watched: file by file)


class Events:
    """What happened, in order: files synced, and state and lineage written with the digests they name."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.seen: list[tuple[str, str]] = []

    def add(self, kind: str, what: str) -> None:
        with self.lock:
            self.seen.append((kind, what))


def _recording_lineage(monkeypatch, events: Events) -> None:
    real_record = MetadataStore.record_executions

    def recording(self, run_id, records):
        named = [a.digest for r in records for a in r.outputs.values()]
        events.add("lineage", " ".join(named))
        return real_record(self, run_id, records)

    monkeypatch.setattr(MetadataStore, "record_executions", recording)


def _output_digests(state: State) -> set[str]:
    return _digests_in(json.dumps(state.doc, default=str))


def _digests_in(text: str) -> set[str]:
    import re

    return set(re.findall(r'"digest": "([0-9a-f]{32})"', text))


def test_state_and_lineage_name_an_output_only_once_its_files_are_on_disk(tmp_path, monkeypatch):
    events = Events()
    released = threading.Event()  # the disk holds every sync until someone waits for them
    real_sync, real_wait = fsutil.fsync_path, LocalArtifactStore.wait_synced

    def held_disk(path: str) -> None:
        released.wait(60)
        real_sync(path)
        events.add("synced", path)

    def waiting(self) -> None:
        released.set()
        real_wait(self)

    monkeypatch.setattr(fsutil, "fsync_path", held_disk)
    monkeypatch.setattr(LocalArtifactStore, "wait_synced", waiting)
    _recording_lineage(monkeypatch, events)
    root = copy_pipeline(tmp_path)
    state = State()
    made, planner, _ = plan(root, state)
    persist = lambda s: events.add("state", " ".join(sorted(_output_digests(s))))  # noqa: E731
    result = Applier(planner, made, state, persist, Recorder(), parallelism=1).apply()
    assert result.ok
    store = root / ".zplan" / "artifacts"
    outputs = {out["digest"] for entry in _step_records(state) for out in entry.values()}
    assert len(outputs) >= 3  # load, scale, total and count (two may hold the same value)
    for digest in outputs:
        folder = str(store / digest[:2] / digest) + "/"
        files = {p.as_posix() for p in Path(folder).rglob("*") if p.is_file()}
        first_sync = {path: i for i, (kind, path) in reversed(list(enumerate(events.seen))) if kind == "synced" and path in files}
        named = [i for i, (kind, what) in enumerate(events.seen) if kind in ("state", "lineage") and digest in what.split()]
        assert files and set(first_sync) == files and named, digest
        assert max(first_sync.values()) < min(named)  # every file of it synced before the first record naming it


def test_without_the_wait_state_would_name_an_output_before_its_sync(tmp_path, monkeypatch):
    """The test above means something: with the wait removed, a record names an unsynced output."""
    from zplan.apply.runner import StepRunner

    events = Events()
    apply_done = threading.Event()
    real_sync = fsutil.fsync_path

    def slow_disk(path: str) -> None:  # a disk slower than the whole apply, whatever the machine's load
        apply_done.wait(60)
        real_sync(path)
        events.add("synced", path)

    monkeypatch.setattr(fsutil, "fsync_path", slow_disk)
    monkeypatch.setattr(StepRunner, "snapshots_durable", lambda self: None)
    root = copy_pipeline(tmp_path)
    state = State()
    made, planner, _ = plan(root, state)
    persist = lambda s: events.add("state", " ".join(sorted(_output_digests(s))))  # noqa: E731
    try:
        Applier(planner, made, state, persist, Recorder(), parallelism=1).apply()
    finally:
        apply_done.set()
    first_state = next(what for kind, what in events.seen if kind == "state" and what)
    assert first_state and not any(kind == "synced" for kind, _ in events.seen[: events.seen.index(("state", first_state))])


def test_a_failed_output_sync_stops_the_apply_before_it_records_the_step(tmp_path, monkeypatch):
    import errno

    def failing(path: str) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(fsutil, "fsync_path", failing)
    written: list[State] = []
    root = copy_pipeline(tmp_path)
    (root / "main.zp.hcl").write_text((root / "main.zp.hcl").read_text().replace(
        'inputs = { raw = "data/numbers.txt" }', 'inputs = { raw = { path = "data/numbers.txt", snapshot = "reference" } }'))  # no snapshot: only outputs sync
    state = State()
    made, planner, _ = plan(root, state)
    with pytest.raises(ArtifactStoreError, match="could not write artifacts to disk.*Input/output error"):
        Applier(planner, made, state, lambda s: written.append(s), Recorder(), parallelism=1).apply()
    assert written == []  # raised where state would have been written: nothing recorded


def _step_records(state: State) -> list[dict]:
    """Each successful step record's outputs, from the state document."""
    found = []

    def walk(node):
        if isinstance(node, dict):
            if node.get("status") == "succeeded" and isinstance(node.get("outputs"), dict):
                found.append(node["outputs"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(state.doc)
    return found


def test_the_worker_publishes_outputs_unsynced_and_names_their_files(tmp_path, monkeypatch):
    """In the worker: no fsync on the step's path; the result lists each output's files for the parent."""
    import importlib

    from zplan.apply.worker import StepTask, run_step

    local_module = importlib.import_module("zplan.artifacts.local")
    inline: list[object] = []
    monkeypatch.setattr(local_module.os, "fsync", lambda fd: inline.append(fd))
    monkeypatch.setattr(local_module, "fsync_path", lambda path: inline.append(path))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))  # the worker puts the project folder on it
    project = tmp_path / "proj"
    package = f"outsteps_{os.getpid()}_{id(tmp_path)}"  # a name no other test's project has imported
    (project / package).mkdir(parents=True)
    (project / package / "make.py").write_text("def make():\n    return {'rows': [1, 2, 3]}\n")
    task = StepTask(address="step.make", project_dir=str(project), source_file=f"{package}/make.py", function="make", params={},
                    inputs={}, declared_outputs=None, artifact_store_url="file://.zplan/artifacts", run_id=1,
                    log_path=str(tmp_path / "make.log"), sync_outputs=False)
    result = run_step(task)
    assert result.ok, result.error
    digest = result.outputs["output"]["digest"]
    stored = project / ".zplan" / "artifacts" / digest[:2] / digest
    assert inline == []
    assert result.unsynced == {digest: tuple(p.relative_to(stored).as_posix() for p in sorted(stored.rglob("*")) if p.is_file())}
    assert all(p.stat().st_mode & 0o222 == 0 for p in stored.rglob("*") if p.is_file())  # read-only
    # a worker told to sync (a remote worker, a cluster) syncs before the rename and names nothing
    inline.clear()
    (project / package / "make.py").write_text("def make():\n    return {'rows': [4]}\n")
    sys.modules.pop(f"{package}.make", None)
    again = run_step(StepTask(**{**task.__dict__, "sync_outputs": True}))
    assert again.ok and again.unsynced == {} and inline
    sys.modules.pop(f"{package}.make", None)
    sys.modules.pop(package, None)
