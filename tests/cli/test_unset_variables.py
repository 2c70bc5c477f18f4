"""Commands that only read what was recorded need no value for a variable they do not use (a CI-only
secret), as Terraform's state commands; a value the stores or the plan do read is still asked for, and
plan/apply/destroy stay as strict as ever."""

from __future__ import annotations

import pytest

import zplan
from zplan.api import ZplanAPIError

from .helpers import Project, cli_env

CONFIG = """\
variable "token" {
  type      = string
  sensitive = true
}

variable "n" {
  type    = number
  default = 2
}

pipeline "p" {
  step "double" {
    source = "steps.py:double"
    params = { n = var.n }
  }
}

output "doubled" {
  value = step.double.outputs.output
}
"""

STEPS = "def double(n):\n    return n * 2\n"

READ_ONLY = [
    ("runs",), ("runs", "show", "1"), ("state", "list"), ("state", "show", "pipeline.p.step.double"), ("show",),
    ("output",), ("lineage", "doubled"), ("verify",), ("gc", "-dry-run"), ("artifact", "list"), ("graph",),
]


@pytest.fixture(scope="module")
def applied(tmp_path_factory) -> Project:
    project = Project(tmp_path_factory.mktemp("unset") / "proj")
    project.write("main.zp.hcl", CONFIG)
    project.write("steps.py", STEPS)
    project.ok("apply", "-auto-approve", env=cli_env(ZPLAN_VAR_token="ci-secret"))
    return project


@pytest.mark.parametrize("command", READ_ONLY, ids=" ".join)
def test_read_only_commands_need_no_unused_variable(applied, command):
    applied.ok(*command)


@pytest.mark.parametrize(("command", "error"), [
    (("state", "rm", "resource.local_directory.gone"), "resource.local_directory.gone is not in state"),
    (("force-unlock", "-force", "some-id"), "no lock with ID some-id"),
])
def test_state_rm_and_force_unlock_need_no_unused_variable(applied, command, error):
    # they asked for it, telling to give -var, which neither takes
    code, _, err = applied.run(*command)
    assert code == 1 and error in err and "token" not in err, err


def test_plan_apply_destroy_still_ask_for_it(applied):
    for command in (("plan",), ("apply", "-auto-approve"), ("destroy", "-auto-approve")):
        code, _, err = applied.run(*command)
        assert code == 1 and 'no value for variable "token"' in err and "main.zp.hcl:1" in err, err


def test_a_store_that_reads_an_unset_variable_names_it(applied, tmp_path):
    project = applied.clone(tmp_path / "team")
    project.write("team.zp.hcl", 'variable "meta" { type = string }\n\n'
                                 'stack "team" {\n  metadata_store = var.meta\n}\n')
    code, _, err = project.run("runs", "-stack", "team")
    assert code == 1 and "Traceback" not in err, err
    assert 'team.zp.hcl:1:1: no value for variable "meta"' in err and "metadata_store" in err and "ZPLAN_VAR_meta" in err
    assert "token" not in err  # the variable nothing here reads is not asked for
    project.ok("runs", "-stack", "team", env=cli_env(ZPLAN_VAR_meta="sqlite:///.zplan/metadata.db"))


def test_python_api_reads_without_it_and_takes_variables(applied):
    project = zplan.open(applied.root)
    assert [r.number for r in project.runs()] == [1]
    assert project.output("doubled") == 4
    assert {s["action"] for s in project.plan()["steps"]} == {"cached"}  # the plan reads n, never token
    assert {s["action"] for s in zplan.open(applied.root, variables={"n": 2}).plan()["steps"]} == {"cached"}
    rerun = zplan.open(applied.root, variables={"n": "3"}).plan()  # converted to the variable's type
    assert [r["message"] for r in rerun["steps"][0]["reasons"]] == ["params.n: 2 -> 3"]


def test_a_plan_that_reads_an_unset_variable_names_it(applied, tmp_path):
    project = applied.clone(tmp_path / "reads")
    project.replace("main.zp.hcl", "params = { n = var.n }", "params = { n = length(var.token) }")
    project.replace("main.zp.hcl", "value = step", "sensitive = true\n  value = step")
    with pytest.raises(ZplanAPIError, match='no value for variable "token".*the plan reads it'):
        zplan.open(project.root).plan()
    assert zplan.open(project.root, variables={"token": "abc"}).plan()["steps"][0]["action"] == "run"
    code, _, err = project.run("graph")
    assert code == 1 and 'no value for variable "token"' in err and "Traceback" not in err, err


def test_state_rm_and_force_unlock_need_no_unused_variable(tmp_path):
    """They edit only what was recorded, as Terraform's: a variable they never read is not asked for
    (and neither command takes -var, so the usual hint could not be followed)."""
    project = Project(tmp_path / "rm")
    project.write("main.zp.hcl", CONFIG.split("pipeline")[0] + 'resource "local_directory" "x" {\n  path = "out-x"\n}\n')
    project.ok("apply", "-auto-approve", env=cli_env(ZPLAN_VAR_token="ci-secret"))
    assert "Removed resource.local_directory.x from state" in project.ok("state", "rm", "local_directory.x").out
    assert project.ok("state", "list").out == ""
    code, _, err = project.run("force-unlock", "no-such-lock", "-force")
    assert code == 1 and "Error: no lock with ID no-such-lock" in err and "token" not in err, err
