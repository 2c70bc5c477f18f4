"""zplan.stack (the selected stack's name, as terraform.workspace) in expressions: resources per stack,
and examples/gcp-training applied on the local stack without reaching Pulumi."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from tests.cli.helpers import TESTDATA, Project, cli_env, copy_project

PER_STACK = '''
stack "other" {
  orchestrator   = "local"
  artifact_store = "file://.zplan/other-artifacts"
  metadata_store = "sqlite:///.zplan/other.db"
}

resource "local_directory" "only_other" {
  count = zplan.stack == "other" ? 1 : 0
  path  = "out/${zplan.stack}"
}

output "stack" {
  value = "running on ${zplan.stack}"
}
'''


def test_zplan_stack_names_the_selected_stack_and_count_keeps_resources_per_stack(tmp_path):
    project = copy_project(TESTDATA / "pipeline", tmp_path / "p")
    project.write("stacks.zp.hcl", PER_STACK)
    local = project.plan_json()
    assert local["stack"] == "local" and local["resources"] == []
    assert local["outputs"]["stack"]["value"] == "running on local"
    other = project.plan_json("-stack", "other")
    assert [(r["address"], r["action"]) for r in other["resources"]] == [("resource.local_directory.only_other[0]", "create")]
    assert other["outputs"]["stack"]["value"] == "running on other"
    project.ok("stack", "select", "other")
    project.apply()
    assert project.path("out/other").is_dir()


def test_the_gcp_example_applies_on_the_local_stack_without_pulumi(tmp_path):
    project = copy_project(Path(__file__).resolve().parents[2] / "examples" / "gcp-training", tmp_path / "gcp")
    no_pulumi = cli_env(PATH=os.path.dirname(sys.executable))  # python, but no pulumi binary
    doc = json.loads(project.ok("plan", "-format", "json", env=no_pulumi).out)
    assert doc["resources"] == [] and {s["step"] for s in doc["steps"]} == {"generate", "train", "evaluate", "deploy"}
    result = project.ok("apply", "-auto-approve", env=no_pulumi)
    assert "Apply complete: 4 ok." in result.out
    assert "not deployed" in project.ok("output", "deployed_model", env=no_pulumi).out
    cloud = json.loads(project.ok("plan", "-format", "json", "-stack", "gcp", env=no_pulumi).out)
    assert "resource.gcp_storage_bucket.artifacts[0]" in {r["address"] for r in cloud["resources"]}


def test_a_null_stack_setting_keeps_its_default(tmp_path):
    # As in Terraform, null means "not set": the artifacts go to the default store, not a folder named "None".
    project = copy_project(TESTDATA / "pipeline", tmp_path / "p")
    project.replace("main.zp.hcl", 'artifact_store = "file://.zplan/artifacts"', "artifact_store = null")
    project.apply()
    assert not project.path("None").exists()
    assert any(project.path(".zplan/artifacts").iterdir())


def test_a_selected_stack_that_is_no_longer_declared_is_an_error_not_another_stack(tmp_path):
    project = copy_project(TESTDATA / "pipeline", tmp_path / "p")
    project.write("stacks.zp.hcl", PER_STACK)
    project.ok("stack", "select", "other")
    project.write("stacks.zp.hcl", PER_STACK.replace('stack "other"', 'stack "renamed"'))
    refused = project.run("plan")
    assert refused.code == 1 and 'the selected stack "other" is no longer declared' in refused.err, str(refused)
    assert "zplan stack select" in refused.err
    assert project.ok("stack", "list").out.split() == ["local", "renamed"]  # listing still works, nothing marked
    project.ok("plan", "-stack", "renamed")


def test_an_empty_stack_name_is_refused_not_taken_for_the_default(tmp_path):
    # `-stack ""` planned on the selected stack, and `stack select ""` said: Switched to stack "".
    project = copy_project(TESTDATA / "pipeline", tmp_path / "p")
    project.write("stacks.zp.hcl", PER_STACK)
    project.ok("stack", "select", "other")
    for command in (["stack", "select", ""], ["plan", "-stack", ""], ["output", "-stack", ""]):
        refused = project.run(*command)
        assert refused.code == 1 and 'no stack named ""' in refused.err and "Traceback" not in refused.err, str(refused)
    assert project.read(".zplan/stack") == "other\n"
