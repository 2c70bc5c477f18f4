"""Plans you can trust in a pull request, through the real CLI: Markdown on stdout with CI exit codes,
concise text plans, -exclude beside -target, secrets that never leak, and saved plans that stay valid
while nothing changes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.helpers import Project, Result, cli_env

SECRET = "tok-9F3kQ2xZ-first"
ROTATED = "tok-7Hw1Lp0V-second"

HCL = """
variable "greeting" {
  default = "hello"
}

variable "factor" {
  type    = number
  default = 2
}

variable "api_token" {
  type      = string
  sensitive = true
}

stack "local" {
  orchestrator   = "local"
  artifact_store = "file://.zplan/artifacts"
  metadata_store = "sqlite:///.zplan/metadata.db"
}

resource "local_directory" "out" {
  path          = "out"
  force_destroy = true
}

resource "local_file" "greeting" {
  path    = "${resource.local_directory.out.path}/greeting.txt"
  content = "${var.greeting}, world"
  mode    = "0644"
}

resource "local_file" "credentials" {
  path              = "credentials.txt"
  sensitive_content = "token=${var.api_token}"
}

pipeline "numbers" {
  step "load" {
    source = "steps/nums.py:load"
    params = { n = 4 }
  }

  step "scale" {
    source = "steps/nums.py:scale"
    inputs = { values = step.load.outputs.output }
    params = { factor = var.factor, token = var.api_token }
  }

  step "total" {
    source = "steps/nums.py:total"
    inputs = { values = step.scale.outputs.output }
  }
}

