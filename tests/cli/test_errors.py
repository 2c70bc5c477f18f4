"""User mistakes: each exits 1 with a message naming where (file:line), never a traceback."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import pytest

from tests.cli.helpers import Project, cli_env, copy_project, TESTDATA

HCL = "main.zp.hcl"

# id -> (edits as (file, old, new), command, where, what)
CASES = {
    "hcl syntax error": (
        [(HCL, 'pipeline "numbers" {', 'pipeline "numbers" {{')],
        ["plan"], "main.zp.hcl:14", "expected an attribute name",
    ),
    "unknown block type": (
        [(HCL, 'stack "local" {', 'stak "local" {')],
        ["plan"], "main.zp.hcl:8", 'unknown block type "stak"',
    ),
    "step outside a pipeline block": (
        [(HCL, "output \"total\" {", 'step "extra" {\n  source = "steps/stats.py:count"\n}\n\noutput "total" {')],
        ["validate"], "main.zp.hcl:37", 'unknown block type "step"\n  a step is declared inside a pipeline block: pipeline "NAME" { step "extra" { ... } }',
    ),
    "unknown attribute in a step": (
        [(HCL, 'source = "steps/data.py:scale"', 'source = "steps/data.py:scale"\n    retries = 3')],
        ["plan"], "main.zp.hcl:22", 'unsupported attribute "retries" in step "scale"',
    ),
    "dangling step reference": (
        [(HCL, "step.scale.outputs.output", "step.nope.outputs.x")],
        ["plan"], "main.zp.hcl:28", 'reference to undeclared step "nope"',
    ),
    "undeclared variable": (
        [(HCL, "c = var.c", "c = var.x")],
        ["plan"], "main.zp.hcl:23", 'undeclared variable "x"\n  declare it: variable "x" { default = ... }',
    ),
    "misspelt variable": (
        [(HCL, "c = var.c", "c = var.cc")],
        ["plan"], "main.zp.hcl:23", 'undeclared variable "cc"\n  did you mean "c"? or declare it: variable "cc"',
    ),
    "cycle between two steps": (
        [(HCL, "inputs = { values = step.load.outputs.output }\n    params", "inputs = { values = step.total.outputs.output }\n    params")],
        ["plan"], "main.zp.hcl:", "dependency cycle: pipeline.numbers.step.scale -> pipeline.numbers.step.total -> pipeline.numbers.step.scale",
    ),
    "source file missing": (
        [(HCL, "steps/stats.py:count", "steps/missing.py:count")],
        ["plan"], "main.zp.hcl:32", "step source file steps/missing.py does not exist",
    ),
    "function missing in the file": (
        [(HCL, "steps/stats.py:count", "steps/stats.py:average")],
        ["plan"], "main.zp.hcl:32", "steps/stats.py has no function 'average'",
    ),
    "python syntax error in a step file": (
        [("steps/stats.py", "def count(values: list) -> int:", "def count(values: list) -> int")],
        ["plan"], "main.zp.hcl:32", "syntax error in steps/stats.py:8",
    ),
    "missing required variable": (
        [(HCL, "  default = 1.0\n", "")],
        ["plan"], "main.zp.hcl:3", 'no value for variable "c"',
    ),
    "input given a step's outputs as a whole": (
        [(HCL, "inputs = { values = step.scale.outputs.output }", "inputs = { values = step.scale.outputs }")],
        ["validate"], "main.zp.hcl:28", 'step "total": input "values" is every output of step.scale: name one, step.scale.outputs.NAME',
    ),
    "input given a step's outs as a whole": (
        [(HCL, "inputs = { values = step.scale.outputs.output }", "inputs = { values = step.scale.outs }")],
        ["plan"], "main.zp.hcl:28", 'step "total": input "values" is every output of step.scale: name one, step.scale.outs["PATH"]',
    ),
    "output given a step's outputs as a whole": (
        [(HCL, "value = step.total.outputs.output", "value = { total = step.total.outputs }")],
        ["plan"], "main.zp.hcl:37", 'output "total" holds every output of step.total, which are listed nowhere',
    ),
    "output writing a step output into a string": (
        [(HCL, "value = step.total.outputs.output", 'value = "total: ${step.total.outputs.output}"')],
        ["plan"], "main.zp.hcl:37", 'output "total": a string template cannot use step.total.outputs.output',
    ),
    "input path built from a step output": (
        [(HCL, "inputs = { values = step.scale.outputs.output }", 'inputs = { values = "data/${step.scale.outputs.output}.txt" }')],
        ["plan"], "main.zp.hcl:28", "got 'data/step.scale.outputs.output.txt'; use step.NAME.outputs.OUTPUT",
    ),
    "input path that does not exist": (
        [(HCL, '"data/numbers.txt"', '"data/absent.txt"')],
        ["plan"], "main.zp.hcl:17", 'input "raw" names data/absent.txt, which does not exist',
    ),
    "input that holds the state folder": (
        [(HCL, '"data/numbers.txt"', '"."')],
        ["plan"], "main.zp.hcl:17", 'input "raw" names ., a folder holding zplan\'s own state folder .zplan',
    ),
    "misspelt step param": (
        [(HCL, "params = { c = var.c }", "params = { cc = var.c }")],
        ["plan"], "main.zp.hcl:23", 'step "scale": scale (steps/data.py:13) has no parameter "cc"',
    ),
    "misspelt step param, did you mean": (
        [(HCL, "params = { c = var.c }", "params = { c = var.c, valuez = 1 }")],
        ["validate"], "main.zp.hcl:23", 'did you mean "values"? it takes: values, c',
    ),
    "step argument that nothing gives": (
        [(HCL, "params = { c = var.c }", "")],
        ["plan"], "main.zp.hcl:20", 'step "scale": scale (steps/data.py:13) needs "c", which neither params nor inputs give',
    ),
    "unknown resource attribute at plan time": (
        [(HCL, "output \"total\" {", 'resource "local_directory" "d" {\n  path  = "out"\n  pathh = "x"\n}\n\noutput "total" {')],
        ["plan"], "main.zp.hcl:39:3", 'unsupported attribute "pathh" in resource "local_directory" "d"',
    ),
    "step output written into a resource attribute's string": (
        [(HCL, "output \"total\" {", 'resource "local_directory" "d" {\n  path = "out-${step.total.outputs.output}"\n}\n\noutput "total" {')],
        ["plan"], "main.zp.hcl:38:3", 'resource.local_directory.d: path writes a step output into a string',
    ),
    "count that is no whole number": (
        [(HCL, "output \"total\" {", 'resource "local_directory" "d" {\n  path  = "out"\n  count = 1.5\n}\n\noutput "total" {')],
        ["plan"], "main.zp.hcl:39:3", "count must be a whole number of 0 or more",
    ),
    "count far too large (a typo)": (
        [(HCL, "output \"total\" {", 'resource "local_directory" "d" {\n  path  = "out"\n  count = 1e9\n}\n\noutput "total" {')],
        ["plan"], "main.zp.hcl:39:3", "count = 1000000000 is more instances than one block may have (at most 100,000)",
    ),
    "stack component that is no string": (
        [(HCL, 'orchestrator   = "local"', 'orchestrator   = ["local"]')],
        ["plan"], "main.zp.hcl:9", 'stack "local": orchestrator: a string is required, got list',
    ),
    "stack options that are no map": (
        [(HCL, 'orchestrator   = "local"', 'orchestrator   = "local"\n  orchestrator_options = "x"')],
        ["plan"], "main.zp.hcl:10", 'stack "local": orchestrator_options: a map is required, got string',
    ),
    "malformed SQLite metadata store URL": (
        [(HCL, '"sqlite:///.zplan/metadata.db"', '"sqlite://metadata.db"')],
        ["plan"], "main.zp.hcl:11", "bad SQLite URL 'sqlite://metadata.db': expected three slashes then a path",
    ),
    "malformed MySQL metadata store URL": (
        [(HCL, '"sqlite:///.zplan/metadata.db"', '"mysql://zplan@db:port/zplan"')],
        ["plan"], "main.zp.hcl:11", "bad MySQL URL 'mysql://zplan@db:port/zplan'",
    ),
    "resource value its provider refuses": (
        [(HCL, "output \"total\" {", 'resource "local_file" "f" {\n  path = "report.txt"\n}\n\noutput "total" {')],
        ["plan"], "main.zp.hcl:37", "local_file: set exactly one of content and sensitive_content",
    ),
    "empty path of a folder (the project itself)": (
        [(HCL, "output \"total\" {", 'resource "local_directory" "d" {\n  path          = ""\n  force_destroy = true\n}\n\noutput "total" {')],
        ["validate"], "main.zp.hcl:38", "local_directory: path must be a non-empty string",  # (at the attribute)
    ),
    "provider block no installed provider takes": (
        [(HCL, "output \"total\" {", 'provider "locl" {\n}\n\noutput "total" {')],
        ["plan"], "main.zp.hcl:37", 'provider "locl": no installed provider has this name',
    ),
    "provider block reading a resource its provider configures": (
        [(HCL, "output \"total\" {", 'provider "gcp" {\n  project = resource.local_file.f.path\n}\n\n'
               'resource "gcp_storage_bucket" "b" {\n  name     = "b"\n  location = "EU"\n}\n\n'
               'resource "local_file" "f" {\n  path    = "${resource.gcp_storage_bucket.b.name}.txt"\n  content = "x"\n}\n\noutput "total" {')],
        ["plan"], "main.zp.hcl:37",
        'dependency cycle: resource.gcp_storage_bucket.b -> resource.local_file.f -> provider "gcp" (main.zp.hcl:37:1) -> resource.gcp_storage_bucket.b',
    ),
    "provider block setting its provider does not take": (
        [(HCL, "output \"total\" {", 'provider "gcp" {\n  project = "p"\n  regoin  = "europe-west1"\n}\n\noutput "total" {')],
        ["validate"], "main.zp.hcl:39:3", 'unsupported setting "regoin" in provider "gcp"',
    ),
    "provider block of a provider that takes no settings": (
        [(HCL, "output \"total\" {", 'provider "local" {\n  root = "out"\n}\n\noutput "total" {')],
        ["plan"], "main.zp.hcl:38:3", 'unsupported setting "root" in provider "local"',
    ),
    "store options that apply would ignore": (
        [(HCL, 'orchestrator   = "local"', 'orchestrator   = "local"\n  artifact_store_options = { endpoint_url = "http://minio:9000" }')],
        ["plan"], "main.zp.hcl:10", 'stack "local": artifact_store_options is not supported yet',
    ),
    "step module whose import fails": (
        [("steps/stats.py", '"""Summaries of a list of numbers."""', '"""Summaries."""\nimport no_such_module_here')],
        ["validate", "-imports"], "main.zp.hcl:27", "steps/stats.py does not import: ModuleNotFoundError: No module named 'no_such_module_here'",
    ),
}


def assert_user_error(result, *texts: str) -> None:
    assert result.code == 1, str(result)
    assert "Traceback" not in result.err and "internal error" not in result.err, str(result)
    assert result.err.startswith("Error: "), str(result)
    for text in texts:
        assert text in result.err, str(result)


@pytest.mark.parametrize("case", list(CASES))
def test_mistake_is_reported_with_its_place(project: Project, case: str):
    edits, command, where, what = CASES[case]
    for file, old, new in edits:
        project.replace(file, old, new)
    result = project.run(*command)
    assert_user_error(result, f"Error: {where}", what)
    assert not project.path(".zplan/state.json").exists()


def test_validate_without_imports_does_not_run_the_module(project: Project):
    project.replace("steps/stats.py", '"""Summaries of a list of numbers."""', '"""Summaries."""\nimport no_such_module_here')
    result = project.ok("validate")
    assert "The configuration is valid" in result.out


def test_var_for_an_undeclared_variable(project: Project):
    assert_user_error(project.run("plan", "-var", "nope=1"), 'value for undeclared variable "nope" (from -var nope)\n  declare it')


def test_var_for_a_misspelt_variable_names_the_one_meant(project: Project):
    assert_user_error(project.run("plan", "-var", "C=2"), 'value for undeclared variable "C" (from -var C)\n  did you mean "c"? or declare it')


def test_unknown_target(project: Project):
    assert_user_error(project.run("plan", "-target", "pipeline.numbers.step.nope"), "-target pipeline.numbers.step.nope: no such step or resource")


def test_missing_plan_file(project: Project):
    assert_user_error(project.run("apply", "missing.zplan"), "plan file missing.zplan does not exist")


@pytest.mark.parametrize("flag, value, says", [
    ("-parallelism", "-2", "invalid -parallelism -2"),
    ("-lock-timeout", "-5s", "invalid -lock-timeout '-5s'"),
    ("-lock-timeout", "inf", "invalid -lock-timeout 'inf'"),
])
def test_a_negative_or_endless_apply_setting_is_refused(project: Project, flag: str, value: str, says: str):
    assert_user_error(project.run("apply", "-auto-approve", flag, value), says)
    assert not project.path(".zplan/metadata.db").exists()  # refused before anything ran


def test_plan_out_never_replaces_a_configuration_file_nor_a_folder(project: Project):
    before = project.read(HCL)
    assert_user_error(project.run("plan", "-out", HCL), f"-out {HCL} is a file the configuration is read from")
    assert project.read(HCL) == before
    assert_user_error(project.run("plan", "-out", "data"), "-out data is a folder")
    assert_user_error(project.run("plan", "-out", "main.zp.hcl/p.zplan"), "cannot write the plan file main.zp.hcl/p.zplan")


def test_plan_out_into_the_state_folder_is_refused(project: Project):
    # `-out .zplan/state.json` replaced the state with the plan (no backup yet): every later command refused it as damaged
    project.ok("apply", "-auto-approve")
    state = project.read(".zplan/state.json")
    for out in (".zplan/state.json", ".zplan/p.zplan", ".zplan/../.zplan/state.key"):
        assert_user_error(project.run("plan", "-out", out), f"-out {out} is inside the state folder .zplan")
    assert project.read(".zplan/state.json") == state and not project.path(".zplan/p.zplan").exists()
    assert project.run("plan", "-detailed-exitcode").code == 0


def test_plan_out_into_a_step_s_data_input_is_refused(project: Project):
    # the plan replaced the data file, or changed the data folder it was written into: its own apply then
    # refused it as stale ("input data ... changed since the plan was made"), though nothing was edited
    data = project.read("data/numbers.txt")
    says = "is the data input raw of pipeline.numbers.step.load, or inside it: the plan would change it"
    assert_user_error(project.run("plan", "-out", "data/numbers.txt"), f"-out data/numbers.txt {says}")
    assert project.read("data/numbers.txt") == data
    project.replace("main.zp.hcl", 'raw = "data/numbers.txt"', 'raw = "data"')
    project.replace("steps/data.py", "raw.read_text()", '(raw / "numbers.txt").read_text()')
    assert_user_error(project.run("plan", "-out", "data/p.zplan"), f"-out data/p.zplan {says}")
    assert not project.path("data/p.zplan").exists()
    project.ok("plan", "-out", "p.zplan")
    project.ok("apply", "p.zplan")


def test_plan_out_naming_a_script_step_s_out_is_refused(tmp_path):
    # the plan replaced the out checked out in the project folder, and its own apply refused it as stale
    # ("report.txt changed in the project folder since the plan was made")
    project = Project(tmp_path / "scripts")
    project.write("make.py", "import os\nos.makedirs('out')\nopen('out/model.txt', 'w').write('m')\nopen('report.txt', 'w').write('r')\n")
    project.write("main.zp.hcl", 'pipeline "p" {\n  step "make" {\n    command = ["python", "make.py"]\n'
                  '    outs    = ["out", "report.txt"]\n  }\n}\n')
    project.ok("apply", "-auto-approve")
    for out, named in (("out/model.txt", "out"), ("report.txt", "report.txt")):
        assert_user_error(project.run("plan", "-out", out), f"-out {out} is the out {named} of pipeline.p.step.make, or inside it")
    assert project.read("out/model.txt") == "m" and project.read("report.txt") == "r"


def test_plan_out_naming_a_device_or_a_pipe_is_refused_and_left_as_it_is(project: Project):
    # the plan replaced it with a regular file (as root, `-out /dev/null` replaced the device itself), then
    # said "apply exactly this plan with: zplan apply /dev/null"
    os.mkfifo(project.path("pipe.zplan"))
    project.path("null.zplan").symlink_to(os.devnull)
    for name in ("pipe.zplan", "null.zplan"):
        assert_user_error(project.run("plan", "-out", name), f"-out {name} is not a regular file")
    assert stat.S_ISFIFO(os.stat(project.path("pipe.zplan")).st_mode)
    assert project.path("null.zplan").is_symlink() and stat.S_ISCHR(os.stat(os.devnull).st_mode)


def test_plan_out_into_a_missing_folder_is_refused(project: Project):
    # the folder was made without a word: Terraform refuses to write the plan file there
    for out in ("nodir/p.zplan", "nodir/deeper/p.zplan"):
        assert_user_error(project.run("plan", "-out", out), f"cannot write the plan file {out}: folder nodir", "does not exist")
        assert not project.path("nodir").exists()
    project.path("made").mkdir()
    assert project.run("plan", "-out", "made/p.zplan").code == 0 and project.path("made/p.zplan").is_file()


def test_folder_without_configuration(tmp_path):
    result = Project(tmp_path).run("plan")
    assert_user_error(result, "no *.zp.hcl files", "zplan init")


def test_all_mistakes_in_one_file_are_reported_together(tmp_path):
    project = copy_project(TESTDATA / "pipeline", tmp_path / "p")
    project.replace(HCL, 'stack "local" {', 'stak "local" {')
    project.replace(HCL, 'source = "steps/data.py:scale"', 'source = "steps/data.py:scale"\n    retries = 3')
    result = project.run("validate")
    assert_user_error(result, 'main.zp.hcl:8:1: unknown block type "stak"', 'main.zp.hcl:22:5: unsupported attribute "retries"')


def test_a_reader_that_goes_away_is_not_an_internal_error(project: Project):
    # `zplan ... | head` closes the pipe early: the command stops quietly, as git and ls do
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        proc = subprocess.run([sys.executable, "-m", "zplan.cli", "plan"], cwd=project.root, env=cli_env(),
                              stdin=subprocess.DEVNULL, stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=180)
    finally:
        os.close(write_end)
    assert proc.returncode == 1 and proc.stderr == ""


def test_a_duplicate_names_the_first_declaration_by_its_project_path(project: Project):
    project.write("more.zp.hcl", 'variable "c" {\n  default = 2\n}\n')
    assert_user_error(project.run("validate"), 'more.zp.hcl:1:1: duplicate variable "c"', "it was already declared at main.zp.hcl:3:1")
