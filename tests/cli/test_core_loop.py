"""The core loop through the real CLI: apply, then change one thing and see exactly what reruns and why.

The pipeline (tests/testdata/pipeline): load reads data/numbers.txt; scale
multiplies by params.c; total sums scale's output; count counts load's output.
"""

from __future__ import annotations

import os

from tests.cli.helpers import Project, cli_env, plan_line, ran, reasons, steps_by_action

ALL = {"load", "scale", "total", "count"}


def test_first_apply_runs_every_step_then_nothing_is_left_to_do(applied_once, applied):
    _, first = applied_once
    assert ran(first) == ALL
    assert "Apply complete: 4 ok." in first.out
    assert "total = 10.5" in first.out and "count = 4" in first.out

    result = applied.ok("plan", "-detailed-exitcode")
    for step in ALL:
        assert "cached (run 1" in plan_line(result, step)
    assert "Steps: 0 to run, 4 cached." in result.out
    assert "No changes." in result.out


def test_a_param_change_reruns_that_step_and_downstream_with_the_reason(applied):
    result = applied.run("plan", "-var", "c=0.5", "-detailed-exitcode")
    assert result.code == 2, str(result)
    assert "  ~ total = 10.5 -> (known after apply)" in result.out and "  count = 4" in result.out, str(result)  # as Terraform marks it
    assert "will rerun: params.c: 1 -> 0.5" in plan_line(result, "scale")
    assert "will rerun: input values changes (upstream scale reruns)" in plan_line(result, "total")
    assert "cached" in plan_line(result, "load") and "cached" in plan_line(result, "count")

    # The same change written in the configuration plans the same way, and apply runs just those two.
    applied.replace("main.zp.hcl", "default = 1.0", "default = 0.5")
    doc = applied.plan_json()
    assert steps_by_action(doc) == {"run": {"scale", "total"}, "cached": {"load", "count"}}
    assert reasons(doc)["scale"] == ["params.c: 1 -> 0.5"]
    assert doc["outputs"]["total"] == {"known": False, "sensitive": False, "value": None, "before": 10.5}
    assert "total" not in doc["output_changes"]  # (known values only: the step reruns, which the plan says already)
    result = applied.apply()
    assert ran(result) == {"scale", "total"}
    assert applied.ok("output", "total").out.strip() == "5.25"
    assert applied.ok("plan", "-detailed-exitcode").code == 0


def test_changing_a_param_back_reuses_the_earlier_result(applied):
    assert ran(applied.apply("-var", "c=0.5")) == {"scale", "total"}
    result = applied.apply()  # c back to 1.0: that execution is still cached
    assert ran(result) == set()
    assert applied.ok("output", "total").out.strip() == "10.5"
    assert applied.step_records()["scale"]["fingerprint"]["params"] == {"c": 1}


def test_a_plan_that_changes_only_recorded_outputs_says_so_as_terraform(applied):
    """Every step cached, but apply would rewrite the recorded outputs: that is a change (exit 2)."""
    applied.apply("-var", "c=0.5")
    result = applied.run("plan", "-detailed-exitcode")  # c back to 1.0: total's earlier result, from the cache
    assert result.code == 2, str(result)
    assert "Steps: 0 to run, 4 cached." in result.out and "No changes." not in result.out
    assert "  ~ total = 5.25 -> 10.5" in result.out and "  count = 4" in result.out  # the recorded value, then the new one
    applied.replace("main.zp.hcl", 'output "count" {', 'output "n" {')
    doc = applied.plan_json()
    assert doc["output_changes"] == {"count": "remove", "n": "add", "total": "change"}
    assert doc["outputs"]["total"] == {"known": True, "sensitive": False, "value": 10.5, "before": 5.25}
    assert "before" not in doc["outputs"]["n"]
    # one no longer declared shows its old value going, as Terraform's `- count = 4 -> null`
    assert doc["outputs"]["count"] == {"known": True, "sensitive": False, "value": None, "before": 4}
    assert "  - count = 4 -> null\n" in applied.ok("plan").out
    markdown = applied.ok("plan", "--format", "markdown").out  # what a pull request shows says so too
    assert "<details><summary>3 output change(s)</summary>" in markdown, markdown
    assert "- count = 4 -> null\n+ n = 4\n! total = 5.25 -> 10.5" in markdown, markdown
    applied.apply()
    assert applied.ok("output", "total").out.strip() == "10.5"
    assert applied.run("plan", "-detailed-exitcode").code == 0


