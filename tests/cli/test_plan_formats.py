"""Plan formats (JSON, Markdown, saved plans) and what apply records (outputs, runs, lineage)."""

from __future__ import annotations

import json

import pytest

from tests.cli.helpers import QUICKSTART, Project, copy_project


@pytest.fixture
def changed_plan(applied: Project) -> tuple[Project, list[str]]:
    """The applied pipeline with c changed: two steps to run, two cached."""
    return applied, ["-var", "c=0.5"]


def test_json_plan_has_the_documented_shape(changed_plan):
    project, args = changed_plan
    doc = project.plan_json(*args)
    assert doc["format_version"] == "1.0"
    assert doc["summary"] == {"add": 0, "change": 0, "destroy": 0, "steps_run": 2, "steps_cached": 2, "checkouts": 0}
    steps = {s["address"]: s for s in doc["steps"]}
    scale, total, load = (steps[f"pipeline.numbers.step.{n}"] for n in ("scale", "total", "load"))
    assert scale["action"] == "run"
    assert scale["reasons"] == [{"code": "params_changed", "message": "params.c: 1 -> 0.5"}]
    assert total["reasons"] == [{"code": "upstream_reruns", "message": "input values changes (upstream scale reruns)"}]
    assert load["action"] == "cached" and load["reasons"] == [] and load["cached_from"]["run"] == 1
    assert load["inputs"]["raw"]["kind"] == "data" and load["inputs"]["raw"]["path"] == "data/numbers.txt"
    assert doc["outputs"]["count"] == {"known": True, "sensitive": False, "value": 4}
    assert doc["outputs"]["total"]["known"] is False


def test_markdown_plan_has_the_table_and_a_section_per_change(changed_plan):
    project, args = changed_plan
    out = project.ok("plan", "--format", "markdown", *args).out
    assert "| add | change | destroy | steps to run | steps cached |" in out
    assert "| 0 | 0 | 0 | 2 | 2 |" in out
    assert "<details><summary><code>~ pipeline.numbers.step.scale</code> will run: params.c: 1 -&gt; 0.5</summary>" in out
    assert "<details><summary>2 cached step(s)</summary>" in out
    assert "<details><summary>1 output change(s)</summary>" in out and "! total = 10.5 -> (known after apply)" in out
    assert out.count("<details>") == out.count("</details>") == 4


def test_show_json_of_a_saved_plan_is_the_saved_plan(changed_plan):
    project, args = changed_plan
    project.ok("plan", *args, "-out", "change.zplan")
    shown = json.loads(project.ok("show", "-json", "change.zplan").out)
    assert shown == json.loads(project.read("change.zplan"))["plan"]
    fresh = project.plan_json(*args)
    assert {**shown, "created_at": None} == {**fresh, "created_at": None}
    text = project.ok("show", "change.zplan").out
    assert "Plan: 0 to add, 0 to change, 0 to destroy. Steps: 2 to run, 2 cached." in text


def test_show_refuses_flags_it_would_ignore(changed_plan):
    project, args = changed_plan
    project.ok("plan", *args, "-out", "change.zplan")
    assert json.loads(project.ok("show", "-json", "-format", "json", "change.zplan").out)["steps"]
    for words, message in ((["-json", "-format", "markdown", "change.zplan"], "-json and -format markdown cannot be used together"),
                           (["-json", "-format", "text"], "-json and -format text cannot be used together"),  # the state's view too
                           (["-stack", "local", "change.zplan"], "-stack cannot be used when showing the saved plan change.zplan")):
        refused = project.run("show", *words)
        assert refused.code == 1 and message in refused.err and refused.out == "", str(refused)
        assert "Traceback" not in refused.err


def test_a_destroy_plan_refuses_replace_rather_than_ignoring_it(changed_plan):
    project, _ = changed_plan
    refused = project.run("plan", "-destroy", "-replace", "pipeline.numbers.step.scale")
    assert refused.code == 1 and "-replace pipeline.numbers.step.scale cannot be used with -destroy" in refused.err, str(refused)
    assert refused.out == "" and "Traceback" not in refused.err


def test_unknown_format_is_a_user_error(applied: Project):
    result = applied.run("plan", "-format", "yaml")
    assert result.code == 1 and "unknown plan format 'yaml'" in result.err and "Traceback" not in result.err


# -- the quickstart, applied once in a git repository ---------------------------------------------------


@pytest.fixture(scope="module")
def quickstart(tmp_path_factory) -> tuple[Project, str]:
    project = copy_project(QUICKSTART, tmp_path_factory.mktemp("qs") / "quickstart")
    project.write(".gitignore", "reports/\n")
    commit = project.git_commit_all()
    project.apply()
    return project, commit


def test_outputs_after_apply(quickstart):
    project, _ = quickstart
    shown = project.ok("output", "accuracy").out.strip()
    accuracy = float(shown)
    assert 0.8 <= accuracy <= 1.0
    assert f"accuracy = {shown}" in project.ok("output").out  # as HCL writes numbers: 1, not 1.0
    assert json.loads(project.ok("output", "-json").out) == {"accuracy": {"value": accuracy, "sensitive": False}}


def test_runs_and_one_run_in_detail(quickstart):
    project, commit = quickstart
    lines = project.ok("runs").out.splitlines()
    assert len(lines) == 2  # header + the one run
    number, _day, _time, status, ran, cached, failed = lines[1].split()[:7]
    assert (number, status, ran, cached, failed) == ("1", "succeeded", "5", "0", "0")
    assert lines[1].endswith(f"local / training / {commit[:10]}")

    detail = project.ok("runs", "show", "1").out
    assert detail.startswith("Run 1: succeeded, stack local, pipeline training")
    for step in ("load", "split", "scale", "train", "evaluate"):
        assert f"pipeline.training.step.{step}  complete" in detail
    assert 'params {"c": 1, "seed": 42}' in detail


def test_lineage_reaches_the_data_snapshot_and_the_commit(quickstart):
    project, commit = quickstart
    out = project.ok("lineage", "accuracy").out
    first = out.splitlines()[0]
    assert first.startswith("artifact ") and "builtins.float via json" in first
    assert "<- pipeline.training.step.evaluate (run 1, complete" in out
    assert "<- pipeline.training.step.train" in out and 'params {"c": 1, "seed": 42}' in out
    assert "csv: data snapshot data/wine.csv" in out
    assert f"git {commit[:10]})" in out and "+dirty" not in out


def test_text_plan_shows_cached_steps_in_brief_as_the_full_json_plan_would(applied: Project):
    """`zplan plan` printing text builds cached steps' entries in brief: the text must not change."""
    from zplan.operations import applying
    from zplan.operations.opening import ProjectArgs
    from zplan.render.plan_text import render

    for variables in ([], ["c=0.5"]):
        selection = applying.Selection([], [], [], False, None)
        full = applying.plan(ProjectArgs(applied.root, variables, None), selection).doc
        brief = applying.plan(ProjectArgs(applied.root, variables, None), selection, for_text=True).doc
        assert "params" not in brief["steps"][0] and brief["steps"][0]["action"] == "cached"  # (load: cached either way)
        assert [s["address"] for s in brief["steps"]] == [s["address"] for s in full["steps"]]
        assert [s for s in brief["steps"] if s["action"] == "run"] == [s for s in full["steps"] if s["action"] == "run"]
        for verbose in (False, True):
            assert render(brief, verbose) == render({**full, "created_at": brief["created_at"]}, verbose)
