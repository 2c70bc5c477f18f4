"""A step's worker stores its data snapshots itself, from the apply's scan of them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from zplan.apply.worker import PathArg, SnapshotArg, StepTask, run_step
from zplan.artifacts.snapshot import scanned_source
from zplan.artifacts.store import ArtifactStore
from zplan.hashing import StatCache

STEP = """from pathlib import Path
import os

def f(raw: Path):
    return [str(raw), raw.read_text()]

def writes(raw: Path):  # as a step running as root can: read-only modes do not stop it
    os.chmod(raw, 0o644)
    raw.write_text("MUTATED\\n")
    return "ok"

def touches(raw: Path):
    os.utime(raw)
    return "ok"
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch) -> Path:
    root = tmp_path / "project"
    (root / "data").mkdir(parents=True)
    (root / "data" / "numbers.txt").write_text("1\n2\n")
    module = f"steps_snap_{os.urandom(4).hex()}"  # (a module is imported once per process)
    (root / f"{module}.py").write_text(STEP)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(root))
    monkeypatch.setattr(f"{__name__}.MODULE", module)
    return root


MODULE = ""  # the project's step module (set by the fixture)


def _run(project: Path, arg, function: str = "f"):
    task = StepTask(address="pipeline.p.step.s", project_dir=str(project), source_file=f"{MODULE}.py", function=function,
                    params={}, inputs={"raw": arg}, declared_outputs=None, artifact_store_url="file://.zplan/artifacts",
                    run_id=1, log_path=str(project / "s.log"), sync_outputs=False)
    return run_step(task)


def _scanned(project: Path) -> tuple[ArtifactStore, SnapshotArg]:
    store = ArtifactStore.from_url("file://.zplan/artifacts", project)
    entries, digest = scanned_source(project / "data/numbers.txt", store, StatCache(None))
    return store, SnapshotArg("data/numbers.txt", tuple(entries), digest, is_file=True)


def test_the_worker_stores_the_snapshot_and_the_step_reads_it(project: Path) -> None:
    store, arg = _scanned(project)
    assert not store.exists(arg.digest)  # the scan stores nothing
    result = _run(project, arg)
    assert result.ok, result.error
    assert result.snapshots == {"data/numbers.txt": arg.digest}
    assert result.unsynced[arg.digest] == ("numbers.txt",)  # synced by the apply, off the step's path
    path, text = _value(store, result)
    assert text == "1\n2\n" and Path(path) == store.path(arg.digest) / "numbers.txt"


def _value(store: ArtifactStore, result) -> list:
    import json

    return json.loads((store.get(result.outputs["output"]["digest"]) / "value.json").read_text())


def test_an_input_changed_after_the_scan_is_refused(project: Path) -> None:
    store, arg = _scanned(project)
    (project / "data" / "numbers.txt").write_text("7\n2\n")  # same size, new bytes
    result = _run(project, arg)
    assert not result.ok and "changed while it was being stored" in result.error, result.error
    assert not store.exists(arg.digest) and result.snapshots == {}


def test_a_damaged_snapshot_already_stored_is_reported_as_a_damaged_input(project: Path) -> None:
    store, arg = _scanned(project)
    assert _run(project, arg).ok
    stored = store.path(arg.digest) / "numbers.txt"
    os.chmod(stored, 0o644)
    stored.write_text("9\n2\n")
    result = _run(project, arg)
    assert not result.ok and result.damaged == {arg.digest: result.error}
    assert "input raw: artifact damaged" in result.error


def test_a_step_that_writes_into_its_snapshot_fails_and_the_snapshot_is_stored_again(project: Path) -> None:
    store, arg = _scanned(project)
    result = _run(project, arg, "writes")
    assert not result.ok and result.outputs == {}
    assert result.error == ("the step wrote into its input snapshot data/numbers.txt; inputs are read-only: "
                            "write to an output instead (it was stored again from the data)"), result.error
    assert (store.path(arg.digest) / "numbers.txt").read_text() == "1\n2\n"
    assert store.check(arg.digest) == "intact"
    again = _run(project, arg)
    assert again.ok and _value(store, again)[1] == "1\n2\n"


def test_a_step_that_only_touches_its_snapshot_passes(project: Path) -> None:
    _, arg = _scanned(project)
    assert _run(project, arg, "touches").ok


def test_a_snapshot_stored_by_the_apply_is_checked_after_the_step_too(project: Path) -> None:
    store = ArtifactStore.from_url("file://.zplan/artifacts", project)
    stored = store.put(project / "data/numbers.txt")
    arg = PathArg(str(stored.folder / "numbers.txt"), stored.digest, checked=True)
    result = _run(project, arg, "writes")
    assert not result.ok and 'the step wrote into its input snapshot of input "raw"' in result.error, result.error
    assert "it will be stored again from the data when a step next reads it" in result.error
    assert not store.exists(stored.digest)  # dropped: never served again