output "total" {
  value = step.total.outputs.output
}
"""

STEPS = '''
import zplan


def load(n: int) -> list:
    return list(range(1, n + 1))


@zplan.step(sensitive_outputs=False)  # given the token, it returns nothing of it
def scale(values: list, factor: float, token: str) -> list:
    if not token.startswith("tok-"):  # the step must get the real secret, not a mask
        raise ValueError("the token did not reach the step")
    return [v * factor for v in values]


def total(values: list) -> float:
    return sum(values)
'''

GREETING = "resource.local_file.greeting"


class PRProject(Project):
    """The project above, with its secret in the environment as CI passes it (ZPLAN_VAR_api_token)."""

    secret = SECRET

    def run(self, *args: str, **kw) -> Result:
        kw.setdefault("env", cli_env(ZPLAN_VAR_api_token=self.secret))
        return super().run(*args, **kw)


def new_project(root: Path) -> PRProject:
    p = PRProject(root)
    p.write("main.zp.hcl", HCL)
    p.write("steps/nums.py", STEPS)
    return p


@pytest.fixture
def project(tmp_path: Path) -> PRProject:
    return new_project(tmp_path / "proj")


@pytest.fixture
def applied(project: PRProject) -> PRProject:
    """Applied once, for tests that change it (local resources record absolute paths: no clones)."""
    project.apply()
    return project


@pytest.fixture(scope="module")
def planned(tmp_path_factory) -> PRProject:
    """Applied once and shared by tests that only plan (planning changes no state)."""
    p = new_project(tmp_path_factory.mktemp("planned") / "proj")
    p.apply()
    return p


def changes(doc: dict) -> set[str]:
    return {r["address"] for r in doc["resources"] if r["action"] != "no-op"} | {s["address"] for s in doc["steps"] if s["action"] == "run"}


# -- the CI plan command ----------------------------------------------------------------------------------


def test_ci_plan_prints_only_markdown_and_exits_2_on_changes(project):
    result = project.run("plan", "-out", "plan.zplan", "-detailed-exitcode", "--format", "markdown")
    assert result.code == 2, str(result)
    assert result.out.startswith("### zplan plan — stack `local`")
    assert "Saved the plan" not in result.out and "Saved the plan to plan.zplan" in result.err
    assert "| 3 | 0 | 0 | 3 | 0 |" in result.out
    project.ok("apply", "plan.zplan")
    again = project.run("plan", "-out", "plan.zplan", "-detailed-exitcode", "--format", "markdown")
    assert again.code == 0, str(again)
    assert "| 0 | 0 | 0 | 0 | 3 |" in again.out and "<details><summary>3 cached step(s)</summary>" in again.out


def test_ci_plan_json_with_a_plan_file_is_pure_json(project):
    result = project.run("plan", "-out", "plan.zplan", "-detailed-exitcode", "--format", "json")
    assert result.code == 2
    assert json.loads(result.out)["summary"]["steps_run"] == 3


def test_ci_plan_error_exits_1_with_file_and_line(project):
    project.replace("main.zp.hcl", 'default = "hello"', 'default = "hello"\n  bogus = 1')
    result = project.run("plan", "-out", "plan.zplan", "-detailed-exitcode", "--format", "markdown")
    assert result.code == 1 and result.out == ""
    assert "main.zp.hcl:" in result.err and "Traceback" not in result.err
    assert not project.path("plan.zplan").exists()


# -- concise text plans ------------------------------------------------------------------------------------


def test_text_plan_shows_only_what_changes(planned):
    out = planned.ok("plan", "-var", "greeting=hi").out
    assert f"~ {GREETING}" in out
    assert '~ content = "hello, world" -> "hi, world"' in out
    assert "# (5 unchanged attributes hidden)" in out
    assert 'path = "out/greeting.txt"' not in out
    assert "resource.local_directory.out" not in out and "resource.local_file.credentials" not in out
    assert "Plan: 0 to add, 1 to change, 0 to destroy. Steps: 0 to run, 3 cached." in out


def test_verbose_text_plan_shows_everything(planned):
    out = planned.ok("plan", "-var", "greeting=hi", "-verbose").out
    assert '~ content = "hello, world" -> "hi, world"' in out
    assert 'path = "out/greeting.txt"' in out and 'mode = "0644"' in out
    assert "resource.local_directory.out" in out and "unchanged" in out
    assert "sensitive_content = <sensitive>" in out
    assert "hidden" not in out


def test_exclude_is_the_complement_of_target(planned):
    args = ["-var", "greeting=hi", "-var", "factor=3"]
    everything = changes(planned.plan_json(*args))
    assert everything == {GREETING, "pipeline.numbers.step.scale", "pipeline.numbers.step.total"}
    targeted = planned.plan_json(*args, "-target", GREETING)
    excluded = planned.plan_json(*args, "-exclude", GREETING)
    assert changes(targeted) == {GREETING}
    assert changes(excluded) == everything - {GREETING}
    assert GREETING not in {r["address"] for r in excluded["resources"]}
    assert excluded["options"]["excludes"] == [GREETING]


def test_excluding_a_step_leaves_out_what_needs_it(planned):
    doc = planned.plan_json("-var", "factor=3", "-exclude", "pipeline.numbers.step.scale")
    assert [s["step"] for s in doc["steps"]] == ["load"]
    assert changes(doc) == set()


def test_a_saved_plan_keeps_its_exclude(applied):
    args = ["-var", "greeting=hi", "-var", "factor=3"]
    applied.ok("plan", *args, "-exclude", GREETING, "-out", "partial.zplan")
    applied.ok("apply", "partial.zplan")
    assert applied.read("out/greeting.txt") == "hello, world"
    assert changes(applied.plan_json(*args)) == {GREETING}


def test_exclude_of_an_unknown_address_is_a_user_error(planned):
    result = planned.run("plan", "-exclude", "resource.local_file.nope")
    assert result.code == 1 and "-exclude resource.local_file.nope: no such step or resource" in result.err
    assert "Traceback" not in result.err


# -- secrets ------------------------------------------------------------------------------------------------


def assert_no_secret(*texts: str | bytes, secrets=(SECRET, ROTATED)) -> None:
    for text in texts:
        data = text.encode() if isinstance(text, str) else text
        for secret in secrets:
            assert secret.encode() not in data, f"secret leaked into: {data[:300]!r}"


def every_view(project: PRProject) -> list[str]:
    """The plan as text, Markdown and JSON, saved, and shown back from the plan file."""
    outs = [project.run("plan", *args) for args in ([], ["-verbose"], ["--format", "markdown"], ["--format", "json"], ["-out", "plan.zplan"])]
    outs += [project.ok("show", *args, "plan.zplan") for args in (["-json"], [], ["--format", "markdown"])]
    assert all(r.code == 0 for r in outs), "\n".join(map(str, outs))
    return [r.out + r.err for r in outs]


def test_a_sensitive_variable_never_leaks_before_apply(project):
    assert_no_secret(*every_view(project))
    planfile = project.path("plan.zplan").read_bytes()
    assert_no_secret(planfile)
    saved = json.loads(planfile)
    assert saved["sensitive_variables"] == ["api_token"] and "api_token" not in saved["variables"]
    plan = saved["plan"]
    credentials = next(r for r in plan["resources"] if r["address"] == "resource.local_file.credentials")
    assert credentials["after"]["sensitive_content"] == "(sensitive)"
    scale = next(s for s in plan["steps"] if s["step"] == "scale")
    assert scale["params"] == {"factor": 2, "token": "(sensitive)"}


def test_a_data_input_named_by_a_secret_is_never_shown_or_saved_in_clear(project):
    project.write(f"data/{SECRET}.txt", "1\n")
    project.write("steps/peek.py", "def peek(data) -> int:\n    return len(data.read_text())\n")
    project.write("peek.zp.hcl", """
