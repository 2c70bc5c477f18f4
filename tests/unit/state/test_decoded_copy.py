"""The decoded copy of the state file (``zplan.state.decoded``): a cache that never changes what a read gives."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from zplan.state import decoded
from zplan.state.backend import FileBackend
from zplan.state.checks import StateDamaged
from zplan.state.model import State, StepRecord, empty


def _state_file(tmp_path: Path, doc: dict) -> FileBackend:
    (tmp_path / "cache").mkdir(exist_ok=True)
    backend = FileBackend(tmp_path / "state.json")
    backend.write(doc)
    return backend


def _copy(backend: FileBackend) -> Path:
    return backend.path.parent / "cache" / "state.json.decoded"


def _with_steps(n: int) -> dict:
    state = State()
    for i in range(n):
        outputs = {"output": {"digest": f"{i:032x}", "value": i * 0.5, "meta": {"ok": True, "none": None}}}
        state.put_step("store", f"pipeline.p.step.s[{i}]", StepRecord("succeeded", f"k{i}", {"params": {"i": i}}, outputs, 1, "t"))
    return state.doc


def test_a_read_from_the_copy_gives_what_the_json_gives(tmp_path):
    backend = _state_file(tmp_path, _with_steps(5))
    first = backend.read(keep_decoded=True)  # decodes the JSON and keeps the copy
    assert _copy(backend).exists() and (os.stat(_copy(backend)).st_mode & 0o077) == 0  # as private as the state
    second = backend.read(keep_decoded=True)  # from the copy
    assert first == second == json.loads(backend.path.read_text())
    assert second is not first and second["stores"] is not first["stores"]


def test_a_changed_state_file_is_decoded_again_whatever_its_stamps(tmp_path):
    backend = _state_file(tmp_path, _with_steps(3))
    backend.read(keep_decoded=True)
    before = os.stat(backend.path)
    text = backend.path.read_text().replace('"k1"', '"k9"')  # same size
    backend.path.write_text(text)
    os.utime(backend.path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert backend.read(keep_decoded=True) == json.loads(text)
    assert backend.read(keep_decoded=True) == json.loads(text)  # and the copy now follows the new bytes


@pytest.mark.parametrize("damage", [b"", b"garbage", "truncate", "flip", "other python"])
def test_a_damaged_or_foreign_copy_is_ignored(tmp_path, damage):
    backend = _state_file(tmp_path, _with_steps(3))
    expected = backend.read(keep_decoded=True)
    data = _copy(backend).read_bytes()
    if damage == "truncate":
        damage = data[: len(data) - 7]
    elif damage == "flip":
        damage = data[:-3] + bytes([data[-3] ^ 1]) + data[-2:]
    elif damage == "other python":
        damage = data.replace(b" python 3.", b" python 2.", 1)
    _copy(backend).write_bytes(damage)
    assert backend.read(keep_decoded=True) == expected


def test_a_copy_that_is_not_a_state_document_is_ignored(tmp_path):
    backend = _state_file(tmp_path, empty())
    backend.read(keep_decoded=True)
    digest = decoded.hash_bytes(backend.path.read_bytes())
    decoded.save(_copy(backend), digest, {"not": "a state"})
    assert backend.read(keep_decoded=True)["format_version"] == empty()["format_version"]


def test_a_damaged_state_file_is_refused_even_with_a_copy_of_its_former_bytes(tmp_path):
    backend = _state_file(tmp_path, _with_steps(2))
    backend.read(keep_decoded=True)
    backend.path.write_text('{"format_version": 2, "ser')
    with pytest.raises(StateDamaged):
        backend.read(keep_decoded=True)


def test_an_old_format_state_is_upgraded_the_same_from_the_copy(tmp_path):
    v1 = {k: v for k, v in _with_steps(2).items() if k != "outputs"} | {"format_version": 1, "outputs": {"x": {"value": 1}}}
    backend = _state_file(tmp_path, v1)
    from_json = State(backend.read(keep_decoded=True)).doc
    from_copy = State(backend.read(keep_decoded=True)).doc
    assert from_json == from_copy and from_copy["format_version"] == 2 and from_copy["outputs"] == {}


def test_a_read_only_caller_writes_no_copy_but_uses_one(tmp_path):
    backend = _state_file(tmp_path, _with_steps(3))
    assert backend.read() == json.loads(backend.path.read_text()) and not _copy(backend).exists()
    backend.read(keep_decoded=True)
    kept = os.stat(_copy(backend))
    backend.path.write_text(backend.path.read_text().replace('"k1"', '"k8"'))
    assert backend.read()["stores"]["store"]["steps"]["pipeline.p.step.s[1]"]["cache_key"] == "k8"  # stale: not used
    assert os.stat(_copy(backend)).st_mtime_ns == kept.st_mtime_ns  # nor rewritten


def test_without_a_cache_folder_the_state_reads_as_before_and_one_is_made(tmp_path):
    backend = FileBackend(tmp_path / "state.json")
    backend.write(_with_steps(2))
    assert backend.read(keep_decoded=True) == json.loads(backend.path.read_text())
    assert backend.read(keep_decoded=True) == json.loads(backend.path.read_text())  # from the copy


def test_a_write_that_keeps_the_copy_serves_the_next_read_without_decoding(tmp_path, monkeypatch):
    import zplan.state.backend as backend_module

    backend = _state_file(tmp_path, _with_steps(1))
    doc = _with_steps(4)
    backend.write(doc, keep_decoded=True)  # an apply's last write
    monkeypatch.setattr(backend_module, "parse_document", lambda *a: pytest.fail("the JSON was decoded"))
    assert FileBackend(backend.path).read() == doc == json.loads(backend.path.read_text())
    backend.write(_with_steps(2))  # a later write without it: the copy is stale and goes unused
    monkeypatch.undo()
    assert FileBackend(backend.path).read() == json.loads(backend.path.read_text()) != doc

