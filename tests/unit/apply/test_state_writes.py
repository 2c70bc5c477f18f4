"""An apply's state writes when the OS refuses one: a real file backend whose folder is, for a while,
a plain file (every write fails with "Not a directory"), then a folder again."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from zplan.apply.state_writes import RECOVERY_NAME, Recovery, StateWrites
from zplan.diags import DiagnosticError
from zplan.state.backend import FileBackend
from zplan.state.model import ResourceRecord, State, StepRecord

THING = "resource.local_directory.d"
STEP = "pipeline.p.step.s"


def _writes(tmp_path: Path) -> tuple[StateWrites, FileBackend, State]:
    backend = FileBackend(tmp_path / "zplan" / "state.json")
    state = State()
    backend.write(state.doc)  # what was recorded before the apply
    writes = StateWrites(lambda s: FileBackend(backend.path).write(s.doc), lambda s: FileBackend(backend.path).write(s.doc),
                         Recovery(backend.read, (tmp_path / "zplan", tmp_path / "project")))
    return writes, backend, state


def _folder_becomes_a_file(folder: Path) -> None:
    (folder.parent / "kept").mkdir()
    folder.rename(folder.parent / "kept" / folder.name)
    folder.write_text("not a folder")


def _folder_comes_back(folder: Path) -> None:
    folder.unlink()
    (folder.parent / "kept" / folder.name).rename(folder)


def _changes(state: State) -> None:
    state.put_resource(THING, ResourceRecord("local_directory", "local", {"path": "d"}, {"id": "d"}))
    state.put_step("k", STEP, StepRecord("succeeded", "c1", {}, {}, 1))


def test_a_failed_write_stops_the_writes_until_the_last_which_tries_again(tmp_path: Path):
    writes, backend, state = _writes(tmp_path)
    _folder_becomes_a_file(backend.path.parent)
    _changes(state)
    writes.write(state)
    assert writes.failed is not None and "Not a directory" in writes.failed.summary
    _folder_comes_back(backend.path.parent)
    writes.write(state)  # not tried again before the last write
    assert backend.read()["resources"] == {}
    with pytest.raises(DiagnosticError) as e:
        writes.write_last(state, ["pipeline.p.step.after"])
    assert "the apply stopped there: pipeline.p.step.after did not run" in str(e.value)
    assert "what ran is recorded (a later write succeeded)" in str(e.value)
    assert THING in backend.read()["resources"]


def test_a_last_write_that_fails_keeps_the_unrecorded_state_and_names_what_it_holds(tmp_path: Path):
    writes, backend, state = _writes(tmp_path)
    (tmp_path / "project").mkdir()
    _changes(state)
    folder = backend.path.parent
    _folder_becomes_a_file(folder)
    with pytest.raises(DiagnosticError) as e:
        writes.write_last(state, [])
    message = str(e.value)
    assert f"that was its last write, and these ran but are not recorded in state: {STEP}, {THING}" in message
    kept = tmp_path / "project" / RECOVERY_NAME  # the state folder refuses writes: the next place
    assert f"is kept in {kept}: once that can be written, put it in place with `zplan state push {kept}`" in message
    assert json.loads(kept.read_text()) == state.doc
    _folder_comes_back(folder)
    assert backend.read()["resources"] == {}  # what the failed write left: the state before it


def test_with_nowhere_to_keep_it_the_unrecorded_state_is_named_only(tmp_path: Path):
    writes, backend, state = _writes(tmp_path)
    (tmp_path / "project").write_text("not a folder either")
    _changes(state)
    _folder_becomes_a_file(backend.path.parent)
    with pytest.raises(DiagnosticError) as e:
        writes.write_last(state, [])
    assert f"these ran but are not recorded in state: {STEP}, {THING}" in str(e.value)
    assert "could not be kept either" in str(e.value) and "import it, or delete it by hand" in str(e.value)
