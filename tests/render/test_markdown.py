"""The Markdown plan for pull requests: split into numbered parts under GitHub's comment limit,
never cutting a change in two."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zplan.render.plan_markdown import GITHUB_LIMIT, render, render_parts

SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "zplan/plan/plan.schema.json").read_text())
# How the CI workflow (examples/ci) tells the parts of `plan --format markdown` apart.
PART_BOUNDARY = re.compile(r"\n\n---\n\n(?=### zplan )")
SUMMARY = re.compile(r"<details><summary><code>(?:\+|~|-/\+|-) ([\w.-]+)</code>")


def resource(i: int) -> dict:
    """One resource change; the action cycles through create, update, replace and delete."""
    action = ("create", "update", "replace", "delete")[i % 4]
    before = {"path": f"data/{i}", "mode": "0644", "content": f"v{i}", "id": f"/srv/data/{i}"}
    after = {"path": f"data/{i}", "mode": "0600", "content": f"v{i + 1} <b>bold</b>"}
    if action == "replace":
        after["path"] = f"data/{i}-new"
    return {
        "address": f"resource.local_file.f{i}", "type": "local_file", "name": f"f{i}", "provider": "local",
        "action": action,
        "before": None if action == "create" else before,
        "after": None if action == "delete" else after,
        "after_unknown": ["id"] if action in ("create", "replace") else [],
        "sensitive": ["sensitive_content"],
        "replace_because": ["path"] if action == "replace" else [],
        "reasons": [{"code": "attributes_changed", "message": "content, mode changed"}],
        "changed": sorted(k for k in after if before.get(k) != after[k]) if action in ("update", "replace") else [],
        "depends_on": [],
    }


def step(i: int, action: str = "run") -> dict:
    reasons = [
        {"code": "params_changed", "message": f"params.c: {i} -> {i + 1}"},
        {"code": "upstream_reruns", "message": f"input data changes (upstream s{i - 1} reruns) <x>"},
    ]
    return {
        "address": f"pipeline.train.step.s{i}", "pipeline": "train", "step": f"s{i}", "action": action,
        "reasons": reasons if action == "run" else [], "cache_key": None, "code_hash": "c0de",
        "source": "steps/train.py:fit", "params": {"c": i + 1}, "inputs": {},
        "cached_from": {"run": 7, "finished_at": "2026-11-20T10:00:00+00:00"} if action == "cached" else None,
        "depends_on": [],
    }


def plan_doc(resources: list[dict], steps: list[dict]) -> dict:
    count = lambda *actions: sum(r["action"] in actions for r in resources)  # noqa: E731
    return {
        "format_version": "1.0", "stack": "local", "destroy": False, "created_at": "2026-11-23T10:00:00+00:00",
        "state": {"serial": 4, "lineage": "l-1"}, "options": {"targets": [], "excludes": [], "replace": []},
        "resources": resources, "steps": steps, "outputs": {},
        "summary": {
            "add": count("create", "replace"), "change": count("update"), "destroy": count("delete", "replace"),
            "steps_run": sum(s["action"] == "run" for s in steps), "steps_cached": sum(s["action"] == "cached" for s in steps),
        },
    }


@pytest.fixture(scope="module")
def big() -> dict:
    """3,000 changes: 1,500 resources with attribute diffs, 1,500 steps with reasons, and some cached steps."""
    steps = [step(i) for i in range(1500)] + [step(i, "cached") for i in range(1500, 1540)]
    return plan_doc([resource(i) for i in range(1500)], steps)


@pytest.fixture(scope="module")
def big_parts(big) -> list[str]:
    return render_parts(big)


def changes_of(doc: dict) -> list[str]:
    return [r["address"] for r in doc["resources"] if r["action"] != "no-op"] + [s["address"] for s in doc["steps"] if s["action"] == "run"]


def assert_well_formed(part: str) -> None:
    """Every <details> closes before the next opens, and code blocks close inside the part."""
    tags = re.findall(r"</?details>", part)
    assert tags == ["<details>", "</details>"] * (len(tags) // 2), "a change is cut in two or nested"
    assert part.count("```") % 2 == 0, "a code block is left open"


def test_generated_plan_is_a_valid_json_plan(big):
    jsonschema.validate(big, SCHEMA)
    assert len(changes_of(big)) == 3000


def test_every_part_is_under_the_limit_and_numbered(big_parts):
    n = len(big_parts)
    assert n > 1
    for i, part in enumerate(big_parts, 1):
        assert len(part) < GITHUB_LIMIT
        assert f"_Part {i} of {n}._" in part
        assert len(re.findall(r"_Part \d+ of \d+\._", part)) == 1


def test_no_change_is_cut_in_two(big_parts):
    for part in big_parts:
        assert_well_formed(part)


def test_every_change_appears_exactly_once(big, big_parts):
    seen = [addr for part in big_parts for addr in SUMMARY.findall(part)]
    assert sorted(seen) == sorted(changes_of(big))
    assert len(seen) == len(set(seen)) == 3000


def test_each_part_carries_the_summary_table(big_parts):
    for part in big_parts:
        assert part.startswith("### zplan plan — stack `local`")
        assert "| add | change | destroy | steps to run | steps cached |" in part
        assert "| 750 | 375 | 750 | 1500 | 40 |" in part
        assert "**Plan: 750 to add, 375 to change, 750 to destroy. Steps: 1500 to run, 40 cached.**" in part


def test_parts_keep_the_plan_order(big, big_parts):
    seen = [addr for part in big_parts for addr in SUMMARY.findall(part)]
    assert seen == changes_of(big)


def test_resource_sections_show_only_changed_attributes_as_a_diff(big_parts):
    text = "".join(big_parts)
    update = text[text.index("<code>~ resource.local_file.f1</code>"):]
    update = update[: update.index("</details>")]
    assert '! content = "v1" -> "v2 <b>bold</b>"' in update
    assert '! mode = "0644" -> "0600"' in update
    assert "path =" not in update and "# (2 unchanged attributes hidden)" in update
    replace = text[text.index("<code>-/+ resource.local_file.f2</code>"):]
    assert '! path = "data/2" -> "data/2-new" # forces replacement' in replace[: replace.index("</details>")]


def test_reasons_are_escaped_in_html(big_parts):
    text = "".join(big_parts)
    assert "(upstream s0 reruns) &lt;x&gt;" in text
    assert "<x>" not in text


def test_cached_steps_are_listed_once_in_a_collapsed_table(big_parts):
    text = "".join(big_parts)
    assert text.count("<details><summary>40 cached step(s)</summary>") == 1
    assert "| `pipeline.train.step.s1539` | cached (run 7, 2026-11-20) |" in text


def test_joined_output_splits_back_into_the_same_parts(big_parts, big):
    """`zplan plan --format markdown` prints the parts joined; CI splits them back for one comment each."""
    assert PART_BOUNDARY.split(render(big)) == big_parts


def test_a_small_plan_is_one_unnumbered_part():
    parts = render_parts(plan_doc([resource(1)], [step(1)]))
    assert len(parts) == 1 and "Part" not in parts[0]
    assert_well_formed(parts[0])


def test_one_enormous_change_is_shortened_but_still_closed():
    """A change larger than a comment is shortened, never split, and the Markdown after it still renders."""
    huge = resource(1)
    huge["before"] = {f"a{i:04}": "x" * 40 for i in range(3000)}
    huge["after"] = {f"a{i:04}": "y" * 40 for i in range(3000)}
    huge["changed"] = sorted(huge["after"])
    parts = render_parts(plan_doc([huge, resource(5)], [step(1)]))
    for part in parts:
        assert len(part) < GITHUB_LIMIT
        assert_well_formed(part)
    text = "".join(parts)
    assert "... (truncated)" in text
    assert sorted(SUMMARY.findall(text)) == sorted(["resource.local_file.f1", "resource.local_file.f5", "pipeline.train.step.s1"])


@settings(max_examples=25, deadline=None)
@given(
    n_resources=st.integers(0, 120),
    n_steps=st.integers(0, 120),
    limit=st.integers(4_000, 20_000),
)
def test_splitting_invariants_hold_for_any_size_and_limit(n_resources, n_steps, limit):
    doc = plan_doc([resource(i) for i in range(n_resources)], [step(i) for i in range(n_steps)])
    parts = render_parts(doc, limit=limit)
    seen = []
    for i, part in enumerate(parts, 1):
        assert len(part) < limit
        assert_well_formed(part)
        assert "| add | change | destroy |" in part
        if len(parts) > 1:
            assert f"_Part {i} of {len(parts)}._" in part
        seen += SUMMARY.findall(part)
    assert seen == changes_of(doc)


def test_verbose_lists_unchanged_resources_and_attributes():
    unchanged = resource(1) | {"action": "no-op", "changed": [], "after": dict(resource(1)["before"])}
    doc = plan_doc([unchanged, resource(5)], [])
    assert "resource.local_file.f1" not in render(doc)
    verbose = render(doc, verbose=True)
    assert "<code>  resource.local_file.f1</code> unchanged" in verbose
    assert '  path = "data/1"' in verbose and "hidden" not in verbose


def test_instance_keys_cannot_break_the_table_or_the_html():
    run, cached = step(1), step(2, "cached")
    run["address"] = 'pipeline.train.step.s["<b>x</b>"]'
    cached["address"] = 'pipeline.train.step.s["a|b"]'
    (text,) = render_parts(plan_doc([], [run, cached]))
    assert '<code>~ pipeline.train.step.s["&lt;b&gt;x&lt;/b&gt;"]</code>' in text and "<b>" not in text
    assert '| `pipeline.train.step.s["a\\|b"]` | cached (run 7, 2026-11-20) |' in text


def test_a_move_is_shown_as_the_text_plan_shows_it():
    """A plan whose only change is a moved block still tells the reviewer what apply rewrites in state."""
    doc = plan_doc([resource(1) | {"action": "no-op", "changed": []}], [])
    doc["moved"] = [{"from": 'resource.local_file.f["<a>"]', "to": "resource.local_file.f1"}]
    (text,) = render_parts(doc)
    assert '<code>resource.local_file.f["&lt;a&gt;"]</code> has moved to <code>resource.local_file.f1</code>' in text


def test_a_destroy_plan_shows_the_summary_of_the_text_plan():
    """A destroy runs no step: its table has no step columns, as its summary line has no step counts."""
    doc = plan_doc([resource(3)], []) | {"destroy": True}
    (text,) = render_parts(doc)
    assert text.startswith("### zplan destroy plan — stack `local`")
    assert "| add | change | destroy |\n|---:|---:|---:|\n| 0 | 0 | 1 |\n" in text and "steps" not in text.lower()
    assert "**Plan: 0 to add, 0 to change, 1 to destroy.**" in text


def test_the_graph_shows_instance_keys_as_written():
    # Mermaid's entity codes keep a key's quotes (and what HTML would read): every for_each
    # instance was drawn as pipeline.train.step.s[_a_], a quote-like mark that names no address
    run, other = step(1), step(2)
    run["address"], other["address"] = 'pipeline.train.step.s["c=0.5"]', 'pipeline.train.step.s["<b>#1;`"]'
    (text,) = render_parts(plan_doc([], [run, other]))
    graph = text[text.index("```mermaid"):]
    assert 'n0["pipeline.train.step.s[#quot;c=0.5#quot;]<br/>run"]' in graph, graph
    assert 'n1["pipeline.train.step.s[#quot;#lt;b#gt;#35;1;#96;#quot;]<br/>run"]' in graph, graph
