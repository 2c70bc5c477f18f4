"""The no-change plan's per-step shortcuts give the plan the long way gives, and never hide a change.

The shortcuts: a function's code files checked once per plan (``CodeIndex.checked_once``),
params checked by one walk when they are plain JSON (``params.plain``), instance keys written
without ``json.dumps`` when JSON would not escape them (``addrs.instance_key``), the cycle
collector paused while the plan is built (``zplan.state.collector``), a splat evaluating its
body in one context (``expr.Splat``), step addresses written without their record
(``StepConfig.address``), step plans made without the frozen ``__init__`` (``model.step_plan``)
and the JSON plan's params shown by type when there is no secret
(``jsonplan._shown``).
"""

from __future__ import annotations

import contextlib
import gc
import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.plan.inprocess import plan, write_project
from zplan import addrs
from zplan.config import expand, expr, references, scope
from zplan.config.model import StepConfig
from zplan.config.values import UNKNOWN
from zplan.hashing import canonical_json
from zplan.plan import data_inputs, jsonplan, params
from zplan.plan import model as plan_model
from zplan.plan import steps as step_planning
from zplan.plan.code_hash import CodeIndex
from zplan.plan.params import plain, without_unknown
from zplan.secrets import SEALED_MARK, mask
from zplan.state import collector
from zplan.state.checks import not_finite_path
from zplan.state.model import CacheEntry, State, StepRecord

SWEEP = """
variable "p" {
  default = 1
}

pipeline "bench" {
  step "leaf" {
    for_each = {
%s
    }
    source = "steps.py:leaf"
    inputs = { part = each.value.part }
    params = { i = each.value.i, k = each.key == "s0001" ? var.p : 0, tag = "t-${each.key}", xs = [each.value.i, 0.5, null, true] }
  }
  step "gather" {
    source = "steps.py:gather"
    inputs = { parts = step.leaf[*].outputs.output }
  }
}
"""

STEPS = """
def leaf(part, i, k, tag, xs):
    return i + k

def gather(parts):
    return sum(parts)
"""


def _sweep(tmp_path, n: int):
    keys = [f"s{i:04d}" for i in range(n)] + ['odd "key"', "é\\tab"]
    grid = "\n".join(f"      {json.dumps(k)} = {{ part = \"data/{i}.txt\", i = {i} }}" for i, k in enumerate(keys))
    root = write_project(tmp_path, SWEEP % grid)
    (root / "steps.py").write_text(STEPS)
    (root / "data").mkdir()
    for i in range(len(keys)):
        (root / "data" / f"{i}.txt").write_text(f"{i}\n")
    return root


def _long_way(monkeypatch) -> None:
    """Every shortcut off: each step checks its code files, params go through canonical JSON."""
    monkeypatch.setattr(CodeIndex, "checked_once", lambda self: contextlib.nullcontext())
    monkeypatch.setattr(collector, "paused", contextlib.nullcontext)
    monkeypatch.setattr(params, "plain", lambda value: False)
    for module in (expand, scope, references):
        monkeypatch.setattr(module, "instance_key", _instance_key_by_json)
    monkeypatch.setattr(expr.Splat, "_eval", _splat_one_context_per_item)
    monkeypatch.setattr(StepConfig, "address", property(lambda step: str(step.addr)))
    monkeypatch.setattr(jsonplan, "_shown", lambda value: mask(value, [], UNKNOWN))
    monkeypatch.setattr(plan_model, "step_plan", lambda **fields: plan_model.StepPlan(**fields))


def _splat_one_context_per_item(self, ctx):
    value = self.obj._eval(ctx)
    if value is UNKNOWN:
        return UNKNOWN
    if getattr(value, "__zplan_instances__", False):
        value = list(value.values())
    items = [] if value is None else value if isinstance(value, (list, tuple)) else [value]
    return [self.body._eval(ctx.with_locals({expr.SPLAT_ITEM: item})) for item in items]


def _instance_key_by_json(key):
    if key is None:
        return ""
    if isinstance(key, int) and not isinstance(key, bool):
        return f"[{key}]"
    return f"[{json.dumps(str(key), ensure_ascii=False)}]"


def _as_json(p) -> dict:
    return {**jsonplan.to_json(p), "created_at": None, "state": None}


def _recorded(p, planner, every: int) -> State:
    """A state where every ``every``-th step ran as this plan says, its output since gone from the
    store, and the step after it ran with other params (the others never ran)."""
    state = State()
    for i, s in enumerate(p.steps):
        fingerprint = planner.step_planner.fingerprint(s)
        if fingerprint is None:
            continue
        if i % every == 0:
            state.put_step(p.store_key, s.address, StepRecord("succeeded", s.cache_key, fingerprint, {"output": {"digest": "0" * 32}}))
        elif i % every == 1:
            state.put_step(p.store_key, s.address, StepRecord("succeeded", "other", {**fingerprint, "params": {"i": -1}}, {}))
    return state


