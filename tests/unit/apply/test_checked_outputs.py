"""An upstream output a worker of this machine wrote earlier in the same apply was hashed as it was stored:
the step reading it checks its stamps (sizes, mtimes, the folder's listing), not every byte again. One found
stored by an earlier apply, or read through another process's view, is rehashed like any artifact."""

from __future__ import annotations

import importlib
import os
from pathlib import Path

import pytest

from zplan.apply.applier import Applier
from zplan.apply.runner import StepRunner
from zplan.apply.step_failures import InputDamaged
from zplan.apply.worker import ArtifactArg, _load_input
from zplan.artifacts.materializers import get_materializer
from zplan.artifacts.store import ArtifactStore
from zplan.state.model import State

from tests.unit.plan.inprocess import plan, write_project

local_module = importlib.import_module("zplan.artifacts.local")

HCL = '''
stack "local" {
  orchestrator   = "local"
  artifact_store = "file://.zplan/artifacts"
  metadata_store = "sqlite:///.zplan/metadata.db"
}

pipeline "p" {
  step "make" {
    source = "steps.py:make"
  }
  step "use" {
    source = "steps.py:use"
    inputs = { blob = step.make.outputs.output }
  }
}
'''

STEPS = '''
def make():
    return b"x" * 300_000  # a manifest is kept beside it (at least 256 KiB)


def use(blob) -> int:
    return len(blob)
'''

MAKE, USE = "pipeline.p.step.make", "pipeline.p.step.use"


def _apply(root: Path, state: State, seen: dict, monkeypatch: pytest.MonkeyPatch, **request) -> None:
    real = StepRunner.task

    def task(self, step_plan, local_worker=False):
        built = real(self, step_plan, local_worker)
        seen[step_plan.address] = built.inputs
        return built

    monkeypatch.setattr(StepRunner, "task", task)
    made, planner, _ = plan(root, state, **request)
    result = Applier(planner, made, state, lambda s: None, parallelism=1).apply()
    assert result.ok, result.outcome


def test_an_output_written_in_this_apply_is_handed_on_checked_and_one_stored_before_it_is_not(tmp_path, monkeypatch):
    root = write_project(tmp_path, HCL)
    (root / "steps.py").write_text(STEPS)
    state, seen = State(), {}
    _apply(root, state, seen, monkeypatch)
    assert seen[USE]["blob"].checked  # its upstream ran in this apply
    seen.clear()
    _apply(root, state, seen, monkeypatch, replace=[USE])  # its upstream is cached: stored by the apply before
    assert not seen[USE]["blob"].checked
    seen.clear()
    _apply(root, state, seen, monkeypatch, replace=[MAKE, USE])  # its upstream reran and found its output stored already
    assert not seen[USE]["blob"].checked  # (only its stamps were checked: a byte flipped in place is found by the rehash)


def test_the_worker_skips_the_rehash_of_a_checked_output_but_still_sees_it_truncated(tmp_path, monkeypatch):
    value = os.urandom(local_module.MANIFEST_MIN_BYTES)
    writer = ArtifactStore.from_url(f"file://{tmp_path / 'store'}", tmp_path)
    with writer.staging() as folder:
        get_materializer("bytes").save(value, folder)
        stored = writer.put_owned(folder)
    store = ArtifactStore.from_url(f"file://{tmp_path / 'store'}", tmp_path)  # another worker's view: the manifest only
    hashed: list[str] = []
    real = local_module.hash_file
    monkeypatch.setattr(local_module, "hash_file", lambda p: (hashed.append(str(p)), real(p))[1])
    assert _load_input(store, "blob", ArtifactArg(stored.digest, "bytes", checked=True)) == value
    assert hashed == []  # a worker of this apply hashed these bytes as it stored them
    _load_input(store, "blob", ArtifactArg(stored.digest, "bytes"))
    assert len(hashed) == 1  # any other read rehashes every byte
    [victim] = store.get(stored.digest).iterdir()
    os.chmod(victim, 0o644)
    victim.write_bytes(b"short")
    with pytest.raises(InputDamaged, match="artifact damaged"):
        _load_input(store, "blob", ArtifactArg(stored.digest, "bytes", checked=True))
