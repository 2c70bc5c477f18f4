"""Script steps (command = [...]) and params files, through the real command line."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from tests.cli.helpers import Project, ran, reasons, steps_by_action

SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "zplan/plan/plan.schema.json").read_text())

HCL = """
pipeline "p" {
  step "make" {
    command = ["python", "src/make.py", "out/data"]
    deps    = ["src/make.py"]
    params  = ["make.n", "other.json:scale"]
    outs    = ["out/data"]
  }
  step "use" {
    command = "python src/use.py ${input.data} result.txt"
    inputs  = { data = step.make.outs["out/data"] }
    deps    = ["src/use.py"]
    outs    = ["result.txt"]
    metrics = ["metrics.json"]
  }
  step "other" {
    command = ["python", "src/use.py", input.data, "other.txt"]
    inputs  = { data = step.make.outs["out/data"] }
    params  = ["make.unused"]
    outs    = ["other.txt"]
  }
}
output "metrics" { value = step.use.outs["metrics.json"] }
"""
MAKE = """import json, os, sys, yaml
n = yaml.safe_load(open("params.yaml"))["make"]["n"]
scale = json.load(open("other.json"))["scale"]
os.makedirs(sys.argv[1], exist_ok=True)
for i in range(n):
    open(os.path.join(sys.argv[1], f"{i}.txt"), "w").write(str(i * scale))
