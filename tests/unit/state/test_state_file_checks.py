"""The state document checks shared by the file and MySQL backends, and the backup the file backend keeps."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from zplan.diags import DiagnosticError
from zplan.hashing import hash_bytes
from zplan.state.backend import FileBackend
from zplan.state.checks import StateDamaged, dump_document, not_finite_path, parse_document
from zplan.state.model import FORMAT_VERSION, empty


@pytest.mark.parametrize(
    "raw, why",
    [
        (b"", "not valid JSON"),
        (b'{"format_version": 2, "ser', "not valid JSON"),
        (b"\xff\xfe\x00garbage", "not text"),
        (b"{}", "no format_version"),
        (b"null", "holds null"),
        (b"[]", "JSON list"),
        (b'{"format_version": 2, "serial": 1, "lineage": "x", "resources": {}, "stores": {}, "outputs": {}, "n": NaN}', "NaN is not valid JSON"),
        (b'{"format_version": 2, "serial": "1", "lineage": "x", "resources": {}, "stores": {}, "outputs": {}}', "'serial'"),
    ],
)
def test_what_is_not_a_state_document_is_refused_naming_where(raw: bytes, why: str) -> None:
    with pytest.raises(StateDamaged) as e:
        parse_document(raw, "state file S", "restore it")
    assert str(e.value).startswith("error: state file S is damaged: ")
    assert why in str(e.value) and "restore it" in str(e.value)


def test_state_from_a_newer_zplan_says_to_run_that_zplan_not_to_restore_or_delete_it() -> None:
    with pytest.raises(DiagnosticError) as e:
        parse_document(b'{"format_version": 99, "serial": 4}', "state file S", "restore it")
    message = str(e.value)
    assert message.startswith(f"error: state file S was written by a newer zplan (state format 99; this one reads up to {FORMAT_VERSION})")
    assert "damaged" not in message and "restore it" not in message and "upgrade zplan to the version that wrote it" in message


def test_a_sound_document_reads_back() -> None:
    doc = empty()
    assert parse_document(dump_document(doc), "s", "") == doc
    assert doc["format_version"] == FORMAT_VERSION


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_nan_and_infinities_are_never_written_and_their_place_is_named(bad: float) -> None:
    doc = {**empty(), "stores": {"k": {"steps": {"a": {"outputs": {"x": {"value": [1, bad]}}}}}}}
    with pytest.raises(DiagnosticError, match=r"cannot record stores\.k\.steps\.a\.outputs\.x\.value\[1\]"):
        dump_document(doc)
    assert not_finite_path({"a": [1.0, {"b": 2}]}) is None


def test_the_file_backend_keeps_one_generation_of_backup(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    FileBackend(path).write({**empty(), "serial": 1})
    assert not path.with_name("state.json.backup").exists()  # nothing before the first write
    second = FileBackend(path)
    second.write({**empty(), "serial": 2})
    second.write({**empty(), "serial": 3})  # later writes of the same command keep the first backup
    assert json.loads(path.with_name("state.json.backup").read_text())["serial"] == 1
    FileBackend(path).write({**empty(), "serial": 4})
    assert json.loads(path.with_name("state.json.backup").read_text())["serial"] == 3


def test_a_failed_nan_write_leaves_the_state_file_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    backend = FileBackend(path)
    backend.write(empty())
    before = path.read_bytes()
    with pytest.raises(DiagnosticError):
        backend.write({**empty(), "outputs": {"s": {"x": {"value": float("nan")}}}})
    assert path.read_bytes() == before


def _with(edit) -> bytes:
    doc = {**empty(), "resources": {"resource.t.r": {"type": "t", "provider": "p", "inputs": {}, "attributes": {"a": 1}}},
           "stores": {"k": {"steps": {"pipeline.p.step.s": {"status": "succeeded", "outputs": {"o": {"digest": "d", "uri": "u"}}}},
                            "cache": {"c1": {"address": "pipeline.p.step.s", "outputs": {"o": {"digest": "d", "uri": "u"}}}}}},
           "outputs": {"local": {"x": {"value": 1}}}}
    edit(doc)
    return json.dumps(doc).encode()


@pytest.mark.parametrize(
    "edit, named",
    [
        (lambda d: d["resources"]["resource.t.r"].update(attributes=None), 'resource resource.t.r: "attributes" is null, not an object'),
        (lambda d: d["resources"].update({"resource.t.r": 5}), "resource resource.t.r is a number, not an object"),
        (lambda d: d["resources"]["resource.t.r"].pop("type"), 'resource resource.t.r: "type" is missing'),
        (lambda d: d["stores"]["k"]["steps"].update({"pipeline.p.step.s": "x"}), "step record pipeline.p.step.s (store k) is a string"),
        (lambda d: d["stores"]["k"]["steps"]["pipeline.p.step.s"].update(outputs=[]), '"outputs" is a list, not an object or null'),
        (lambda d: d["stores"]["k"]["steps"]["pipeline.p.step.s"]["outputs"].update(o=3), 'output "o" of step record pipeline.p.step.s'),
        (lambda d: d["stores"]["k"]["cache"]["c1"].pop("outputs"), 'cache entry c1 of pipeline.p.step.s (store k): "outputs" is missing'),
        (lambda d: d["stores"]["k"]["cache"]["c1"]["outputs"]["o"].update(digest=None), '"digest" is null, not a string'),
        (lambda d: d["stores"]["k"].pop("cache"), 'store k: "cache" is missing'),
        (lambda d: d["outputs"]["local"].update(x=[1]), 'output "x" of stack "local" is a list'),
    ],
)
def test_a_damaged_entry_is_refused_naming_its_address(edit, named: str) -> None:
    with pytest.raises(StateDamaged) as e:
        parse_document(_with(edit), "state file S", "restore it")
    assert named in str(e.value) and "restore it" in str(e.value)


@pytest.mark.parametrize(
    "edit",
    [
        lambda d: None,
        lambda d: d["resources"]["resource.t.r"].pop("inputs"),  # optional fields may be left out
        lambda d: d["stores"]["k"]["steps"]["pipeline.p.step.s"].update(outputs=None, fingerprint=None),  # a failed step
        lambda d: d.update(format_version=1, outputs={"x": {"value": 1}}),  # format 1's outputs are not per stack
    ],
)
def test_entries_as_zplan_writes_them_are_accepted(edit) -> None:
    raw = _with(edit)
    assert parse_document(raw, "s", "") == json.loads(raw)


def test_a_decoded_copy_made_before_entries_were_checked_is_not_trusted(tmp_path: Path) -> None:
    from zplan.state import decoded

    path = tmp_path / "state.json"
    raw = _with(lambda d: d["resources"]["resource.t.r"].update(attributes=None))
    path.write_bytes(raw)
    kept = tmp_path / "cache" / "state.json.decoded"
    decoded.save(kept, hash_bytes(raw), json.loads(raw))  # as a zplan that did not check entries left it
    kept.write_bytes(kept.read_bytes().replace(b"zplan-state-decoded 2 ", b"zplan-state-decoded 1 "))
    with pytest.raises(StateDamaged, match="resource.t.r"):
        FileBackend(path).read()


def test_a_write_the_os_refuses_names_the_file_and_leaves_the_state_whole(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    FileBackend(path).write({**empty(), "serial": 1})
    before = path.read_bytes()
    path.with_name("state.json.backup").mkdir()  # a folder where the backup goes: the OS refuses to replace it
    with pytest.raises(DiagnosticError) as e:
        FileBackend(path).write({**empty(), "serial": 2})
    assert str(e.value).startswith(f"error: cannot record the state: writing {path}.backup (the copy of state.json kept before a command changes it) failed: Is a directory")
    assert "state.json was left as it was before this write" in str(e.value)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json", "state.json.backup"]  # no temporary file left


def test_a_state_file_that_is_a_link_is_written_through_it(tmp_path: Path) -> None:
    shared = tmp_path / "shared" / "state.json"
    FileBackend(shared).write({**empty(), "serial": 1})
    path = tmp_path / "project" / "state.json"
    path.parent.mkdir()
    path.symlink_to(shared)
    FileBackend(path).write({**empty(), "serial": 2})
    assert path.is_symlink() and json.loads(shared.read_text())["serial"] == 2
    assert json.loads(path.with_name("state.json.backup").read_text())["serial"] == 1


def test_a_state_write_syncs_the_folder_after_its_rename_and_the_decoded_copy_does_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A power loss right after an apply must not bring the old state.json back: the rename is in
    the folder's entries, which reach the disk only when the folder itself is synced."""
    import zplan.fsutil as fsutil

    events: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(fsutil.os, "fsync", lambda fd: (events.append("sync " + os.readlink(f"/proc/self/fd/{fd}")), real_fsync(fd))[1])
    monkeypatch.setattr(fsutil.os, "replace", lambda a, b: (events.append("rename " + Path(b).name), real_replace(a, b))[1])
    folder = tmp_path / "zplan"
    FileBackend(folder / "state.json").write({**empty(), "serial": 1}, keep_decoded=True)
    renamed = events.index("rename state.json")
    assert events[renamed - 1].startswith(f"sync {folder}/.state.json.")  # the bytes, then the name
    assert events[renamed + 1] == f"sync {folder}"
    assert events[renamed + 2:] == ["rename state.json.decoded"]  # a cache: rebuilt when lost, never synced
