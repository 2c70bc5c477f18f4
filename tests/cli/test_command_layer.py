"""The command layer through the real CLI: shared -stack, one address matcher, saved plans applied
exactly, usage errors, and what destroy / replace / drift say."""

from __future__ import annotations

import json
import shutil
import textwrap

import pytest

from tests.cli.helpers import Project, cli_env

HCL = """
variable "flag" {
  default = false
}

variable "nothing" {
  default = null
}

variable "token" {
  default   = "none"
  sensitive = true
}

resource "local_directory" "data" {
  path          = "out/data"
  force_destroy = true
}

resource "local_directory" "data2" {
  path          = "out/data2"
  force_destroy = true
}

stack "local" {
  artifact_store = "file://.zplan/artifacts"
  metadata_store = "sqlite:///.zplan/metadata.db"
}

pipeline "p" {
  step "show" {
    source = "steps.py:show"
    params = { flag = var.flag, nothing = var.nothing, where = resource.local_directory.data.id }
  }

  step "after" {
    source = "steps.py:after"
    inputs = { seen = step.show.outputs.output }
  }
}

output "seen" {
  value = step.show.outputs.output
}
"""

STEPS = """
def show(flag, nothing, where):
    return f"{type(flag).__name__}:{flag!r} {type(nothing).__name__}:{nothing!r}"


def after(seen):
    return seen.upper()
"""


@pytest.fixture
def proj(tmp_path) -> Project:
    project = Project(tmp_path / "proj")
    project.write("main.zp.hcl", HCL)
    project.write("steps.py", STEPS)
    return project


def actions(doc: dict) -> dict[str, str]:
    return {r["address"]: r["action"] for r in doc["resources"]} | {s["address"]: s["action"] for s in doc["steps"]}


# -- saved plans: exactly what was planned, typed ---------------------------------------------------


def test_a_saved_plan_applies_untyped_values_with_their_types(proj):
    proj.ok("plan", "-out", "plan.zplan")
    proj.ok("apply", "plan.zplan")
    assert json.loads(proj.ok("output", "seen").out) == "bool:False NoneType:None"
    assert proj.run("plan", "-detailed-exitcode").code == 0, "the next plan must see nothing to change"


@pytest.mark.parametrize("flag", [["-var", "flag=true"], ["-var-file", "x.zpvars"], ["-target", "pipeline.p"],
                                  ["-replace", "pipeline.p.step.show"], ["-exclude", "pipeline.p.step.after"]])
def test_a_saved_plan_refuses_planning_options(proj, flag):
    proj.write("x.zpvars", "flag = true\n")
    proj.ok("plan", "-out", "plan.zplan")
    result = proj.run("apply", "plan.zplan", *flag)
    assert result.code == 1, str(result)
    assert f"{flag[0]} cannot be used when applying the saved plan" in result.err
    assert not proj.path("out/data").exists()


def test_a_sensitive_value_is_asked_again_not_called_stale(proj):
    proj.ok("plan", "-var", "token=s3cret", "-out", "plan.zplan")
    assert b"s3cret" not in proj.path("plan.zplan").read_bytes()
    missing = proj.run("apply", "plan.zplan")
    assert missing.code == 1 and 'sensitive variable "token" is not given now' in missing.err, str(missing)
    assert "ZPLAN_VAR_token" in missing.err and "stale" not in missing.err
    other = proj.run("apply", "plan.zplan", env=cli_env(ZPLAN_VAR_token="other"))
    assert other.code == 1 and 'sensitive variable "token" differs from the one the plan was made with' in other.err, str(other)
    proj.ok("apply", "plan.zplan", env=cli_env(ZPLAN_VAR_token="s3cret"))


# -- one address matcher ------------------------------------------------------------------------------


def test_target_short_form_and_exclude_match_whole_addresses(proj):
    doc = proj.plan_json("-target", "local_directory.data")
    assert set(actions(doc)) == {"resource.local_directory.data"}
    doc = proj.plan_json("-exclude", "resource.local_directory.data")
    assert "resource.local_directory.data2" in actions(doc), "data2 is not data"
    assert "resource.local_directory.data" not in actions(doc)
    assert "pipeline.p.step.show" not in actions(doc), "what needs an excluded node is left out too"
    doc = proj.plan_json("-target", "pipeline.p")
    assert {"pipeline.p.step.show", "pipeline.p.step.after", "resource.local_directory.data"} <= set(actions(doc))
    assert "resource.local_directory.data2" not in actions(doc)