"""
USE = """import json, os, sys
values = [int(open(os.path.join(sys.argv[1], f)).read()) for f in sorted(os.listdir(sys.argv[1]))]
open(sys.argv[2], "w").write(str(sum(values)))
json.dump({"total": sum(values), "files": len(values)}, open("metrics.json", "w"))
print("summed", len(values), "files")
"""


@pytest.fixture
def project(tmp_path) -> Project:
    project = Project(tmp_path / "scripts")
    project.write("main.zp.hcl", HCL)
    project.write("src/make.py", MAKE)
    project.write("src/use.py", USE)
    project.write("params.yaml", "make:\n  n: 3\n  unused: 1\n")
    project.write("other.json", '{"scale": 10}')
    return project


def test_a_script_pipeline_runs_keys_each_param_and_checks_out_its_outs(project):
    first = project.apply()
    assert ran(first) == {"make", "use", "other"}, str(first)
    assert project.read("result.txt") == "30" and sorted(p.name for p in project.path("out/data").iterdir()) == ["0.txt", "1.txt", "2.txt"]
    assert json.loads(project.ok("output", "-json").out)["metrics"]["value"] == {"total": 30, "files": 3}
    assert "summed 3 files" in project.path(".zplan/logs/local/run-1/pipeline.p.step.use.log").read_text()

    project.write("params.yaml", "make:\n  n: 3\n  unused: 2\n")
    doc = project.plan_json()
    assert steps_by_action(doc)["run"] == {"other"} and reasons(doc)["other"] == ["params.yaml: make.unused 1 -> 2"]
    project.write("params.yaml", "make:\n  n: 4\n  unused: 1\n")
    doc = project.plan_json()
    assert steps_by_action(doc)["run"] == {"make", "use", "other"}
    assert reasons(doc)["make"] == ["params.yaml: make.n 3 -> 4"]
    project.write("other.json", '{"scale": 20}')
    assert reasons(project.plan_json())["make"] == ["other.json: scale 10 -> 20", "params.yaml: make.n 3 -> 4"]


def test_the_command_line_is_keyed_and_named_in_the_reason(project):
    project.apply()
    project.replace("main.zp.hcl", '"python", "src/make.py", "out/data"]', '"python", "src/make.py", "out/data", "--fast"]')
    assert reasons(project.plan_json())["make"] == ["command: python src/make.py out/data -> python src/make.py out/data --fast"]


def test_the_markdown_plan_shows_a_script_step_by_its_command(project):
    """A script step has no source function: the Markdown plan showed an empty "source: ``" for it."""
    markdown = project.ok("plan", "-format", "markdown").out
    make = markdown[markdown.index("<code>~ pipeline.p.step.make</code>"):]
    make = make[: make.index("</details>")]
    assert "- command: <code>python src/make.py out/data</code>\n" in make and "source" not in make, make
    use = markdown[markdown.index("<code>~ pipeline.p.step.use</code>"):]
    assert "- command: <code>python src/use.py out/data result.txt</code>\n" in use[: use.index("</details>")]


def test_no_checkout_leaves_the_workspace_alone(project):
    project.apply("-no-checkout")
    assert not project.path("result.txt").exists() and not project.path("out").exists()
    assert project.run("plan", "-detailed-exitcode").code == 2  # a plain apply would check them out
    assert project.run("plan", "-no-checkout", "-detailed-exitcode").code == 0  # what `apply -no-checkout` would do: nothing
    project.ok("plan", "-no-checkout", "-out", "plan.zplan")
    project.ok("apply", "plan.zplan")  # applied as planned: without checking out
    assert not project.path("result.txt").exists()
    project.apply()
    assert project.read("result.txt") == "30"


def test_an_apply_that_puts_a_deleted_or_edited_out_back_says_so(project):
    project.apply()
    project.path("result.txt").unlink()
    project.write("metrics.json", "edited by hand")
    again = project.apply()
    assert "Checked out into the project: result.txt, metrics.json" in again.out, str(again)
    assert project.read("result.txt") == "30"
    assert "Checked out" not in project.apply().out  # nothing missing or changed: nothing to say


def test_the_plan_lists_the_outs_apply_would_check_out_again(project):
    """An out deleted or edited in the project folder is written back by the next apply: the plan
    says so (text, JSON, exit code 2), as `dvc status` does, and not "No changes"."""
    project.apply()
    project.path("result.txt").unlink()
    project.write("metrics.json", "edited by hand")
    project.path("out/data/1.txt").unlink()
    doc = project.plan_json()
    jsonschema.validate(doc, SCHEMA)
    assert doc["checkouts"] == [
        {"path": "out/data", "step": "pipeline.p.step.make", "reason": "files_added_or_removed"},
        {"path": "result.txt", "step": "pipeline.p.step.use", "reason": "missing"},
        {"path": "metrics.json", "step": "pipeline.p.step.use", "reason": "changed"},
    ] and doc["summary"]["checkouts"] == 3
    planned = project.run("plan", "-detailed-exitcode")
    assert planned.code == 2 and "No changes" not in planned.out, str(planned)
    assert "~ metrics.json" in planned.out and "will be checked out again from pipeline.p.step.use: changed in the project folder" in planned.out
    assert "Outs: 3 to check out." in planned.out
    markdown = project.ok("plan", "-format", "markdown").out
    assert "| `result.txt` | will be checked out again from pipeline.p.step.use: missing" in markdown
    assert "| add | change | destroy | steps to run | steps cached | outs to check out |\n|---:|---:|---:|---:|---:|---:|\n| 0 | 0 | 0 | 0 | 3 | 3 |" in markdown
    assert "checked out again" not in project.ok("apply", "-auto-approve", "-verbose", "-no-checkout").out  # its plan writes nothing back
    project.apply()
    assert project.read("metrics.json") != "edited by hand" and project.run("plan", "-detailed-exitcode").code == 0


def test_a_saved_plan_is_stale_once_an_out_it_did_not_list_is_edited(project):
    project.apply()
    project.ok("plan", "-out", "plan.zplan")
    project.write("result.txt", "my own edit")
    result = project.run("apply", "plan.zplan")
    assert result.code == 1 and "saved plan is stale: result.txt changed in the project folder" in result.err, str(result)
    assert project.read("result.txt") == "my own edit"
    project.write("result.txt", "edited before the plan")
    project.ok("plan", "-out", "plan.zplan")
    assert "Checked out into the project: result.txt" in project.ok("apply", "plan.zplan").out
    assert project.read("result.txt") == "30"


def test_an_apply_narrowed_by_target_leaves_the_outs_of_other_steps_alone(project):
    project.apply()
    project.write("other.txt", "my own edit")
    planned = project.run("plan", "-target", "pipeline.p.step.use", "-detailed-exitcode")
    assert planned.code == 0 and "other.txt" not in planned.out, str(planned)
    assert "Checked out" not in project.apply("-target", "pipeline.p.step.use").out
    assert project.read("other.txt") == "my own edit"
    assert project.plan_json("-exclude", "pipeline.p.step.use")["checkouts"] == [
        {"path": "other.txt", "step": "pipeline.p.step.other", "reason": "changed"}]


def test_a_file_in_the_way_of_an_out_is_a_clear_error(project):
    project.apply()
    shutil.rmtree(project.path("out"))
    project.write("out", "a file where the out's folder goes")
    result = project.run("apply", "-auto-approve")
    assert result.code == 1 and "Traceback" not in result.err and "internal error" not in result.err, str(result)
    assert ("the apply is recorded, but out/data (an out of pipeline.p.step.make) could not be checked out into the project folder: "
            "out is a file where a folder is needed") in result.err
    project.path("out").unlink()
    assert [c["path"] for c in project.plan_json()["checkouts"]] == ["out/data"]
    project.apply()
    assert sorted(p.name for p in project.path("out/data").iterdir()) == ["0.txt", "1.txt", "2.txt"]


def test_an_out_whose_stored_artifact_was_damaged_says_how_to_get_it_back(project):
    project.apply()
    (stored,) = [p for p in project.path(".zplan/artifacts").rglob("result.txt") if p.read_text() == "30"]
    stored.parent.chmod(0o755)
    stored.chmod(0o644)
    stored.write_text("31")  # same size: the plan sees the artifact there, its checkout reads it
    project.path("result.txt").unlink()
    result = project.run("apply", "-auto-approve")
    assert result.code == 1 and "internal error" not in result.err, str(result)
    assert "result.txt (an out of pipeline.p.step.use) could not be checked out into the project folder: artifact damaged" in result.err
    assert "`zplan verify -repair` drops the damaged artifact; the next `zplan apply` then reruns pipeline.p.step.use" in result.err
    project.ok("verify", "-repair")
    assert "use" in ran(project.apply()) and project.read("result.txt") == "30"


def test_a_failing_command_shows_its_exit_code_and_last_output(project):
    project.write("src/use.py", "import sys\nprint('reading the model')\nsys.exit(3)\n")
    result = project.run("apply", "-auto-approve")
    assert result.code == 1 and "Traceback" not in result.err, str(result)
    assert "step.use: FAILED" in result.out and "the command exited with code 3" in result.out and "reading the model" in result.out


def test_an_out_the_command_did_not_write_fails_the_step(project):
    project.replace("main.zp.hcl", 'outs    = ["result.txt"]\n    metrics', 'outs    = ["result.txt", "missing.bin"]\n    metrics')
    result = project.run("apply", "-auto-approve")
    assert result.code == 1 and "the command did not write missing.bin" in result.out, str(result)


@pytest.mark.parametrize("edit, message", [
    (('input.data, "other.txt"]', 'input.dat, "other.txt"]'), 'unknown input "input.dat"'),
    (('params  = ["make.unused"]', 'params  = ["make.nope"]'), "params.yaml has no parameter 'make.nope'"),
    (('deps    = ["src/make.py"]', 'deps    = ["src/gone.py"]'), "dep src/gone.py does not exist"),
    # a step output written into the command: the hint names the output, not the whole command
    (('command = "python src/use.py ${input.data} result.txt"', 'command = "python src/use.py ${step.make.outs["out/data"]} result.txt"'),
     'pass it as an input (inputs = { x = step.make.outs["out/data"] }) and write input.x in the command'),
    # a script step has no source = "FILE.py:function" to check
    (('"python", "src/make.py", "out/data"]', '"python", "src/mkae.py", "out/data"]'),
     'step "make": its command runs src/mkae.py, which does not exist\n  check the path in command (relative to the project folder)'),
    (('outs    = ["out/data"]', 'outs    = ["../out"]'), 'outs entry "../out" must be a path inside the project'),
    # checking it out would delete the whole project, or overwrite zplan's state
    (('outs    = ["out/data"]', 'outs    = ["."]'), 'outs entry "." cannot be the project folder'),
    (('outs    = ["out/data"]', 'outs    = ["./"]'), 'outs entry "./" cannot be the project folder'),
    (('outs    = ["out/data"]', 'outs    = [".zplan/state.json"]'), 'outs entry ".zplan/state.json" cannot be'),
    (('outs    = ["out/data"]', 'outs    = ["out/data"]\n    metrics = ["./.zplan"]'), 'metrics entry "./.zplan" cannot be'),
    # ... or replace the configuration, or have the step read what it writes (DVC: a circular dependency)
    (('outs    = ["out/data"]', 'outs    = ["main.zp.hcl"]'), 'outs entry "main.zp.hcl" cannot be the project folder, a configuration file'),
    (('outs    = ["out/data"]', 'outs    = ["zplan.zpvars"]'), 'outs entry "zplan.zpvars" cannot be'),
    (('outs    = ["out/data"]', 'outs    = ["src/make.py"]'), 'step "make": "src/make.py" is both a dep and an out'),
    (('outs    = ["other.txt"]', 'outs    = ["result.txt"]'), 'steps "use" and "other" both write result.txt'),
    # ... wherever the two steps are: one inside the other's folder, instances of one step, other pipelines (DVC: overlapping outs)
    (('outs    = ["other.txt"]', 'outs    = ["out/data/extra.txt"]'), "pipeline.p.step.make and pipeline.p.step.other both write inside out/data"),
    (('step "other" {', 'step "other" {\n    for_each = toset(["a", "b"])'), 'pipeline.p.step.other["a"] and pipeline.p.step.other["b"] both write other.txt'),
    (('output "metrics"', 'pipeline "q" {\n  step "s" {\n    command = "true"\n    outs    = ["result.txt"]\n  }\n}\noutput "metrics"'),
     "pipeline.p.step.use and pipeline.q.step.s both write result.txt"),
])
def test_mistakes_in_a_script_step_are_reported_at_plan(project, edit, message):
    project.replace("main.zp.hcl", *edit)
    result = project.run("plan")
    assert result.code == 1 and "Traceback" not in result.err, str(result)
    assert message in result.err and "main.zp.hcl:" in result.err, str(result)


@pytest.mark.parametrize("name, text", [
    ("params.yaml", "train:\n  n_est: 100\n"),
    ("params.json", '{"train": {"n_est": 100}}'),
    ("params.toml", "[train]\nn_est = 100\n"),
])
def test_var_file_and_params_file_read_yaml_json_and_toml(tmp_path, name, text):
    project = Project(tmp_path / "p")
    project.write(name, text)
    project.write("main.zp.hcl", f"""
