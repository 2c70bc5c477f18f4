"""moved blocks through the real CLI: renaming a step, wrapping resources into a module and turning
count into for_each keep state and caches: nothing is recreated or rerun, and the plan says what moved."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest

from tests.cli.helpers import TESTDATA, Project, copy_project

SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "zplan/plan/plan.schema.json").read_text())


def ran(result) -> set[str]:
    return set(re.findall(r"^(\S+): running$", result.out, re.M))


@pytest.fixture
def sweep(tmp_path) -> Project:
    return copy_project(TESTDATA / "sweep", tmp_path / "sweep")


def test_renaming_a_step_reruns_nothing_and_the_plan_says_it_moved(sweep):
    sweep.apply()
    text = sweep.read("main.zp.hcl").replace('step "train" {', 'step "fit" {').replace("step.train[*]", "step.fit[*]")
    sweep.write("main.zp.hcl", text + '\nmoved {\n  from = pipeline.sweep.step.train\n  to   = pipeline.sweep.step.fit\n}\n')
    plan = sweep.run("plan", "-detailed-exitcode")
    assert plan.code == 2, str(plan)  # the move itself is a change to apply
    assert 'pipeline.sweep.step.train["c=0.5"] has moved to pipeline.sweep.step.fit["c=0.5"]' in plan.out
    assert "Steps: 0 to run, 5 cached." in plan.out
    doc = sweep.plan_json()
    jsonschema.validate(doc, SCHEMA)
    assert {"from": "pipeline.sweep.step.train[\"c=0.1\"]", "to": "pipeline.sweep.step.fit[\"c=0.1\"]"} in doc["moved"]
    assert ran(sweep.apply()) == set()
    assert 'pipeline.sweep.step.fit["c=0.9"]' in sweep.ok("state", "list").out
    after = sweep.run("plan", "-detailed-exitcode")
    assert after.code == 0 and "has moved" not in after.out, str(after)
    # the moved record keeps the step's history: a param change names what changed
    doc = sweep.plan_json("-var", 'grid={"c=0.5" = 0.6}')
    fit = next(s for s in doc["steps"] if s["address"] == 'pipeline.sweep.step.fit["c=0.5"]')
    assert [r["message"] for r in fit["reasons"]] == ["params.c: 0.5 -> 0.6"]


MODULE = 'resource "local_directory" "results" {\n  path = "out/results"\n}\n'


def test_wrapping_a_resource_into_a_module_does_not_recreate_it(sweep):
    sweep.write("dir.zp.hcl", MODULE)
    sweep.apply()
    sweep.write("modules/dir/main.zp.hcl", MODULE)
    sweep.write("dir.zp.hcl", 'module "storage" {\n  source = "./modules/dir"\n}\n\n'
                              "moved {\n  from = resource.local_directory.results\n  to   = module.storage.resource.local_directory.results\n}\n")
    doc = sweep.plan_json()
    assert doc["moved"] == [{"from": "resource.local_directory.results", "to": "module.storage.resource.local_directory.results"}]
    assert [(r["address"], r["action"]) for r in doc["resources"]] == [("module.storage.resource.local_directory.results", "no-op")]
    assert "Apply complete: 5 cached, 1 moved." in sweep.apply().out  # the move is counted too
    assert sweep.ok("state", "list").out.count("local_directory.results") == 1
    assert sweep.ok("plan", "-detailed-exitcode").code == 0


def test_count_to_for_each_moves_each_instance(sweep):
    sweep.write("shards.zp.hcl", 'resource "local_directory" "shard" {\n  count = 2\n  path  = "out/shard-${count.index}"\n}\n')
    sweep.apply()
    sweep.write("shards.zp.hcl", 'resource "local_directory" "shard" {\n  for_each = { a = 0, b = 1 }\n  path = "out/shard-${each.value}"\n}\n\n'
                                 'moved {\n  from = resource.local_directory.shard[0]\n  to   = resource.local_directory.shard["a"]\n}\n\n'
                                 'moved {\n  from = resource.local_directory.shard[1]\n  to   = resource.local_directory.shard["b"]\n}\n')
    plan = sweep.ok("plan")
    assert 'resource.local_directory.shard[0] has moved to resource.local_directory.shard["a"]' in plan.out
    doc = sweep.plan_json()
    assert {r["address"]: r["action"] for r in doc["resources"]} == {
        'resource.local_directory.shard["a"]': "no-op", 'resource.local_directory.shard["b"]': "no-op"}


def test_a_moved_block_needs_addresses(sweep):
    sweep.write("m.zp.hcl", '\nmoved {\n  from = pipeline.sweep.step.train\n  to   = "not an address!"\n}\n')
    result = sweep.run("plan")
    assert result.code == 1 and "m.zp.hcl:4:3" in result.err and "moved: to is not an address" in result.err, str(result)


def test_a_move_from_what_is_still_declared_is_an_error_at_the_moved_block(sweep):
    # as in Terraform: the state would move away from a block still declared, which would then be
    # created again while the moved object is destroyed as no longer in the configuration
    sweep.write("dirs.zp.hcl", 'resource "local_directory" "d" {\n  for_each = toset(["a", "b"])\n  path     = "out/${each.key}"\n}\n')
    sweep.apply()
    sweep.write("moved.zp.hcl", 'moved {\n  from = resource.local_directory.d["a"]\n  to   = resource.local_directory.d["c"]\n}\n')
    result = sweep.run("plan")
    assert result.code == 1 and "Traceback" not in result.err, str(result)
    assert 'moved.zp.hcl:1:1: moved: resource.local_directory.d["a"] is still declared' in result.err, str(result)
    assert 'resource.local_directory.d["c"]' in result.err and sweep.path("out/a").is_dir()


def test_a_key_added_to_a_single_block_may_move_its_only_instance(sweep):
    sweep.write("dirs.zp.hcl", 'resource "local_directory" "d" {\n  path = "out/d"\n}\n')
    sweep.apply()
    sweep.write("dirs.zp.hcl", 'resource "local_directory" "d" {\n  for_each = toset(["a"])\n  path     = "out/d"\n}\n\n'
                               'moved {\n  from = resource.local_directory.d\n  to   = resource.local_directory.d["a"]\n}\n')
    doc = sweep.plan_json()
    assert doc["moved"] == [{"from": "resource.local_directory.d", "to": 'resource.local_directory.d["a"]'}]


FOLDER_AND_FILE = ('resource "local_directory" "{0}" {{\n  path = "out"\n}}\n\n'
                   'resource "local_file" "f" {{\n  path    = "${{resource.local_directory.{0}.path}}/x.txt"\n  content = "x"\n}}\n')


def test_a_moved_resource_is_still_destroyed_after_what_depends_on_it(tmp_path):
    # the file's record named the folder's old address: destroy took the folder first, which holds the file
    project = Project(tmp_path)
    project.write("main.zp.hcl", FOLDER_AND_FILE.format("a"))
    project.apply()
    project.write("main.zp.hcl", FOLDER_AND_FILE.format("b") + "\nmoved {\n  from = resource.local_directory.a\n  to   = resource.local_directory.b\n}\n")
    project.apply()
    planned = project.ok("plan", "-destroy", "-target", "resource.local_directory.b")
    assert "resource.local_file.f" in planned.out  # what stands on the folder goes with it
    destroyed = project.ok("destroy", "-auto-approve")
    assert destroyed.out.index("resource.local_file.f: delete done") < destroyed.out.index("resource.local_directory.b: delete started")
    assert not (tmp_path / "out").exists()


READER = ('resource "local_directory" "{0}" {{\n  path = "out"\n}}\n\n'
          'pipeline "p" {{\n  step "list" {{\n    source = "steps.py:list_dir"\n'
          '    params = {{ where = resource.local_directory.{0}.path, n = {1} }}\n  }}\n}}\n')


def test_renaming_a_resource_keeps_the_steps_reading_it_cached(tmp_path):
    # a step's cache key names the resources it reads by address: the renamed one reran it,
    # "resource.local_directory.b changed since the step last ran", though nothing had changed
    project = Project(tmp_path)
    project.write("steps.py", "def list_dir(where: str, n: int) -> list:\n    return [where] * n\n")
    project.write("main.zp.hcl", READER.format("a", 1))
    project.apply()
    project.write("main.zp.hcl", READER.format("b", 1) + "\nmoved {\n  from = resource.local_directory.a\n  to   = resource.local_directory.b\n}\n")
    plan = project.run("plan", "-detailed-exitcode")
    assert plan.code == 2 and "resource.local_directory.a has moved to resource.local_directory.b" in plan.out, str(plan)
    assert "Steps: 0 to run, 1 cached." in plan.out, str(plan)
    assert ran(project.apply()) == set()
    assert project.run("plan", "-detailed-exitcode").code == 0
    # moved again with a param changed: the param is the one reason
    project.write("main.zp.hcl", READER.format("c", 2) + "\nmoved {\n  from = resource.local_directory.b\n  to   = resource.local_directory.c\n}\n")
    step = next(s for s in project.plan_json()["steps"] if s["address"] == "pipeline.p.step.list")
    assert [r["message"] for r in step["reasons"]] == ["params.n: 1 -> 2"]


def test_target_exclude_and_replace_follow_a_moved_block_and_say_so(sweep):
    """As in Terraform, an address a moved block left names where it moved: a renamed step or
    resource is targeted, excluded or replaced under its old address too, and the plan says which
    address it acted on (before, "no such step or resource")."""
    sweep.write("dir.zp.hcl", MODULE)
    sweep.apply()
    renamed = sweep.read("main.zp.hcl").replace('step "train" {', 'step "fit" {').replace("step.train[*]", "step.fit[*]")
    sweep.write("main.zp.hcl", renamed + '\nmoved {\n  from = pipeline.sweep.step.train\n  to   = pipeline.sweep.step.fit\n}\n')
    sweep.write("dir.zp.hcl", MODULE.replace('"results"', '"reports"', 1)
                + "\nmoved {\n  from = resource.local_directory.results\n  to   = resource.local_directory.reports\n}\n")
    doc = sweep.plan_json("-replace", 'pipeline.sweep.step.train["c=0.5"]', "-exclude", "local_directory.results")
    assert [s["address"] for s in doc["steps"] if s["action"] == "run"] == ['pipeline.sweep.step.fit["c=0.5"]', "pipeline.sweep.step.select_best"]
    assert "resource.local_directory.reports" not in [r["address"] for r in doc["resources"]]
    assert doc["options"]["followed_moves"] == [
        {"flag": "-exclude", "from": "local_directory.results", "to": "resource.local_directory.reports"},
        {"flag": "-replace", "from": 'pipeline.sweep.step.train["c=0.5"]', "to": 'pipeline.sweep.step.fit["c=0.5"]'}]
    plan = sweep.ok("plan", "-target", "pipeline.sweep.step.train")
    assert "-target pipeline.sweep.step.train: has moved to pipeline.sweep.step.fit (a moved block)" in plan.out
    assert "Steps: 0 to run, 4 cached." in plan.out  # the step's instances and what they read
    markdown = sweep.ok("plan", "-target", "resource.local_directory.results", "-format", "markdown").out
    assert "> -target resource.local_directory.results: has moved to resource.local_directory.reports" in markdown


def test_switching_a_param_back_after_a_move_finds_the_older_result_of_a_step_reading_the_moved_resource(tmp_path):
    # only the latest result was kept under the key the new address gives: n = 1, run before n = 2,
    # ran again once the resource was renamed, though its result was recorded
    project = Project(tmp_path)
    project.write("steps.py", "def list_dir(where: str, n: int) -> list:\n    return [where] * n\n")
    project.write("main.zp.hcl", READER.format("a", 1))
    project.apply()
    project.write("main.zp.hcl", READER.format("a", 2))
    project.apply()
    project.write("main.zp.hcl", READER.format("b", 2) + "\nmoved {\n  from = resource.local_directory.a\n  to   = resource.local_directory.b\n}\n")
    assert ran(project.apply()) == set()
    project.write("main.zp.hcl", READER.format("b", 1) + "\nmoved {\n  from = resource.local_directory.a\n  to   = resource.local_directory.b\n}\n")
    plan = project.run("plan", "-detailed-exitcode")
    assert "pipeline.p.step.list         cached (run 1, " in plan.out, str(plan)
    assert ran(project.apply()) == set()


def test_a_move_onto_an_address_state_holds_already_is_a_warning_naming_both(tmp_path):
    # both a and b were applied, then a's block removed with a moved block to b: nothing could move,
    # and the plan destroyed a without a word about the moved block, as if it had been followed
    project = Project(tmp_path)
    project.write("main.zp.hcl", 'resource "local_directory" "a" {\n  path = "da"\n}\n\nresource "local_directory" "b" {\n  path = "db"\n}\n')
    project.apply()
    project.write("main.zp.hcl", 'resource "local_directory" "b" {\n  path = "db"\n}\n\n'
                                 'moved {\n  from = resource.local_directory.a\n  to   = resource.local_directory.b\n}\n')
    plan = project.ok("plan")
    assert ("Warning: moved block: cannot move resource.local_directory.a to resource.local_directory.b, which state holds already: "
            "resource.local_directory.a stays where it is") in plan.out, str(plan)
    assert "zplan state rm resource.local_directory.b" in plan.out and "resource.local_directory.a   will be destroyed" in plan.out
    doc = project.plan_json()
    jsonschema.validate(doc, SCHEMA)
    assert doc["options"]["blocked_moves"] == [{"from": "resource.local_directory.a", "to": "resource.local_directory.b"}]
    assert "moved" not in doc or doc["moved"] == []


REGION = ('resource "local_directory" "{0}" {{\n  path = "out/${{var.name}}"\n}}\n\n'
          'pipeline "p" {{\n  step "{1}" {{\n    source = "steps.py:double"\n    params = {{ n = length(var.name) }}\n  }}\n}}\n\n'
          'variable "name" {{\n  type = string\n}}\n')


def test_a_moved_block_inside_a_module_moves_what_each_instance_of_it_declares(tmp_path):
    # as in Terraform, a module's own moved blocks name addresses inside it: they were ignored, so
    # renaming a resource and a step inside a module destroyed and recreated the resource in every instance
    project = Project(tmp_path)
    project.write("modules/region/steps.py", "def double(n: int) -> int:\n    return n * 2\n")
    project.write("modules/region/main.zp.hcl", REGION.format("data", "count"))
    project.write("main.zp.hcl", 'module "region" {\n  for_each = toset(["eu", "us"])\n  source   = "./modules/region"\n  name     = each.key\n}\n')
    project.apply()
    project.write("modules/region/main.zp.hcl", REGION.format("cache", "size")
                  + "\nmoved {\n  from = resource.local_directory.data\n  to   = resource.local_directory.cache\n}\n"
                  + "\nmoved {\n  from = pipeline.p.step.count\n  to   = pipeline.p.step.size\n}\n")
    plan = project.run("plan", "-detailed-exitcode")
    assert plan.code == 2, str(plan)
    for key in ("eu", "us"):
        assert (f'module.region["{key}"].resource.local_directory.data has moved to '
                f'module.region["{key}"].resource.local_directory.cache') in plan.out, str(plan)
        assert f'module.region["{key}"].pipeline.p.step.count has moved to module.region["{key}"].pipeline.p.step.size' in plan.out
    assert "Plan: 0 to add, 0 to change, 0 to destroy. Steps: 0 to run, 2 cached." in plan.out, str(plan)
    assert ran(project.apply()) == set()
    assert project.run("plan", "-detailed-exitcode").code == 0
    # a module's moved block names only what is inside it: one from an address it still declares is an error there
    project.write("modules/region/more.zp.hcl", "moved {\n  from = resource.local_directory.cache\n  to   = resource.local_directory.other\n}\n")
    result = project.run("plan")
    assert result.code == 1 and "Traceback" not in result.err, str(result)
    assert 'modules/region/more.zp.hcl:1:1: moved: module.region["eu"].resource.local_directory.cache is still declared' in result.err, str(result)
    assert result.err.count("is still declared") == 1, str(result)  # one block, however many instances


@pytest.mark.parametrize("to, message", [
    ("pipeline.p.step.list", "moved: resource.local_directory.a is a resource and pipeline.p.step.list a step"),
    ("resource.local_file.a", "moved: resource.local_directory.a is a local_directory and resource.local_file.a a local_file"),
    ("module.m", "moved: resource.local_directory.a is a resource and module.m a module"),
])
def test_a_moved_block_between_kinds_or_resource_types_is_an_error_at_the_block(tmp_path, to, message):
    # as in Terraform: the folder's record moved onto a step's address (planned as destroyed there), or
    # onto a local_file, planned as that file's update in place of a folder
    project = Project(tmp_path)
    project.write("steps.py", "def list_dir(where: str, n: int) -> list:\n    return [where] * n\n")
    project.write("main.zp.hcl", READER.format("a", 1))
    project.apply()
    project.write("moved.zp.hcl", f"moved {{\n  from = resource.local_directory.a\n  to   = {to}\n}}\n")
    for command in ("plan", "validate"):
        result = project.run(command)
        assert result.code == 1 and "Traceback" not in result.err, str(result)
        assert "moved.zp.hcl:1:1: " in result.err and message in result.err, str(result)
    assert "resource.local_directory.a" in project.state()["resources"]


SHARDS = 'resource "local_directory" "d" {{\n  {0}\n  path = "out/d${{{1}}}"\n}}\n'


def test_adding_or_removing_count_keeps_the_object_as_instance_zero_as_terraform_does(tmp_path):
    # Terraform's implied move: count added to an applied resource keeps its object as [0] (and removing
    # count keeps [0] as the one object); the folder was destroyed and created again, a cloud bucket with it
    project = Project(tmp_path)
    project.write("main.zp.hcl", SHARDS.format("", '""'))
    project.apply()
    project.write("main.zp.hcl", SHARDS.format("count = 2", "count.index == 0 ? \"\" : count.index"))
    doc = project.plan_json()
    assert doc["moved"] == [{"from": "resource.local_directory.d", "to": "resource.local_directory.d[0]"}]
    assert {r["address"]: r["action"] for r in doc["resources"]} == {
        "resource.local_directory.d[0]": "no-op", "resource.local_directory.d[1]": "create"}
    assert "resource.local_directory.d has moved to resource.local_directory.d[0]" in project.ok("plan").out
    project.apply()
    project.write("main.zp.hcl", SHARDS.format("", '""'))
    doc = project.plan_json()
    assert doc["moved"] == [{"from": "resource.local_directory.d[0]", "to": "resource.local_directory.d"}]
    assert {r["address"]: r["action"] for r in doc["resources"]} == {
        "resource.local_directory.d": "no-op", "resource.local_directory.d[1]": "delete"}
    # a moved block naming the resource says which instance stays: none is implied
    project.write("main.zp.hcl", SHARDS.format("", '""') + "\nmoved {\n  from = resource.local_directory.d[1]\n  to   = resource.local_directory.d\n}\n")
    doc = project.plan_json()
    assert doc["moved"] == [{"from": "resource.local_directory.d[1]", "to": "resource.local_directory.d"}]
    assert {r["address"]: r["action"] for r in doc["resources"]} == {
        "resource.local_directory.d": "replace", "resource.local_directory.d[0]": "delete"}


def test_an_implied_move_takes_that_one_instance_only(tmp_path):
    # state holding d and d[1] (the count removed under -target d, which left d[1]): count added again moved
    # d to d[0], and d[1] with it, to an address no block declares, resource.local_directory.d[0][1]
    project = Project(tmp_path)
    project.write("main.zp.hcl", SHARDS.format("count = 2", "count.index == 0 ? \"\" : count.index"))
    project.apply()
    project.write("main.zp.hcl", SHARDS.format("", '""'))
    project.apply("-target", "resource.local_directory.d")
    assert sorted(project.state()["resources"]) == ["resource.local_directory.d", "resource.local_directory.d[1]"]
    project.write("main.zp.hcl", SHARDS.format("count = 2", "count.index == 0 ? \"\" : count.index"))
    doc = project.plan_json()
    assert doc["moved"] == [{"from": "resource.local_directory.d", "to": "resource.local_directory.d[0]"}]
    assert {r["address"]: r["action"] for r in doc["resources"]} == {
        "resource.local_directory.d[0]": "no-op", "resource.local_directory.d[1]": "no-op"}
