"""The plan model: fixed vocabularies with stable strings, typed inputs, an immutable plan."""

from __future__ import annotations

import dataclasses
import json

import pytest

from zplan.plan import model as m
from zplan.plan.jsonplan import to_json
from zplan.provider import Action, ResourceChange

from tests.unit.plan.inprocess import copy_pipeline, plan


def test_actions_are_one_vocabulary_whose_members_are_the_json_strings():
    assert [a.value for a in Action] == ["run", "cached", "create", "update", "replace", "delete", "no-op"]
    assert m.NOOP is Action.NOOP and Action.NOOP == "no-op" and str(Action.NOOP) == "no-op"
    assert json.dumps({"action": Action.REPLACE}) == '{"action": "replace"}'


def test_the_provider_contract_takes_the_same_actions_and_the_old_noop_spelling():
    assert ResourceChange("resource.x.y", "x", "y", "noop", {}, {}).action is Action.NOOP
    assert ResourceChange("resource.x.y", "x", "y", "create", None, {}).action is Action.CREATE
    with pytest.raises(ValueError):
        ResourceChange("resource.x.y", "x", "y", "destroy", {}, None)


def test_reason_codes_are_fixed_and_serialise_as_their_strings():
    assert m.Reason(m.PARAMS_CHANGED, "params.c: 1 -> 2").to_json() == {"code": "params_changed", "message": "params.c: 1 -> 2"}
    assert len(set(m.REASON_CODES)) == len(m.REASON_CODES) == 24  # file_read_changed is the 24th


def test_step_inputs_are_typed_and_keep_their_json_shape():
    data = m.DataInput("data/a.csv", "d1")
    up = m.StepOutputInput("pipeline.p.step.s", "out", "d2")
    fan_in = m.ListInput((up, m.StepOutputInput("pipeline.p.step.t", "out", None)))
    assert data.to_json() == {"kind": "data", "path": "data/a.csv", "digest": "d1"}
    assert up.to_json() == {"kind": "step", "step": "pipeline.p.step.s", "output": "out", "digest": "d2"}
    assert fan_in.to_json()["kind"] == "list" and fan_in.digest is None  # one upstream still has to run
    assert m.upstream_inputs({"a": data, "b": up, "c": fan_in}) == [up, *fan_in.items]


def test_a_plan_cannot_be_changed_once_made(tmp_path):
    made, _, _ = plan(copy_pipeline(tmp_path))
    step = made.steps[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        step.action = m.CACHED
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.steps = ()
    only = made.only_step(step.address)
    assert [s.address for s in only.steps] == [step.address] and len(made.steps) == 4


def test_the_json_plan_shows_typed_inputs_as_before(tmp_path):
    doc = to_json(plan(copy_pipeline(tmp_path))[0])
    load = next(s for s in doc["steps"] if s["step"] == "load")
    scale = next(s for s in doc["steps"] if s["step"] == "scale")
    assert load["inputs"]["raw"]["kind"] == "data" and load["inputs"]["raw"]["digest"]
    assert scale["inputs"]["values"] == {"kind": "step", "step": "pipeline.numbers.step.load", "output": "output", "digest": None}
    assert {s["action"] for s in doc["steps"]} == {"run"}
