"""An apply syncs snapshots while steps run, and writes no state or lineage naming one before it is on disk."""

from __future__ import annotations

import threading
import time

import pytest

import zplan.fsutil as fsutil
from zplan.apply.applier import Applier
from zplan.hooks import Recorder
from zplan.metadata import MetadataStore
from zplan.state.model import State

from tests.unit.plan.inprocess import copy_pipeline, plan

SNAPSHOTTED = "numbers.txt"  # the pipeline's one data input


def _applied(tmp_path, monkeypatch, events: list[tuple[str, str]], lock: threading.Lock):
    """The pipeline applied in this process, each write of lineage and state added to ``events``; its folder."""
    real_record = MetadataStore.record_executions

    def recording(self, run_id, records):
        with lock:
            events.append(("lineage", ",".join(r.address for r in records)))
        return real_record(self, run_id, records)

    def persist(s: State) -> None:
        with lock:
            events.append(("state", str(len(s.doc))))

    monkeypatch.setattr(MetadataStore, "record_executions", recording)
    root = copy_pipeline(tmp_path)
    state = State()
    made, planner, _ = plan(root, state)
    assert Applier(planner, made, state, persist, Recorder(), parallelism=1).apply().ok
    return root


@pytest.mark.usefixtures("per_file_syncs")
def test_state_and_lineage_are_written_only_once_the_snapshots_they_name_are_on_disk(tmp_path, monkeypatch):
    events: list[tuple[str, str]] = []
    lock = threading.Lock()
    real_sync = fsutil.fsync_path

    def slow_disk(path: str) -> None:  # each sync takes longer than the whole pipeline's steps
        time.sleep(0.3)
        real_sync(path)
        with lock:
            events.append(("synced", path))

    monkeypatch.setattr(fsutil, "fsync_path", slow_disk)
    _applied(tmp_path, monkeypatch, events, lock)
    snapshot_file = next(i for i, (kind, path) in enumerate(events) if kind == "synced" and path.endswith("/" + SNAPSHOTTED))
    writes = [i for i, (kind, _) in enumerate(events) if kind in ("state", "lineage")]
    assert writes and snapshot_file < min(writes)


@pytest.mark.usefixtures("whole_fs_syncs")
def test_synced_as_a_whole_file_system_state_and_lineage_still_wait_for_it(tmp_path, monkeypatch):
    """With little unwritten on the machine, the batch is one ``syncfs``: written down only after it returns."""
    events: list[tuple[str, str]] = []
    lock = threading.Lock()
    real_sync = fsutil.sync_file_system

    def slow_disk(folder: str):
        time.sleep(0.3)
        with lock:
            events.append(("synced", folder))
        return real_sync(folder)

    monkeypatch.setattr(fsutil, "sync_file_system", slow_disk)
    monkeypatch.setattr(fsutil, "fsync_path", lambda path: pytest.fail(f"{path} synced alone"))
    root = _applied(tmp_path, monkeypatch, events, lock)
    synced = [i for i, (kind, _) in enumerate(events) if kind == "synced"]
    writes = [i for i, (kind, _) in enumerate(events) if kind in ("state", "lineage")]
    assert synced and writes and synced[0] < min(writes)
    assert all(folder.startswith(str(root)) for kind, folder in events if kind == "synced")  # the store's file system


@pytest.mark.usefixtures("per_file_syncs")
def test_without_the_wait_the_first_state_write_would_come_before_the_sync(tmp_path, monkeypatch):
    """The test above means something: with the wait removed, the slow sync finishes last."""
    from zplan.apply.runner import StepRunner

    events: list[str] = []
    real_sync = fsutil.fsync_path
    apply_done = threading.Event()

    def slow_disk(path: str) -> None:  # a disk slower than the whole apply, whatever the machine's load
        apply_done.wait(timeout=60)
        real_sync(path)
        events.append("synced")

    monkeypatch.setattr(fsutil, "fsync_path", slow_disk)
    monkeypatch.setattr(StepRunner, "snapshots_durable", lambda self: None)
    root = copy_pipeline(tmp_path)
    state = State()
    made, planner, _ = plan(root, state)
    try:
        Applier(planner, made, state, lambda s: events.append("state"), Recorder(), parallelism=1).apply()
    finally:
        apply_done.set()
    assert "state" in events and "synced" not in events[: events.index("state")]
