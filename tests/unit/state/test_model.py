"""State documents: versions upgrade one step at a time; newer versions are refused."""

from __future__ import annotations

import pytest

from zplan.state.model import FORMAT_VERSION, State, StateError, empty


def test_a_version_1_document_upgrades_and_keeps_resources_and_steps() -> None:
    v1 = {
        "format_version": 1, "serial": 4, "lineage": "abc",
        "resources": {"resource.local_directory.d": {"type": "local_directory", "attributes": {"path": "d"}}},
        "stores": {"k": {"steps": {"pipeline.p.step.s": {"status": "succeeded"}}, "cache": {}}},
        "outputs": {"accuracy": {"value": 0.9, "sensitive": False}},
    }
    state = State(v1)
    assert state.doc["format_version"] == FORMAT_VERSION
    assert state.serial == 4 and state.lineage == "abc"
    assert "resource.local_directory.d" in state.resources
    assert state.step_record("k", "pipeline.p.step.s").status == "succeeded"
    assert state.outputs_of("local") == {}  # v1 outputs belonged to no known stack


def test_outputs_are_kept_per_stack() -> None:
    state = State(empty())
    state.set_outputs("dev", {"a": {"value": 1, "sensitive": False}})
    state.set_outputs("prod", {"a": {"value": 2, "sensitive": False}})
    assert state.outputs_of("dev")["a"]["value"] == 1 and state.outputs_of("prod")["a"]["value"] == 2
    state.set_outputs("dev", {})
    assert state.outputs_of("dev") == {}


def test_a_newer_format_is_refused() -> None:
    with pytest.raises(StateError, match="newer than this zplan"):
        State({**empty(), "format_version": FORMAT_VERSION + 1})