def test_replace_takes_the_short_form(proj):
    proj.apply()
    doc = proj.plan_json("-replace", "local_directory.data2")
    assert actions(doc)["resource.local_directory.data2"] == "replace"


# -- state commands: one -stack, steps listed -----------------------------------------------------------


def test_state_commands_take_stack_and_list_steps(proj):
    proj.apply()
    listed = proj.ok("state", "list", "-stack", "local").out.split()
    assert listed == ["resource.local_directory.data", "resource.local_directory.data2", "pipeline.p.step.after", "pipeline.p.step.show"]
    assert listed == proj.ok("state", "list").out.split()
    item = json.loads(proj.ok("state", "show", "-stack", "local", "pipeline.p.step.show").out)
    assert item["status"] == "succeeded" and item["run"] == 1
    assert json.loads(proj.ok("state", "show", "local_directory.data").out)["type"] == "local_directory"
    for args in (["output", "-stack", "local"], ["show", "-stack", "local"], ["runs", "-stack", "local"],
                 ["lineage", "-stack", "local", "seen"]):
        proj.ok(*args)
    unknown = proj.run("state", "list", "-stack", "nosuch")
    assert unknown.code == 1 and "nosuch" in unknown.err


# -- usage errors -------------------------------------------------------------------------------------


@pytest.mark.parametrize("args, said", [
    (["plan", "-stak", "x"], "unknown flag -stak for `zplan plan`. Did you mean -stack?"),
    (["plan", "--detailed-exitcod"], "unknown flag --detailed-exitcod for `zplan plan`. Did you mean -detailed-exitcode?"),
    (["plann"], "Did you mean 'plan'?"),
    (["state", "show"], "Missing argument"),
    (["state", "mv", "resource.local_directory.data", "resource.local_directory.d"], "to rename an address, write a moved block"),
    (["apply", "-parallelism", "many"], "many"),
])
def test_usage_errors_exit_1_and_name_the_flag_as_typed(proj, args, said):
    result = proj.run(*args)
    assert result.code == 1, str(result)
    assert said in result.err, str(result)
    assert "Traceback" not in result.err


@pytest.mark.parametrize("args, usage", [
    (["-help"], "Usage: zplan [OPTIONS] COMMAND"),
    (["-h"], "Usage: zplan [OPTIONS] COMMAND"),
    (["plan", "-help"], "Usage: zplan plan [OPTIONS]"),
    (["apply", "-auto-approve", "-help"], "Usage: zplan apply [OPTIONS] [PLANFILE]"),
    (["state", "list", "-help"], "Usage: zplan state list [OPTIONS]"),
    (["stack", "-h"], "Usage: zplan stack [OPTIONS] COMMAND"),
])
def test_help_is_taken_in_terraform_s_spelling_after_any_command(proj, args, usage):
    result = proj.ok(*args)
    assert usage in result.out, str(result)
    assert "-help" in result.out