def test_an_apply_that_changes_only_outputs_says_so_not_nothing_to_do(tmp_path):
    # it wrote them to state, then said "Apply complete: nothing to do."
    project = Project(tmp_path / "p")
    project.write("main.zp.hcl", 'output "a" { value = 1 }\noutput "b" { value = 2 }\n')
    assert "Apply complete: 2 output(s) changed." in project.apply().out
    project.write("main.zp.hcl", 'output "a" { value = 3 }\n')
    assert "Apply complete: 2 output(s) changed." in project.apply().out
    assert "No changes. Nothing to apply." in project.apply().out
    assert project.ok("output").out.split() == ["Outputs:", "a", "=", "3"]


def test_a_destroy_plan_lists_the_outputs_it_clears(applied):
    """As Terraform's "Changes to Outputs" of a destroy: the recorded outputs go with the rest."""
    result = applied.run("plan", "-destroy", "-detailed-exitcode")
    assert result.code == 2 and "  - count = 4 -> null\n  - total = 10.5 -> null\n" in result.out, str(result)
    doc = applied.plan_json("-destroy")
    assert doc["output_changes"] == {"count": "remove", "total": "remove"}
    assert doc["outputs"]["total"] == {"known": True, "sensitive": False, "value": None, "before": 10.5}
    applied.ok("destroy", "-auto-approve")
    assert applied.ok("output").out.strip() == "No outputs recorded."
    assert applied.run("plan", "-destroy", "-detailed-exitcode").code == 0


def test_comment_docstring_and_layout_edits_rerun_nothing(applied):
    applied.replace("steps/data.py", "# multiply every value by c", "# every value, times c")
    applied.replace("steps/data.py", '"""One number per line; blank lines are skipped."""', '"""Reads the numbers."""')
    applied.replace("steps/data.py", "return [v * c for v in values]", "return [\n        v*c  for v in values\n    ]  # scaled")
    applied.replace("steps/stats.py", "def count(values: list) -> int:", "\n\ndef count(values: list) -> int:  # how many")
    result = applied.run("plan", "-detailed-exitcode")
    assert result.code == 0, str(result)
    assert "Steps: 0 to run, 4 cached." in result.out


def test_a_body_edit_reruns_the_step(applied):
    applied.replace("steps/data.py", "return [v * c for v in values]", "return [v * c * 2 for v in values]")
    doc = applied.plan_json()
    assert steps_by_action(doc) == {"run": {"scale", "total"}, "cached": {"load", "count"}}
    assert reasons(doc)["scale"] == ["code changed (data.scale in steps/data.py)"]


def test_an_edit_of_a_project_helper_reruns_the_steps_that_call_it(applied):
    applied.replace("steps/util.py", "return line.strip()", 'return line.strip().replace(",", ".")')
    doc = applied.plan_json()
    assert reasons(doc)["load"] == ["code changed (util.clean in steps/util.py)"]
    assert reasons(doc)["count"] == ["input values changes (upstream load reruns)"]
    assert steps_by_action(doc)["run"] == ALL


def test_new_data_reruns_its_readers_and_a_touch_reruns_nothing(applied):
    data = applied.path("data/numbers.txt")
    os.utime(data, ns=(data.stat().st_atime_ns, data.stat().st_mtime_ns + 5_000_000_000))
    assert applied.run("plan", "-detailed-exitcode").code == 0

    data.write_text(data.read_text() + "5\n")
    doc = applied.plan_json()
    assert reasons(doc)["load"] == ["input raw changed (data/numbers.txt)"]
    assert steps_by_action(doc)["run"] == ALL
    applied.apply()
    assert applied.ok("output", "count").out.strip() == "5"


