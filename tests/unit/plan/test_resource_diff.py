"""Resource diffs, decided by the planner from the provider's schema (a fake provider, in-process)."""

from __future__ import annotations

from zplan.plan import model as m
from zplan.plan.jsonplan import to_json
from zplan.render import plan_text
from zplan.state.model import ResourceRecord, State

from tests.unit.plan.inprocess import plan, write_project

HCL = '''
resource "fake_thing" "a" {
  name = "%s"
  size = %d
}
'''
ADDR = "resource.fake_thing.a"


def _state_with(tmp_path, name: str, size: int) -> State:
    state = State()
    inputs = {"name": name, "size": size}
    state.put_resource(ADDR, ResourceRecord.sealed("fake_thing", "fake", inputs, {**inputs, "id": "fake_thing/" + name}, ["token"], tmp_path))
    return state


def _diff(tmp_path, state: State | None, name="one", size=1, **request) -> m.ResourcePlan:
    made, _, _ = plan(write_project(tmp_path, HCL % (name, size)), state, **request)
    return made.resource(ADDR)


def test_a_new_resource_is_created_with_its_computed_attributes_unknown(tmp_path):
    r = _diff(tmp_path, None)
    assert r.action == m.CREATE and [x.code for x in r.reasons] == [m.NEW_IN_CONFIG]
    assert r.unknown == ["id"] and r.sensitive == ["token"]


def test_the_same_inputs_are_a_no_op(tmp_path):
    r = _diff(tmp_path, _state_with(tmp_path, "one", 1))
    assert r.action == m.NOOP and r.reasons == [] and r.unknown == []


def test_a_changed_attribute_updates_in_place(tmp_path):
    r = _diff(tmp_path, _state_with(tmp_path, "one", 1), size=2)
    assert r.action == m.UPDATE and [x.message for x in r.reasons] == ["size changed"] and r.replace_because == []


def test_a_force_new_attribute_replaces(tmp_path):
    r = _diff(tmp_path, _state_with(tmp_path, "one", 1), name="two")
    assert r.action == m.REPLACE and r.replace_because == ["name"] and r.unknown == ["id"]
    assert [x.code for x in r.reasons] == [m.FORCES_REPLACEMENT]


def test_replace_requested_turns_a_no_op_into_a_replacement(tmp_path):
    r = _diff(tmp_path, _state_with(tmp_path, "one", 1), replace=[ADDR])
    assert r.action == m.REPLACE and [x.code for x in r.reasons] == [m.REPLACE_REQUESTED]


def test_a_resource_gone_from_the_configuration_is_deleted(tmp_path):
    state = _state_with(tmp_path, "one", 1)
    made, _, _ = plan(write_project(tmp_path, 'variable "x" { default = 1 }\n'), state)
    [r] = made.resources
    assert r.address == ADDR and r.action == m.DELETE and [x.code for x in r.reasons] == [m.REMOVED_FROM_CONFIG]


def test_an_attribute_no_longer_set_is_shown_going_to_null(tmp_path):
    # As Terraform shows it: the plan names "size changed", and the diff has it (size = 1 -> null).
    made, _, _ = plan(write_project(tmp_path, 'resource "fake_thing" "a" {\n  name = "one"\n}\n'), _state_with(tmp_path, "one", 1))
    r = made.resource(ADDR)
    assert r.action == m.UPDATE and [x.message for x in r.reasons] == ["size changed"]
    assert r.after == {"name": "one", "size": None}
    assert ("update", "        ~ size = 1 -> null") in plan_text.render(to_json(made))