variable "train" {{ default = {{ n_est = 50 }} }}
locals {{ p = params_file("{name}") }}
pipeline "p" {{
  step "a" {{
    source = "s.py:a"
    params = {{ n = var.train.n_est, m = local.p.train.n_est }}
  }}
}}
output "n" {{ value = step.a.outputs.output }}
""")
    project.write("s.py", "def a(n, m):\n    return [n, m]\n")
    project.apply("-var-file", name)
    assert json.loads(project.ok("output", "-json").out)["n"]["value"] == [100, 100]


def test_a_malformed_params_file_is_a_clear_error(tmp_path):
    project = Project(tmp_path / "p")
    project.write("params.yaml", "train:\n  n_est: [1, 2\n")
    project.write("main.zp.hcl", 'variable "train" {}\npipeline "p" {\n  step "a" { command = "true" }\n}\n')
    result = project.run("plan", "-var-file", "params.yaml")
    assert result.code == 1 and "Traceback" not in result.err and "params.yaml" in result.err and "is not valid YAML" in result.err, str(result)


def test_a_string_command_using_shell_syntax_runs_in_the_shell_as_dvc_runs_it(tmp_path):
    project = Project(tmp_path / "p")
    project.write("w.py", "print('quiet words')\n")
    project.write("main.zp.hcl", 'pipeline "p" {\n  step "shout" {\n    command = "python w.py | tr a-z A-Z > shout.txt"\n'
                                 '    outs    = ["shout.txt"]\n  }\n}\n')
    project.apply()
    assert project.read("shout.txt") == "QUIET WORDS\n"
    project.write("w.py", "# still quiet\nprint('quiet words')\n")
    assert steps_by_action(project.plan_json())["run"] == set(), "the script is keyed by its code"
    project.write("w.py", "print('loud words')\n")
    assert reasons(project.plan_json())["shout"] == ["code changed (w.py)"]


def test_metrics_are_recorded_in_ml_metadata_per_run_and_validate_imports_no_script(project):
    project.apply()
    project.write("params.yaml", "make:\n  n: 4\n  unused: 1\n")
    project.apply()
    check = ("import json, zplan; p = zplan.open('.'); "
             "print(json.dumps([[e.step, sorted(e.outputs)] for n in (1, 2) for e in p.run(n).executions if e.step == 'use']))")
    recorded = json.loads(subprocess.run([sys.executable, "-c", check], cwd=project.root, capture_output=True, text=True, check=True).stdout)
    assert recorded == [["use", ["metrics.json", "result.txt"]], ["use", ["metrics.json", "result.txt"]]]
    assert json.loads(project.ok("output", "-json").out)["metrics"]["value"] == {"total": 60, "files": 4}
    project.ok("validate", "-imports")


def test_metrics_files_are_read_as_dvc_reads_them_yaml_1_2_and_toml(tmp_path):
    # `dvc metrics show` reads JSON, YAML 1.2 (1e-5 a number, `yes` text) and TOML: so do a script step's outputs
    project = Project(tmp_path / "p")
    project.write("w.py", "open('m.yaml', 'w').write('loss: 1e-5\\nok: yes\\n')\nopen('m.toml', 'w').write('[eval]\\nauc = 0.75\\n')\n")
    project.write("main.zp.hcl", 'pipeline "p" {\n  step "eval" {\n    command = "python w.py"\n    metrics = ["m.yaml", "m.toml"]\n  }\n}\n'
                                 'output "yaml" { value = step.eval.outs["m.yaml"] }\noutput "toml" { value = step.eval.outs["m.toml"] }\n')
    project.apply()
    outputs = json.loads(project.ok("output", "-json").out)
    assert outputs["yaml"]["value"] == {"loss": 1e-05, "ok": "yes"} and outputs["toml"]["value"] == {"eval": {"auc": 0.75}}


def test_a_function_step_param_read_from_a_params_file_is_named_by_its_key_there(tmp_path):
    project = Project(tmp_path / "p")
    project.write("params.yaml", "prepare:\n  split: 0.2\ntrain:\n  n_est: 50\n  depth: 3\n")
    project.write("main.zp.hcl", """
