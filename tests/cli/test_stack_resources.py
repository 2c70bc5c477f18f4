"""Resources belong to the stack that applied them: another stack's plan and destroy leave them alone
unless its own configuration declares them too, as a Terraform workspace never sees another's."""

from __future__ import annotations

import json

import jsonschema

from tests.cli.helpers import Project
from tests.cli.test_moved import SCHEMA

HCL = """
stack "local" {
  orchestrator = "local"
}

stack "other" {
  orchestrator = "local"
}

resource "local_directory" "only_other" {
  count = zplan.stack == "other" ? 1 : 0
  path  = "out/other"
}

resource "local_directory" "shared" {
  path = "out/shared"
}
"""
ONLY_OTHER = "resource.local_directory.only_other[0]"


def _project(tmp_path) -> Project:
    p = Project(tmp_path / "p")
    p.write("main.zp.hcl", HCL)
    p.apply("-stack", "other")
    return p


def test_another_stack_s_resource_is_neither_planned_for_deletion_nor_destroyed(tmp_path):
    p = _project(tmp_path)
    doc = p.plan_json("-stack", "local")
    jsonschema.validate(doc, SCHEMA)
    assert doc["other_stacks"] == [{"address": ONLY_OTHER, "stack": "other"}]
    assert [r["action"] for r in doc["resources"]] == ["no-op"]
    assert f'{ONLY_OTHER} left alone: stack "other" applied it' in p.ok("plan", "-stack", "local").out
    markdown = p.ok("plan", "-stack", "local", "-format", "markdown").out  # the pull request's view says so too
    assert f'| `{ONLY_OTHER}` | left alone: stack "other" applied it; `zplan state rm` forgets it |' in markdown, markdown
    p.ok("destroy", "-auto-approve", "-stack", "local")
    assert p.path("out/other").is_dir() and not p.path("out/shared").exists()
    assert ONLY_OTHER in p.ok("state", "list").out
    p.ok("destroy", "-auto-approve", "-stack", "other")
    assert not p.path("out/other").exists() and p.ok("state", "list").out.strip() == ""


def test_a_resource_recorded_before_stacks_were_kept_is_left_alone_in_a_project_of_several_stacks(tmp_path):
    p = _project(tmp_path)
    state = p.state()
    for record in state["resources"].values():
        record.pop("stack")
    state["serial"] += 1
    p.path(".zplan/state.json").write_text(json.dumps(state))
    doc = p.plan_json("-stack", "local")
    assert doc["other_stacks"] == [{"address": ONLY_OTHER, "stack": None}] and doc["summary"]["destroy"] == 0
    p.ok("destroy", "-auto-approve", "-stack", "local", "-target", ONLY_OTHER)  # named: destroyed
    assert not p.path("out/other").exists()
