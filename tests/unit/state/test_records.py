"""Typed state records: the only ways state changes, and the document they write (format unchanged)."""

from __future__ import annotations

import pytest

from zplan.state.model import FORMAT_VERSION, CacheEntry, ResourceRecord, State, StepRecord


def test_a_succeeded_step_is_recorded_and_cached_in_the_documented_shape():
    state = State()
    outputs = {"output": {"digest": "d", "uri": "file:///a"}}
    state.put_step("k", "pipeline.p.step.s", StepRecord("succeeded", "ck", {"v": 1}, outputs, 3, "2026-01-01T00:00:00+00:00"))
    assert state.doc["format_version"] == FORMAT_VERSION == 2
    assert state.doc["stores"]["k"] == {
        "steps": {"pipeline.p.step.s": {"status": "succeeded", "cache_key": "ck", "fingerprint": {"v": 1}, "outputs": outputs,
                                        "run": 3, "finished_at": "2026-01-01T00:00:00+00:00"}},
        "cache": {"ck": {"address": "pipeline.p.step.s", "outputs": outputs, "run": 3, "finished_at": "2026-01-01T00:00:00+00:00"}},
    }
    assert state.cache_entry("k", "ck") == CacheEntry("pipeline.p.step.s", outputs, 3, "2026-01-01T00:00:00+00:00")


def test_a_failed_step_keeps_its_error_and_adds_no_cache_entry():
    state = State()
    state.put_step("k", "pipeline.p.step.s", StepRecord("failed", "ck", {}, {}, 4, "t", "ValueError: no"))
    record = state.step_record("k", "pipeline.p.step.s")
    assert record.status == "failed" and not record.succeeded and record.error == "ValueError: no"
    assert state.doc["stores"]["k"]["steps"]["pipeline.p.step.s"]["error"] == "ValueError: no"
    assert state.cache_entry("k", "ck") is None


def test_resources_change_only_through_put_resource_and_forget(tmp_path):
    state = State()
    record = ResourceRecord.sealed("local_file", "local", {"path": "a", "key": "pw"}, {"path": "a", "key": "pw", "id": "1"},
                                   ["key"], tmp_path, ["resource.local_directory.d"])
    state.put_resource("resource.local_file.f", record)
    doc = state.doc["resources"]["resource.local_file.f"]
    assert set(doc) == {"type", "provider", "inputs", "attributes", "dependencies", "sensitive", "prevent_destroy", "schema_version"}
    assert doc["attributes"]["id"] == "1" and set(doc["attributes"]["key"]) == {"$sealed"}  # sealed at rest
    assert state.resource("resource.local_file.f") == record
    with pytest.raises(TypeError):
        state.resources["resource.local_file.g"] = {}  # read-only: no raw writes
    assert state.forget("resource.local_file.f") and not state.forget("resource.local_file.f")
    assert state.resources == {}