def test_the_shortcuts_give_the_plan_the_long_way_gives(tmp_path, monkeypatch):
    root = _sweep(tmp_path, 40)
    fast, planner, _ = plan(root)
    later, _, _ = plan(root, _recorded(fast, planner, 3))
    with monkeypatch.context() as m:
        _long_way(m)
        slow, planner, _ = plan(root)
        slow_later, _, _ = plan(root, _recorded(slow, planner, 3))
    assert _as_json(fast) == _as_json(slow)
    assert _as_json(later) == _as_json(slow_later)
    assert [s.cache_key for s in fast.steps] == [s.cache_key for s in slow.steps]
    assert 'pipeline.bench.step.leaf["odd \\"key\\""]' in {s.address for s in fast.steps}
    assert {r["code"] for s in jsonplan.to_json(later)["steps"] for r in s["reasons"]} >= {"artifact_missing", "params_changed", "never_ran"}


def test_code_is_checked_once_per_plan_and_again_at_each_step_start(tmp_path):
    root = _sweep(tmp_path, 3)
    index = CodeIndex(root)
    before = index.info("steps.py", "leaf")
    with index.checked_once():
        first = index.info("steps.py", "leaf")
        assert index.info("steps.py", "leaf") is first  # the other instances of the step
    (root / "steps.py").write_text(STEPS.replace("i + k", "k + i"))
    after = index.info("steps.py", "leaf")  # outside a plan (apply starting a step): its files checked again
    assert after.files != before.files
    with index.checked_once():
        assert index.info("steps.py", "leaf").files == after.files  # the next plan checks them afresh


def test_a_code_change_between_two_plans_is_seen(tmp_path):
    root = _sweep(tmp_path, 3)
    first, _, _ = plan(root)
    (root / "steps.py").write_text(STEPS.replace("i + k", "i - k"))
    second, _, _ = plan(root)
    assert {s.code_hash for s in first.steps if s.step.startswith("leaf")} != {s.code_hash for s in second.steps if s.step.startswith("leaf")}


def test_the_collector_is_paused_while_planning_and_restored_after(tmp_path):
    root = _sweep(tmp_path, 3)
    seen = []
    original = step_planning.StepPlanner.plan

    def spy(self, *args, **kwargs):
        seen.append(gc.isenabled())
        return original(self, *args, **kwargs)

    step_planning.StepPlanner.plan = spy
    try:
        plan(root)
    finally:
        step_planning.StepPlanner.plan = original
    assert seen and not any(seen)
    assert gc.isenabled()
    gc.disable()
    try:
        with collector.paused():
            pass
        assert not gc.isenabled()  # a caller's own pause is left alone
    finally:
        gc.enable()


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(), st.integers(), st.booleans()))
def test_instance_keys_are_written_as_json_writes_them(key):
    assert addrs.instance_key(key) == _instance_key_by_json(key)


JSONISH = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(), st.sampled_from([math.nan, math.inf]),
              st.frozensets(st.integers(), max_size=2), st.tuples(st.integers())),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.one_of(st.text(), st.integers()), inner, max_size=3)),
    max_leaves=8,
)


@settings(max_examples=400, deadline=None)
@given(JSONISH)
def test_plain_params_are_exactly_those_the_long_checks_pass_as_they_are(value):
    if plain(value):
        assert canonical_json(without_unknown(value)) == canonical_json(value)
        assert not_finite_path(value, "params") is None


def test_an_instance_block_is_the_block_replace_would_make(tmp_path):
    import dataclasses

    from zplan.config.expand import _instance_of
    from zplan.project import Project

    config = Project.open(_sweep(tmp_path, 2)).config
    for step in config.steps():
        changes = {"name": step.name + '["x"]', "where": None, "source": "other.py:f"}
        made, replaced = _instance_of(step, **changes), dataclasses.replace(step, **changes)
        assert made == replaced and vars(made) == vars(replaced) and type(made) is type(replaced)
        assert made is not step and step.name != made.name


@settings(max_examples=300, deadline=None)
@given(JSONISH)
def test_canonical_json_is_what_json_dumps_writes(value):
    import json as stdlib_json

    from zplan.hashing import _json_default

    try:
        expected = stdlib_json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_json_default)
    except (TypeError, ValueError) as exc:
        expected = type(exc)
    try:
        got = canonical_json(value)
    except (TypeError, ValueError) as exc:
        got = type(exc)
    assert got == expected