variable "train" {}
locals { p = params_file("params.yaml") }
pipeline "p" {
  step "prepare" {
    source = "s.py:prepare"
    params = { split = local.p.prepare.split }
  }
  step "train" {
    source = "s.py:train"
    params = { n_est = local.p.train.n_est, depth = var.train.depth, fixed = 1 }
  }
}
""")
    project.write("s.py", "def prepare(split):\n    return split\n\ndef train(n_est, depth, fixed):\n    return n_est * depth\n")
    project.apply("-var-file", "params.yaml")
    project.write("params.yaml", "prepare:\n  split: 0.2\ntrain:\n  n_est: 100\n  depth: 4\n")
    doc = project.plan_json("-var-file", "params.yaml")
    assert steps_by_action(doc)["run"] == {"train"}
    assert reasons(doc)["train"] == ["params.yaml: train.depth 3 -> 4", "params.yaml: train.n_est 50 -> 100"]
    project.replace("main.zp.hcl", "fixed = 1", "fixed = 2")
    assert "params.fixed: 1 -> 2" in reasons(project.plan_json("-var-file", "params.yaml"))["train"]


def test_dates_in_a_params_file_are_their_iso_text(tmp_path):
    # YAML reads 2021-06-30 as a date, TOML has dates: a DVC params.yaml often holds one
    project = Project(tmp_path / "p")
    project.write("params.yaml", "data:\n  cutoff: 2021-06-30\n  taken: 2021-07-01 10:30:00\n  ids: {1: a}\n")
    project.write("dates.toml", "start = 2021-01-01\n")
    project.write("main.zp.hcl", """