def test_a_failing_step_is_reported_recorded_and_resumed_after_the_fix(applied):
    applied.replace("steps/data.py", "return [v * c for v in values]", "return [v * c + offset for v in values]")
    result = applied.run("apply", "-auto-approve", "-var", "c=2")
    assert result.code == 1, str(result)
    # The user's own frame and message, not zplan's internals.
    assert "Traceback" in result.out
    assert 'steps/data.py", line 15, in scale' in result.out
    assert "NameError: name 'offset' is not defined" in result.out
    assert "zplan/apply" not in result.out
    assert "pipeline.numbers.step.total: skipped" in result.out
    assert "failed: pipeline.numbers.step.scale" in result.err

    records = applied.step_records()
    assert records["scale"]["status"] == "failed" and "offset" in records["scale"]["error"]
    assert {records[s]["status"] for s in ("load", "count", "total")} == {"succeeded"}
    assert "failed" in applied.ok("runs").out.splitlines()[1]

    doc = applied.plan_json("-var", "c=2")
    assert reasons(doc)["scale"] == ["previous run failed"]
    assert steps_by_action(doc) == {"run": {"scale", "total"}, "cached": {"load", "count"}}

    applied.replace("steps/data.py", "+ offset for", "+ 1 for")
    result = applied.apply("-var", "c=2")
    assert ran(result) == {"scale", "total"}
    assert applied.ok("output", "total").out.strip() == "25"  # numbers shown as HCL writes them


def test_saved_plans_apply_as_reviewed_or_are_refused_when_stale(project):
    # Two plans made before the first apply: the first applies, the second is then stale.
    project.ok("plan", "-out", "first.zplan")
    project.ok("plan", "-var", "c=3", "-out", "second.zplan")
    # A comment-only and layout-only edit of the configuration does not make a plan stale.
    project.replace("main.zp.hcl", "# A four-step pipeline", "# A small pipeline")
    project.replace("main.zp.hcl", "  default = 1.0", "  default   =   1.0")
    result = project.ok("apply", "first.zplan")
    assert ran(result) == ALL
    result = project.run("apply", "second.zplan")
    assert result.code == 1 and "saved plan is stale" in result.err, str(result)
    assert "serial 0" in result.err and "serial 1" in result.err

    # Editing a step body after the plan was made: refused, naming the step.
    project.ok("plan", "-var", "c=3", "-out", "third.zplan")
    project.replace("steps/data.py", "return [v * c for v in values]", "return [v * c * 2 for v in values]")
    result = project.run("apply", "third.zplan")
    assert result.code == 1, str(result)
    assert "the code of pipeline.numbers.step.scale changed" in result.err

    # Editing a value in the configuration: refused, naming the file.
    project.ok("plan", "-out", "fourth.zplan")
    project.replace("main.zp.hcl", '"data/numbers.txt"', '"./data/numbers.txt"')
    result = project.run("apply", "fourth.zplan")
    assert result.code == 1, str(result)
    assert "configuration file main.zp.hcl changed" in result.err
    assert "Traceback" not in result.err
    assert project.state()["serial"] == 1  # none of the refused plans changed anything