class _Marked(dict):
    params_origin = ("params.yaml", "train.")


SHOWN = st.recursive(
    st.one_of(JSONISH, st.just(UNKNOWN), st.builds(lambda t: {SEALED_MARK: t}, st.text()), st.builds(_Marked, st.dictionaries(st.text(), st.integers()))),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.tuples(inner, inner), st.dictionaries(st.text(), inner, max_size=3)),
    max_leaves=8,
)


@settings(max_examples=400, deadline=None)
@given(SHOWN)
def test_params_shown_by_type_are_what_mask_shows_without_secrets(value):
    shown = jsonplan._shown(value)
    expected = mask(value, [], UNKNOWN)
    assert type(shown) is type(expected)
    assert repr(shown) == repr(expected)  # equal, in the same order and with the same types at every depth (NaN too)


def test_a_step_address_is_the_text_of_its_record(tmp_path):
    from zplan.project import Project

    root = _sweep(tmp_path, 3)
    (root / "modules" / "m").mkdir(parents=True)
    (root / "modules" / "m" / "main.zp.hcl").write_text('pipeline "q" {\n  step "t" {\n    source = "steps.py:leaf"\n  }\n}\n')
    (root / "modules" / "m" / "steps.py").write_text(STEPS)
    with open(root / "main.zp.hcl", "a") as f:
        f.write('\nmodule "sub" {\n  for_each = toset(["a", "b c"])\n  source = "./modules/m"\n}\n')
    steps = Project.open(root).config.steps()
    assert any(s.where is not None and s.where.module.path for s in steps)
    assert [s.address for s in steps] == [str(s.addr) for s in steps]


def test_a_step_plan_made_without_init_is_the_record_init_makes(tmp_path):
    import dataclasses

    fast, _, _ = plan(_sweep(tmp_path, 2))
    for made in fast.steps:
        fields = {f.name: getattr(made, f.name) for f in dataclasses.fields(made)}
        by_init = plan_model.StepPlan(**fields)
        assert made == by_init and vars(made) == vars(by_init) and hash(made.address) == hash(by_init.address)
        with pytest.raises(dataclasses.FrozenInstanceError):
            made.action = None
    partial = plan_model.step_plan(address="a", pipeline="p", step="s", action=plan_model.RUN)
    assert partial == plan_model.StepPlan("a", "p", "s", plan_model.RUN)  # a field left out: the defaults, by __init__


PATH_PARTS = st.sampled_from(["a", "b.csv", ".", "..", "", ".hidden", "x y", "é", "-", "a..b", "..."])


@settings(max_examples=500, deadline=None)
@given(st.lists(PATH_PARTS, max_size=5), st.booleans(), st.booleans(), st.sampled_from(["/p/proj", "/", "/p/proj/", "/p/./proj", "/p//q"]))
def test_a_data_input_path_is_what_normpath_of_the_join_gives(parts, leading, trailing, folder):
    import os

    from zplan.hashing import StatCache

    rel = ("/" if leading else "") + "/".join(parts) + ("/" if trailing else "")
    from pathlib import Path

    planner = step_planning.StepPlanner(Path(folder), State(), None, CodeIndex(Path(folder)), StatCache(None), [])
    fast = planner._prefix + rel if planner._prefix and data_inputs._plain_relative(rel) else None
    if fast is not None:
        assert fast == os.path.normpath(os.path.join(folder, rel))


def test_plain_data_paths_take_the_short_way_and_others_the_long_one():
    assert data_inputs._plain_relative("data/parts/0001.txt") and data_inputs._plain_relative("a b/é.csv")
    for rel in ("", ".", "./a", "a/../b", "a//b", "/abs", "a/", ".env", "a/.hidden", ".."):
        assert not data_inputs._plain_relative(rel)


@pytest.mark.parametrize("doc", [{"address": "a", "outputs": {"o": {"digest": "d"}}}, {"address": "a", "outputs": {}, "run": 3, "finished_at": "t", "pipeline_run": "r"}])
def test_a_cache_entry_read_without_init_is_the_entry_init_makes(doc):
    import dataclasses

    read = CacheEntry.from_doc(doc)
    by_init = CacheEntry(doc["address"], doc["outputs"], doc.get("run"), doc.get("finished_at"), doc.get("pipeline_run"))
    assert read == by_init and vars(read) == vars(by_init) and read.to_doc() == by_init.to_doc()
    with pytest.raises(dataclasses.FrozenInstanceError):
        read.run = 4