pipeline "peek" {
  step "peek" {
    source = "steps/peek.py:peek"
    inputs = { data = "data/${var.api_token}.txt" }
  }
}
""")
    assert_no_secret(*every_view(project), project.path("plan.zplan").read_bytes())
    peek = next(s for s in json.loads(project.read("plan.zplan"))["plan"]["steps"] if s["step"] == "peek")
    assert "(sensitive)" in peek["inputs"]["data"]["path"]
    project.write(f"data/{SECRET}.txt", "22\n")  # the digest still guards the file
    result = project.run("apply", "plan.zplan")
    assert result.code == 1 and "input data pipeline.peek.step.peek.inputs.data (data/(sensitive).txt) changed" in result.err, str(result)
    assert_no_secret(result.out, result.err)


def test_the_secret_reaches_the_resource_and_step_but_not_state_or_metadata(project):
    project.ok("plan", "-out", "plan.zplan")
    result = project.ok("apply", "plan.zplan")
    assert_no_secret(result.out, result.err)
    assert project.read("credentials.txt") == f"token={SECRET}"  # the resource got the real value
    assert json.loads(project.ok("output", "-json").out)["total"]["value"] == 20  # and the step did too
    for path in project.path(".zplan").rglob("*"):
        if path.is_file():
            assert_no_secret(path.read_bytes())


def test_after_apply_a_sensitive_attribute_is_not_a_change(planned):
    result = planned.run("plan", "-detailed-exitcode")
    assert result.code == 0, str(result)
    assert "No changes." in result.out


def test_a_rotated_secret_shows_as_a_masked_change(applied):
    applied.secret = ROTATED
    views = every_view(applied)
    assert_no_secret(*views, applied.path("plan.zplan").read_bytes())
    text = views[0]
    assert "~ resource.local_file.credentials" in text
    assert "~ sensitive_content = <sensitive> -> <sensitive>" in text
    assert "will rerun: params.token: <sensitive> -> <sensitive>" in text
    applied.ok("apply", "plan.zplan")
    assert applied.read("credentials.txt") == f"token={ROTATED}"


def test_applying_a_saved_plan_needs_the_secret_again(project):
    project.ok("plan", "-out", "plan.zplan")
    result = project.run("apply", "plan.zplan", env=cli_env())
    assert result.code == 1 and 'sensitive variable "api_token"' in result.err
    assert "ZPLAN_VAR_api_token" in result.err and "stale" not in result.err
    assert "Traceback" not in result.err and not project.path("credentials.txt").exists()


# -- apply exactly what was reviewed ---------------------------------------------------------------------------


def test_an_apply_that_changes_nothing_keeps_other_saved_plans_valid(applied):
    serial = applied.state()["serial"]
    state_bytes = applied.path(".zplan/state.json").read_bytes()
    assert applied.run("plan", "-out", "nothing.zplan", "-detailed-exitcode").code == 0
    assert applied.run("plan", "-var", "greeting=hey", "-out", "greet.zplan", "-detailed-exitcode").code == 2

    assert "No changes. Nothing to apply." in applied.ok("apply", "nothing.zplan").out
    assert applied.path(".zplan/state.json").read_bytes() == state_bytes  # serial not bumped, nothing written

    applied.ok("apply", "greet.zplan")  # still valid: made against the same serial
    assert applied.read("out/greeting.txt") == "hey, world"
    assert applied.state()["serial"] == serial + 1

    stale = applied.run("apply", "nothing.zplan")
    assert stale.code == 1 and "saved plan is stale" in stale.err
    assert f"state serial {serial}, and state is now at serial {serial + 1}" in stale.err