def test_a_saved_plan_is_stale_when_what_it_would_write_reads_otherwise_now(project):
    """Same actions, other values: `env()` in a resource attribute or an output reads another value at apply."""
    project.write("main.zp.hcl", project.read("main.zp.hcl") + """
resource "local_directory" "out" {
  path = env("OUT_DIR", "out")
}

output "owner" {
  value = env("OWNER", "nobody")
}
""")
    project.ok("plan", "-out", "plan.zplan", env=cli_env(OUT_DIR="reviewed"))
    result = project.run("apply", "plan.zplan", env=cli_env(OUT_DIR="other"))
    assert result.code == 1, str(result)
    assert 'saved plan is stale: the planned attribute path ("reviewed" -> "other") of resource.local_directory.out changed' in result.err
    assert not project.path("other").exists() and not project.path(".zplan/state.json").exists()

    result = project.run("apply", "plan.zplan", env=cli_env(OUT_DIR="reviewed", OWNER="someone"))
    assert result.code == 1, str(result)
    assert "saved plan is stale: the planned value of output owner changed" in result.err
    project.ok("apply", "plan.zplan", env=cli_env(OUT_DIR="reviewed"))
    assert project.path("reviewed").is_dir()


def test_a_saved_plan_stale_by_a_param_names_the_param_and_both_values(project):
    """A param an `env()` gives reads otherwise at apply: the refusal says which param, from what to what
    (it named only the step, and asked whether a params file was edited)."""
    project.replace("main.zp.hcl", "params = { c = var.c }", 'params = { c = var.c, region = env("REGION", "eu") }')
    project.replace("steps/data.py", "def scale(values: list, c: float)", "def scale(values: list, c: float, region: str)")
    project.ok("plan", "-out", "plan.zplan")
    result = project.run("apply", "plan.zplan", env=cli_env(REGION="us"))
    assert result.code == 1, str(result)
    assert 'saved plan is stale: params.region of pipeline.numbers.step.scale changed since the plan was made ("eu" -> "us")' in result.err, str(result)
    assert "env()" in result.err and not project.path(".zplan/state.json").exists()


def test_a_saved_plan_is_stale_when_its_stack_settings_read_otherwise_now(project):
    """The reviewed plan runs its steps in the stores it was made for, never in others an `env()` reads at apply."""
    project.replace("main.zp.hcl", '"file://.zplan/artifacts"', 'env("STORE", "file://.zplan/artifacts")')
    project.ok("plan", "-out", "plan.zplan")
    result = project.run("apply", "plan.zplan", env=cli_env(STORE="file://.zplan/elsewhere"))
    assert result.code == 1, str(result)
    assert 'saved plan is stale: the settings of stack "local" changed since the plan was made' in result.err
    assert not project.path(".zplan/elsewhere").exists() and not project.path(".zplan/state.json").exists()
    assert ran(project.ok("apply", "plan.zplan")) == ALL


def test_apply_without_a_terminal_needs_auto_approve(project):
    result = project.run("apply")
    assert result.code == 1
    assert "needs confirmation, but standard input is not a terminal" in result.err
    assert "-auto-approve" in result.err
    assert ran(result) == set() and not project.path(".zplan/state.json").exists()


def test_destroy_without_a_terminal_names_a_plan_file_that_destroys(project):
    result = project.run("destroy")
    assert result.code == 1, str(result)
    assert "zplan plan -destroy -out plan.zplan && zplan apply plan.zplan" in result.err


def test_target_exclude_and_replace(applied):
    result = applied.ok("plan", "-var", "c=2", "-target", "pipeline.numbers.step.scale")
    assert "will rerun: params.c" in plan_line(result, "scale")
    assert ".step.total" not in result.out and ".step.count" not in result.out

    result = applied.apply("-var", "c=2", "-target", "pipeline.numbers.step.scale")
    assert ran(result) == {"scale"}
    doc = applied.plan_json("-var", "c=2")
    assert steps_by_action(doc)["run"] == {"total"}  # left out by -target, still to do

    result = applied.ok("plan", "-var", "c=2", "-exclude", "pipeline.numbers.step.total")
    assert "Steps: 0 to run, 3 cached." in result.out and ".step.total" not in result.out
    # as Terraform warns: what was left out may still change, so the plan never says everything matches
    assert "Warning: -exclude in effect" in result.out
    assert "No changes in what -target/-exclude selected." in result.out and "match the configuration" not in result.out
    everything_out = applied.ok("plan", "-var", "c=2", "-exclude", "pipeline.numbers")
    assert "(nothing selected by -target/-exclude)" in everything_out.out and "nothing declared" not in everything_out.out
    assert "Warning: -target in effect" in applied.ok("plan", "-format", "markdown", "-target", "pipeline.numbers.step.scale").out

    assert reasons(applied.plan_json("-replace", "pipeline.numbers.step.count"))["count"] == ["forced by -replace"]
    result = applied.apply("-replace", "pipeline.numbers.step.load")
    assert "load" in ran(result)
    # load came out the same, so what reads it is taken from the cache.
    assert "pipeline.numbers.step.count: cached: upstream output unchanged" in result.out
    assert "count" not in ran(result)