variable "data" {}
locals {
  p = params_file("params.yaml")
  t = params_file("dates.toml")
}
pipeline "p" {
  step "cut" {
    command = "echo cut > cut.txt"
    params  = ["data.cutoff"]
    outs    = ["cut.txt"]
  }
  step "use" {
    source = "s.py:use"
    params = { cutoff = local.p.data.cutoff, taken = var.data.taken, id = local.p.data.ids[1], start = local.t.start }
  }
}
output "use" { value = step.use.outputs.output }
""")
    project.write("s.py", "def use(cutoff, taken, id, start):\n    return [cutoff, taken, id, start]\n")
    project.apply("-var-file", "params.yaml")
    assert json.loads(project.ok("output", "-json").out)["use"]["value"] == ["2021-06-30", "2021-07-01T10:30:00", "a", "2021-01-01"]
    project.replace("params.yaml", "2021-06-30", "2021-07-31")
    doc = project.plan_json("-var-file", "params.yaml")
    assert reasons(doc)["cut"] == ["params.yaml: data.cutoff '2021-06-30' -> '2021-07-31'"]
    assert reasons(doc)["use"] == ["params.yaml: data.cutoff '2021-06-30' -> '2021-07-31'"]


FANNED = '''variable "greeting" {
  default = "hello"
}

pipeline "p" {
  step "report" {
    for_each = toset(["a", "b"])

    command = "echo ${var.greeting} ${each.value} > report-${each.value}.txt"
    outs    = ["report-${each.value}.txt"]
  }
}
'''


def test_a_script_step_fans_out_with_for_each_each_instance_with_its_own_outs(tmp_path):
    project = Project(tmp_path / "p")
    project.write("main.zp.hcl", FANNED)
    project.apply()
    assert project.read("report-a.txt") == "hello a\n" and project.read("report-b.txt") == "hello b\n"
    project.replace("main.zp.hcl", '["a", "b"]', '["a", "b", "c"]')
    doc = project.plan_json()
    assert {s["address"]: s["action"] for s in doc["steps"]} == {
        'pipeline.p.step.report["a"]': "cached", 'pipeline.p.step.report["b"]': "cached", 'pipeline.p.step.report["c"]': "run"}
    project.apply()
    assert project.read("report-c.txt") == "hello c\n"
    result = project.run("plan", "-var", "greeting=bye")
    assert result.code == 0 and result.out.count("will rerun: command:") == 3, str(result)


def test_a_script_step_with_cache_false_runs_on_every_apply(project):
    # DVC's always_changed: a command reading what no dep names; what it gave unchanged, downstream is cached
    project.replace("main.zp.hcl", 'step "make" {', 'step "make" {\n    cache = false')
    project.apply()
    doc = project.plan_json()
    assert steps_by_action(doc)["run"] == {"make", "use", "other"}
    assert reasons(doc)["make"] == ["cache = false: runs on every apply"]
    second = project.apply()
    assert ran(second) == {"make"} and "step.use: cached: upstream output unchanged" in second.out, str(second)


def test_a_saved_plan_is_stale_once_a_params_file_it_read_changes(project):
    project.apply()
    project.write("params.yaml", "make:\n  n: 4\n  unused: 1\n")
    project.ok("plan", "-out", "plan.zplan")
    project.write("params.yaml", "make:\n  n: 5\n  unused: 1\n")
    result = project.run("apply", "plan.zplan")
    assert result.code == 1 and "saved plan is stale: params.yaml:make.n of pipeline.p.step.make changed since the plan was made (4 -> 5)" in result.err, str(result)


def test_params_changed_back_check_out_the_outs_and_records_of_the_cached_run(tmp_path):
    """Nothing reruns when a param goes back to an earlier value, but what the project holds and what
    state records (outs, latest executions) must be that earlier run's, not the last one's."""
    project = Project(tmp_path / "back")
    project.write("main.zp.hcl", 'pipeline "p" {\n  step "make" {\n    command = "python src/make.py"\n'
                                 '    deps    = ["src/make.py"]\n    params  = ["n"]\n    outs    = ["out.txt"]\n  }\n}\n')
    project.write("src/make.py", "import yaml\nopen('out.txt', 'w').write(str(yaml.safe_load(open('params.yaml'))['n']))\n")
    project.write("params.yaml", "n: 1\n")
    project.apply()
    project.write("params.yaml", "n: 2\n")
    project.apply()
    assert project.read("out.txt") == "2"
    project.write("params.yaml", "n: 1\n")
    doc = project.plan_json()
    assert steps_by_action(doc)["cached"] == {"make"} and doc["restored"] == ["pipeline.p.step.make"]
    planned = project.run("plan", "-detailed-exitcode")  # the plan says what apply will do: not "No changes"
    assert planned.code == 2 and "cached (run 1, " in planned.out and "to be recorded as its latest result" in planned.out, str(planned)
    project.apply()
    assert project.read("out.txt") == "1"
    assert project.run("plan", "-detailed-exitcode").code == 0
    (planned,) = doc["steps"]
    assert project.step_records()["make"]["cache_key"] == planned["cache_key"]