def test_chdir_reads_relative_paths_from_that_folder_as_terraform(proj, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    proj.write("x.zpvars", "flag = true\n")
    where = str(proj.root)
    saved = Project(elsewhere).ok("-chdir", where, "plan", "-var-file", "x.zpvars", "-out", "saved.zplan")
    assert "zplan apply saved.zplan" in saved.out
    assert proj.path("saved.zplan").is_file() and not (elsewhere / "saved.zplan").exists()
    assert "Apply complete" in Project(elsewhere).ok("-chdir", where, "apply", "saved.zplan").out
    assert json.loads(proj.ok("output", "seen").out) == "bool:True NoneType:None"


def test_chdir_to_a_folder_that_is_not_there_is_refused_and_never_made(tmp_path):
    missing = tmp_path / "typo"
    for command in (["init"], ["plan"]):
        refused = Project(tmp_path).run("-chdir", str(missing), *command)
        assert refused.code == 1, str(refused)
        assert f"folder {missing} does not exist" in refused.err and "Traceback" not in refused.err
    assert not missing.exists()
    (tmp_path / "file").write_text("")
    refused = Project(tmp_path).run("-chdir", "file", "init")
    assert refused.code == 1 and "file is not a folder" in refused.err, str(refused)


# -- what destroy, replace and drift say ---------------------------------------------------------------


def test_destroy_says_destroy_complete_with_counts(proj):
    proj.apply()
    result = proj.ok("destroy", "-auto-approve")
    assert "Destroy complete: 2 destroyed." in result.out, str(result)
    again = proj.ok("destroy", "-auto-approve")
    assert "Destroy complete: 0 destroyed." in again.out, str(again)


def test_destroy_targeting_a_step_is_refused_not_said_to_have_nothing_to_destroy(proj):
    proj.apply()
    for args in (["destroy", "-auto-approve", "-target", "pipeline.p.step.show"], ["plan", "-destroy", "-target", "pipeline.p"]):
        refused = proj.run(*args)
        assert refused.code == 1, str(refused)
        assert "names no resource: destroy removes resources only" in refused.err and "Traceback" not in refused.err
    assert proj.path("out/data").is_dir() and len(proj.step_records()) == 2
    assert "Destroy complete: 1 destroyed." in proj.ok("destroy", "-auto-approve", "-target", "local_directory.data2").out


def test_a_destroy_plan_leaves_out_an_excluded_resource_and_what_it_stands_on(proj):
    proj.write("note.zp.hcl", 'resource "local_file" "note" {\n  path    = "${resource.local_directory.data.path}/note.txt"\n'
                              '  content = "hi"\n}\n')
    proj.apply()
    doc = proj.plan_json("-destroy", "-exclude", "local_file.note")
    assert actions(doc) == {"resource.local_directory.data2": "delete"}, "data holds the note kept"
    proj.ok("plan", "-destroy", "-exclude", "local_directory.data2", "-out", "down.zplan")
    assert "Destroy complete: 2 destroyed." in proj.ok("apply", "down.zplan").out
    assert proj.path("out/data2").is_dir() and not proj.path("out/data").exists()


def test_a_saved_destroy_plan_says_destroy_complete(proj):
    proj.apply()
    proj.ok("plan", "-destroy", "-out", "down.zplan")
    result = proj.ok("apply", "down.zplan")
    assert "Destroy complete: 2 destroyed." in result.out, str(result)


def test_replace_names_the_forcing_attribute_in_text_and_markdown(proj):
    proj.apply()
    proj.replace("main.zp.hcl", '"out/data2"', '"out/moved"')
    text = proj.ok("plan").out
    assert "-/+ resource.local_directory.data2" in text and "(path forces replacement)" in text
    markdown = proj.ok("plan", "-format", "markdown").out
    assert "path forces replacement" in markdown, markdown


def test_deleted_outside_shows_in_text_and_markdown(proj):
    proj.apply()
    proj.path("out/data2").rmdir()
    doc = proj.plan_json()
    (data2,) = [r for r in doc["resources"] if r["address"] == "resource.local_directory.data2"]
    assert data2["reasons"][0]["message"] == "deleted outside zplan"
    assert "deleted outside zplan" in proj.ok("plan").out
    assert "deleted outside zplan" in proj.ok("plan", "-format", "markdown").out


def test_the_invoked_command_alone_parses_as_in_the_whole_app():
    # only the command argv names is built (the rest costs start-up time): it must be the same command
    import typer

    from zplan.cli.app import _only_invoked, app

    whole = typer.main.get_command(app)
    for name, full in whole.commands.items():
        trimmed = typer.main.get_command(_only_invoked(app, [name, "--help"]))
        assert list(trimmed.commands) == [name]
        one = trimmed.commands[name]
        assert [p.opts for p in one.params] == [p.opts for p in full.params]
        assert sorted(getattr(one, "commands", {})) == sorted(getattr(full, "commands", {}))
        assert [p.opts for p in trimmed.params] == [p.opts for p in whole.params]  # -chdir
    for argv in ([], ["--help"], ["-chdir", "x", "plan"], ["plna"]):
        assert _only_invoked(app, argv) is app


def test_show_before_any_apply_says_there_is_no_state_not_a_made_up_lineage(proj):
    first, second = proj.ok("show").out, proj.ok("show").out
    assert first == second == "No state recorded yet: run `zplan apply`.\n"
    first, second = (json.loads(proj.ok("show", "-json").out) for _ in range(2))
    assert first == second and first["lineage"] is None and first["serial"] == 0, first
    proj.apply()
    assert proj.ok("show").out.startswith(f"serial 1, lineage {proj.state()['lineage']}\n")
    # -format json is -json, as for a plan file; a format the state has no view for is refused, not ignored
    assert json.loads(proj.ok("show", "-format", "json").out) == json.loads(proj.ok("show", "-json").out)
    refused = proj.run("show", "-format", "markdown")
    assert refused.code == 1 and "unknown state format 'markdown'" in refused.err and refused.out == "", str(refused)


def test_show_lists_the_recorded_outputs_as_terraforms_show(proj):
    proj.write("more.zp.hcl", 'output "token" {\n  value     = var.token\n  sensitive = true\n}\n')
    proj.apply()
    shown = proj.ok("show").out
    assert shown.endswith('\nOutputs:\n  seen = "bool:False NoneType:None"\n  token = <sensitive>\n'), shown


def test_output_raw_of_a_list_or_map_is_refused_as_terraform_refuses_it(proj):
    proj.write("more.zp.hcl", 'output "dirs" {\n  value = [resource.local_directory.data.path]\n}\n\noutput "flag" {\n  value = var.flag\n}\n')
    proj.apply()
    refused = proj.run("output", "-raw", "dirs")
    assert refused.code == 1 and 'output "dirs" is a list: -raw prints a string, number or bool only' in refused.err, str(refused)
    assert "zplan output -json dirs" in refused.err and refused.out == ""
    assert proj.ok("output", "-raw", "flag").out == "false\n"
    for args, message in ((["-raw"], "-raw needs an output name"), (["-raw", "-json", "flag"], "-raw and -json cannot be used together")):
        refused = proj.run("output", *args)  # as Terraform refuses them, not one of the flags ignored
        assert refused.code == 1 and message in refused.err and refused.out == "", str(refused)
    assert json.loads(proj.ok("output", "-json", "dirs").out) == ["out/data"]
    for flag in ("-raw", "-show-sensitive"):  # as Terraform: a script asking for one value never gets the listing
        refused = proj.run("output", flag)
        assert refused.code == 1 and refused.out == "" and f"{flag} needs an output name" in refused.err, str(refused)
        assert f"zplan output {flag} NAME" in refused.err


def test_output_shows_a_large_json_value_not_its_artifact_uri_as_terraform_shows_any_value(proj):
    """A JSON step output past what state keeps inline (4 KB) is read back from the artifact store."""
    metrics = {f"class_{i}": {"precision": i / 1000, "recall": 0.5} for i in range(200)}
    proj.write("metrics.zp.hcl", 'pipeline "m" {\n  step "metrics" {\n    source = "metrics.py:metrics"\n  }\n}\n\n'
                                 'output "metrics" {\n  value = step.metrics.outputs.output\n}\n\n'
                                 'output "both" {\n  value = [step.metrics.outputs.output, "small"]\n}\n\n'
                                 'output "token" {\n  value     = var.token\n  sensitive = true\n}\n')
    proj.write("metrics.py", f"def metrics() -> dict:\n    return {metrics!r}\n")
    applied = proj.apply().out
    assert "file://" not in applied and '"class_199": {"precision": 0.199' in applied, applied
    assert json.loads(proj.ok("output", "-json", "metrics").out) == metrics
    assert json.loads(proj.ok("output", "-json").out)["both"]["value"] == [metrics, "small"]
    assert proj.ok("output", "metrics").out.startswith('{"class_0": {"precision": 0, "recall": 0.5}')
    assert "file://" not in proj.ok("output").out
    shown = json.loads(proj.ok("show", "-json").out)["outputs"]  # as `zplan output` lists them
    assert shown["metrics"] == metrics and shown["both"] == [metrics, "small"] and shown["token"] == "(sensitive)"
    digest = proj.step_records()["metrics"]["outputs"]["output"]["digest"]
    for folder in proj.path(".zplan/artifacts").rglob(digest):
        shutil.rmtree(folder)
    missing = proj.run("output", "metrics")
    assert missing.code == 1 and "Traceback" not in missing.err and missing.out == "", str(missing)
    assert f'output "metrics": its value, the output of pipeline.m.step.metrics (artifact {digest[:12]}), cannot be read' in missing.err
    assert "zplan apply -replace pipeline.m.step.metrics" in missing.err


def test_a_changed_large_json_output_shows_its_old_value_not_its_artifact_uri(proj):
    """The recorded value of a large output is its artifact's URI: the plan reads it back to show `old -> new`;
    an old artifact no longer stored leaves the plan as it is, with the URI."""
    proj.write("metrics.zp.hcl", 'variable "k" {\n  default = 1\n}\n\npipeline "m" {\n  step "metrics" {\n'
                                 '    source = "metrics.py:metrics"\n    params = { k = var.k }\n  }\n}\n\n'
                                 'output "metrics" {\n  value = step.metrics.outputs.output\n}\n')
    proj.write("metrics.py", "def metrics(k) -> dict:\n    return {f'class_{i}': {'precision': i * k, 'recall': 0.5} for i in range(300)}\n")
    proj.apply()
    proj.apply("-var", "k=2")
    doc = proj.plan_json()  # k back to 1: the first run's result, from the cache, replaces the recorded one
    assert doc["output_changes"] == {"metrics": "change"}
    assert doc["outputs"]["metrics"]["before"]["class_3"] == {"precision": 6, "recall": 0.5}
    assert doc["outputs"]["metrics"]["value"]["class_3"] == {"precision": 3, "recall": 0.5}
    text = proj.ok("plan").out
    assert '  ~ metrics = {"class_0": {"precision": 0, "recall": 0.5}, "class_1": {"precision": 2,' in text and "file://" not in text, text
    digest = proj.step_records()["metrics"]["outputs"]["output"]["digest"]  # k=2's, the recorded one
    for folder in proj.path(".zplan/artifacts").rglob(digest):
        shutil.rmtree(folder)
    assert proj.plan_json()["outputs"]["metrics"]["before"].startswith("file://")


def test_plan_shows_a_cached_large_json_output_as_its_value_not_its_artifact_uri(proj):
    """The plan's outputs (text, Markdown, JSON) show what `zplan output` shows, a URI never; a
    damaged artifact is an error naming the output and the step to rerun, not a cached value it lacks."""
    metrics = {f"class_{i}": {"precision": i / 1000, "recall": 0.5} for i in range(200)}
    proj.write("metrics.zp.hcl", 'pipeline "m" {\n  step "metrics" {\n    source = "metrics.py:metrics"\n  }\n}\n\n'
                                 'output "metrics" {\n  value = step.metrics.outputs.output\n}\n')
    proj.write("metrics.py", f"def metrics() -> dict:\n    return {metrics!r}\n")
    proj.apply()
    planned = proj.ok("plan", "-detailed-exitcode")  # 0: the recorded output (its URI) is the one apply would record
    assert "file://" not in planned.out and '  metrics = {"class_0": {"precision": 0, "recall": 0.5}, "class_1"' in planned.out, str(planned)
    doc = proj.plan_json()
    assert doc["outputs"]["metrics"]["value"] == metrics and doc["output_changes"] == {}
    proj.write("more.zp.hcl", 'output "added" {\n  value = [step.metrics.outputs.output]\n}\n')
    assert proj.plan_json()["outputs"]["added"]["value"] == [metrics]
    markdown = proj.ok("plan", "-format", "markdown").out
    assert '+ added = [{"class_0": {"precision": 0, "recall": 0.5}' in markdown and "file://" not in markdown, markdown
    digest = proj.step_records()["metrics"]["outputs"]["output"]["digest"]
    (stored,) = [f for f in proj.path(".zplan/artifacts").rglob("*.json") if digest in str(f.parent)]
    stored.chmod(0o644)
    stored.write_text(stored.read_text().replace("0.5", "0.6"))
    damaged = proj.run("plan")
    assert damaged.code == 1 and "Traceback" not in damaged.err and "file://" not in damaged.out, str(damaged)
    assert f'metrics.zp.hcl:7:1: output "metrics": its value, the output of pipeline.m.step.metrics (artifact {digest[:12]}), cannot be read' in damaged.err
    assert "zplan apply -replace pipeline.m.step.metrics" in damaged.err