def test_an_output_of_a_step_left_out_of_the_plan_shows_its_recorded_value(applied):
    # apply leaves that output as state holds it, so the plan shows it so, not as known after apply
    result = applied.ok("plan", "-exclude", "pipeline.numbers.step.total", "-detailed-exitcode")
    assert "total = 10.5" in result.out and "(known after apply)" not in result.out
    assert "total = 10.5" in applied.ok("plan", "-target", "pipeline.numbers.step.count").out


def test_output_needs_no_variable_it_does_not_read_and_takes_them_as_plan_does(applied):
    # A variable without a default that the stack does not read: `zplan output` reads recorded values only.
    applied.replace("main.zp.hcl", "  default = 1.0\n", "")
    assert applied.ok("output", "total").out.strip() == "10.5"
    assert applied.ok("output", "total", "-var", "c=1.0").out.strip() == "10.5"
    applied.write("c.zpvars", "c = 1.0\n")
    assert applied.ok("output", "-var-file", "c.zpvars", "total").out.strip() == "10.5"


def test_the_later_of_var_and_var_file_wins_as_terraform_takes_them(applied):
    # -var won over -var-file wherever it was written on the command line
    applied.write("half.zpvars", "c = 0.5\n")
    for first in ([], ["-chdir", "."]):  # the quick launch, the full command line
        assert "params.c: 1 -> 0.5" in plan_line(applied.ok(*first, "plan", "-var", "c=2", "-var-file", "half.zpvars"), "scale")
        assert "params.c: 1 -> 2" in plan_line(applied.ok(*first, "plan", "-var-file", "half.zpvars", "-var", "c=2"), "scale")
    applied.ok("plan", "-var", "c=2", "--var-file=half.zpvars", "-out", "saved.zplan")
    assert ran(applied.ok("apply", "saved.zplan")) == {"scale", "total"}
    assert applied.ok("output", "total").out.strip() == "5.25"
    assert ran(applied.apply("-var-file", "half.zpvars", "-var", "c=1.0")) == set()  # back to 1.0: from the cache
    assert applied.ok("output", "total").out.strip() == "10.5"


def test_a_replacement_whose_create_fails_leaves_no_record_of_the_deleted_object(tmp_path):
    # Delete-then-create: the old object is gone even though the new one could not be made.
    from tests.cli.helpers import Project

    project = Project(tmp_path)
    project.write("main.zp.hcl", 'variable "p" {\n  default = "a.txt"\n}\n\nresource "local_file" "f" {\n  path    = var.p\n'
                                 '  content = "hi"\n}\n\noutput "where" {\n  value = resource.local_file.f.path\n}\n')
    project.apply()
    project.write("blocker", "a file, so blocker/x.txt cannot be made\n")
    failed = project.run("apply", "-auto-approve", "-var", "p=blocker/x.txt")
    assert failed.code == 1 and not project.path("a.txt").exists()
    assert "resource.local_file.f" not in project.ok("state", "list").out
    assert "where" not in project.ok("output").out  # it named the deleted file
    plan = project.ok("plan").out
    assert "resource.local_file.f" in plan and "will be created" in plan and "deleted outside zplan" not in plan
