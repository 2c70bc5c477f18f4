"""count and for_each through the real CLI: a hyperparameter sweep (tests/testdata/sweep), where
each grid point is a step instance cached on its own, and resources made by count."""

from __future__ import annotations

import json
import re

import pytest

from tests.cli.helpers import TESTDATA, Project, copy_project

GRID_DEFAULT = '{ "c=0.1" = 0.1, "c=0.5" = 0.5, "c=0.9" = 0.9 }'


def ran(result) -> set[str]:
    """Addresses of the steps an apply ran."""
    return set(re.findall(r"^(\S+): running$", result.out, re.M))


def grid(points: list[float]) -> str:
    return "{ " + ", ".join(f'"c={p}" = {p}' for p in points) + " }"


@pytest.fixture
def sweep(tmp_path) -> Project:
    return copy_project(TESTDATA / "sweep", tmp_path / "sweep")


def train(point: float) -> str:
    return f'pipeline.sweep.step.train["c={point}"]'


def test_a_20_point_sweep_runs_20_instances_then_one_per_new_point_and_none_for_a_removed_one(sweep):
    points = [round(0.05 * i, 2) for i in range(1, 21)]
    sweep.replace("main.zp.hcl", GRID_DEFAULT, grid(points))
    first = sweep.apply()
    assert ran(first) == {train(p) for p in points} | {"pipeline.sweep.step.load", "pipeline.sweep.step.select_best"}
    # the instances are independent: they run side by side, not one after another
    order = re.findall(r'^pipeline\.sweep\.step\.train\[.*\]: (running|done)', first.out, re.M)
    assert order.index("done") >= 2, first.out

    sweep.replace("main.zp.hcl", grid(points), grid(points + [1.5]))
    plan = sweep.ok("plan")
    assert re.search(r'\+ pipeline\.sweep\.step\.train\["c=1\.5"\]\s+will run: never ran', plan.out), plan.out
    assert re.search(r'~ pipeline\.sweep\.step\.select_best\s+will rerun: input scores changes \(upstream train\["c=1\.5"\] reruns\)', plan.out)
    assert ran(sweep.apply()) == {train(1.5), "pipeline.sweep.step.select_best"}

    sweep.replace("main.zp.hcl", grid(points + [1.5]), grid(points[1:] + [1.5]))
    doc = sweep.plan_json()
    assert [s["address"] for s in doc["steps"] if s["action"] == "run"] == ["pipeline.sweep.step.select_best"]
    assert not any(train(points[0]) == s["address"] for s in doc["steps"])
    assert ran(sweep.apply()) == {"pipeline.sweep.step.select_best"}  # no train instance runs


def test_the_fan_in_step_gets_every_instance_output_as_one_list(sweep):
    result = sweep.apply()
    assert "best = 10.5" in result.out  # c=0.5 scores sum(values) exactly
    doc = sweep.plan_json()
    best = next(s for s in doc["steps"] if s["step"] == "select_best")
    assert best["action"] == "cached"
    assert [i["step"] for i in best["inputs"]["scores"]["items"]] == [train(0.1), train(0.5), train(0.9)]
    assert sweep.ok("plan", "-detailed-exitcode").code == 0


def test_replace_and_target_take_instance_addresses(sweep):
    sweep.apply()
    doc = sweep.plan_json("-replace", train(0.5))
    assert {s["address"] for s in doc["steps"] if s["action"] == "run"} == {train(0.5), "pipeline.sweep.step.select_best"}
    assert next(s for s in doc["steps"] if s["address"] == train(0.5))["reasons"][0]["code"] == "replace_requested"
    doc = sweep.plan_json("-target", train(0.9))
    assert {s["address"] for s in doc["steps"]} == {"pipeline.sweep.step.load", train(0.9)}
    doc = sweep.plan_json("-target", "pipeline.sweep.step.train")  # no key: every instance
    assert {s["address"] for s in doc["steps"]} == {"pipeline.sweep.step.load", train(0.1), train(0.5), train(0.9)}
    missing = sweep.run("plan", "-replace", train(0.7))
    assert missing.code == 1 and "no such step or resource" in missing.err
    shown = sweep.ok("state", "show", train(0.9))
    assert "succeeded" in shown.out or "c=0.9" in shown.out
    lineage = sweep.ok("lineage", train(0.5) + ".outputs.output")
    assert f"<- {train(0.5)} (run 1" in lineage.out and 'params {"c": 0.5}' in lineage.out


def test_references_to_all_instances_in_for_expressions(sweep):
    sweep.write("more.zp.hcl", 'output "scores" {\n  value = { for k, s in step.train : k => s.outputs.output }\n}\n')
    result = sweep.apply()
    scores = json.loads(sweep.ok("output", "-json", "scores").out)
    assert scores == {"c=0.1": 6.5, "c=0.5": 10.5, "c=0.9": 6.5}, result.out


COUNTED = '''
resource "local_directory" "shard" {
  count = var.shards
  path  = "out/shard-${count.index}"
}

variable "shards" {
  default = 2
}

output "paths" {
  value = resource.local_directory.shard[*].path
}

output "first" {
  value = resource.local_directory.shard[0].id
}
'''


def test_count_makes_numbered_resource_instances(sweep):
    sweep.write("shards.zp.hcl", COUNTED)
    doc = sweep.plan_json()
    assert [(r["address"], r["action"]) for r in doc["resources"]] == [
        ("resource.local_directory.shard[0]", "create"), ("resource.local_directory.shard[1]", "create")]
    sweep.apply()
    assert sweep.path("out/shard-0").is_dir() and sweep.path("out/shard-1").is_dir()
    assert json.loads(sweep.ok("output", "-json", "paths").out) == ["out/shard-0", "out/shard-1"]
    doc = sweep.plan_json("-var", "shards=3")
    assert [(r["address"], r["action"]) for r in doc["resources"] if r["action"] != "no-op"] == [("resource.local_directory.shard[2]", "create")]
    doc = sweep.plan_json("-var", "shards=1")
    assert [(r["address"], r["action"]) for r in doc["resources"] if r["action"] != "no-op"] == [("resource.local_directory.shard[1]", "delete")]
    assert "resource.local_directory.shard[1]" in sweep.ok("state", "list").out
    sweep.ok("state", "rm", "resource.local_directory.shard[1]")
    assert "shard[1]" not in sweep.ok("state", "list").out


SETS = '''
variable "regions" {
  type    = set(string)
  default = ["eu", "us"]
}

resource "local_directory" "by_name" {
  for_each = toset(["b", "a", "b"])
  path     = "out/${each.key}"
}

resource "local_directory" "by_region" {
  for_each = var.regions
  path     = "out/region-${each.value}"
}
'''


def test_for_each_takes_a_set_from_toset_or_a_set_typed_variable(sweep):
    sweep.write("sets.zp.hcl", SETS)
    doc = sweep.plan_json()
    assert [r["address"] for r in doc["resources"]] == [
        'resource.local_directory.by_name["a"]', 'resource.local_directory.by_name["b"]',
        'resource.local_directory.by_region["eu"]', 'resource.local_directory.by_region["us"]']


BAD = {
    "for_each over a list": ('resource "local_directory" "d" {\n  for_each = ["a", "b"]\n  path = "x"\n}\n',
                             "3:3", "for_each takes a map or a set of strings, not a list"),
    "count and for_each": ('resource "local_directory" "d" {\n  count = 1\n  for_each = { a = 1 }\n  path = "x"\n}\n',
                           "4:3", 'a block cannot use both "count" and "for_each"'),
    "keys known after apply": ('resource "local_directory" "a" {\n  path = "a"\n}\n\nresource "local_directory" "d" {\n'
                               '  for_each = { (resource.local_directory.a.id) = 1 }\n  path = "x"\n}\n',
                               "7:3", "for_each depends on a value known only after apply"),
    "count known after apply": ('resource "local_directory" "a" {\n  path = "a"\n}\n\nresource "local_directory" "d" {\n'
                                '  count = length(resource.local_directory.a.id)\n  path = "x"\n}\n',
                                "7:3", "count depends on a value known only after apply"),
    "each outside for_each": ('resource "local_directory" "d" {\n  path = "x-${each.key}"\n}\n', "3:15", '"each.key" can be used only in a block with for_each'),
    "step count and for_each": ('pipeline "q" {\n  step "s" {\n    source = "steps/sweep.py:load"\n    count = 2\n    for_each = { a = 1 }\n  }\n}\n',
                                "6:5", 'a block cannot use both "count" and "for_each"'),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_count_and_for_each_is_one_clear_error_at_its_line(sweep, case):
    text, line, message = BAD[case]
    sweep.write("bad.zp.hcl", "\n" + text)
    result = sweep.run("plan")
    assert result.code == 1, str(result)
    assert "Traceback" not in result.err
    assert f"bad.zp.hcl:{line}" in result.err and message in result.err, str(result)


BEST_POINT = '''pipeline "sweep" {
  step "best_point" {
    source = "steps/sweep.py:best_point"
    inputs = { scores = { for k, s in step.train : k => s.outputs.output } }
  }
'''


def test_a_fan_in_step_can_take_every_instance_output_as_a_map_by_key(sweep):
    sweep.replace("main.zp.hcl", 'pipeline "sweep" {\n', BEST_POINT)
    sweep.write("best.zp.hcl", 'output "best_point" {\n  value = step.best_point.outputs.output\n}\n')
    doc = sweep.plan_json()
    spec = next(s for s in doc["steps"] if s["step"] == "best_point")["inputs"]["scores"]
    assert spec["kind"] == "map" and spec["keys"] == ["c=0.1", "c=0.5", "c=0.9"]
    sweep.apply()
    assert sweep.ok("output", "-raw", "best_point").out.strip() == "c=0.5"


def test_a_fan_in_over_no_instances_gets_an_empty_list_or_map(sweep):
    # as in Terraform, step.train[*] of a for_each over {} (or count = 0) is []: the plan refused it,
    # "input scores must be a step output ... got []", though the input was every instance's output
    sweep.write("steps/counting.py", "def count(scores) -> str:\n    return f'{type(scores).__name__} of {len(scores)}'\n")
    sweep.replace("main.zp.hcl", 'pipeline "sweep" {\n', 'pipeline "sweep" {\n'
                  '  step "count_list" {\n    source = "steps/counting.py:count"\n    inputs = { scores = step.train[*].outputs.output }\n  }\n\n'
                  '  step "count_map" {\n    source = "steps/counting.py:count"\n'
                  '    inputs = { scores = { for k, s in step.train : k => s.outputs.output } }\n  }\n\n')
    sweep.replace("main.zp.hcl", '  step "select_best" {\n    source = "steps/sweep.py:select_best"\n'
                  '    inputs = { scores = step.train[*].outputs.output }\n  }\n', "")
    sweep.write("counts.zp.hcl", 'output "counts" {\n  value = [step.count_list.outputs.output, step.count_map.outputs.output]\n}\n')
    sweep.replace("main.zp.hcl", 'output "best" {\n  value = step.select_best.outputs.output\n}\n', "")
    sweep.apply()
    assert json.loads(sweep.ok("output", "-json", "counts").out) == ["list of 3", "dict of 3"]
    sweep.replace("main.zp.hcl", GRID_DEFAULT, "{}")
    plan = sweep.run("plan")
    assert plan.code == 0 and "pipeline.sweep.step.count_list" in plan.out, str(plan)
    assert re.search(r"count_map +will rerun: input scores changed\n", plan.out), str(plan)
    sweep.apply()
    assert json.loads(sweep.ok("output", "-json", "counts").out) == ["list of 0", "dict of 0"]
    assert sweep.ok("plan", "-detailed-exitcode").code == 0
    sweep.replace("main.zp.hcl", "{}", grid([0.5]))  # and back: the input changed, nothing else to say
    plan = sweep.ok("plan")
    assert re.search(r"count_list +will rerun: input scores changed\n", plan.out), str(plan)


CHAINED = '''
resource "local_directory" "d" {
  for_each = toset(["a", "b"])
  path     = "out/${each.key}"
}

resource "local_file" "f" {
  for_each = resource.local_directory.d
  path     = "${each.value.path}/f.txt"
  content  = each.value.id
}

module "w" {
  for_each = toset(["c"])
  source   = "./modules/w"
  name     = each.key
}

resource "local_file" "g" {
  for_each = module.w
  path     = "out/g-${each.key}.txt"
  content  = each.value.dir
}

resource "local_file" "h" {
  for_each = { for k, d in resource.local_directory.d : k => { dir = d } }
  path     = "${each.value.dir.path}/h.txt"
  content  = each.value.dir.id
}
'''


def test_for_each_over_resource_or_module_instances_reads_each_value_as_planned_and_applied(tmp_path):
    # Terraform's chaining (for_each = aws_vpc.example, then each.value.id): each.value held the
    # attributes as they were before anything was planned, so the path was unknown in the plan
    # and apply failed, "an input is still unknown after its dependencies were applied"
    project = Project(tmp_path)
    project.write("modules/w/main.zp.hcl", 'variable "name" {}\n\nresource "local_directory" "x" {\n  path = "out/w-${var.name}"\n}\n\n'
                                           'output "dir" {\n  value = resource.local_directory.x.id\n}\n')
    project.write("main.zp.hcl", CHAINED)
    doc = project.plan_json()
    planned = {r["address"]: r for r in doc["resources"]}
    assert planned['resource.local_file.f["a"]']["after"]["path"] == "out/a/f.txt"
    assert "content" in planned['resource.local_file.f["a"]']["after_unknown"]
    result = project.apply()
    assert "Apply complete: 8 ok." in result.out, str(result)
    assert project.read("out/a/f.txt") == str(tmp_path / "out" / "a")
    assert project.read("out/b/h.txt") == str(tmp_path / "out" / "b")  # an instance inside each.value, too
    assert project.read("out/g-c.txt") == str(tmp_path / "out" / "w-c")
    assert project.ok("plan", "-detailed-exitcode").code == 0


ONE = '  step "one" {\n    source = "steps/counting.py:count"\n    inputs = { scores = step.train["c=0.5"] }\n  }\n\n'


@pytest.mark.parametrize("where", ["output", "input"])
def test_a_step_instance_as_a_whole_is_an_error_not_an_empty_map(sweep, where):
    # its outputs are listed nowhere: an output showed {"c=0.1": {}, ...}, and an input got {}
    sweep.write("steps/counting.py", "def count(scores) -> int:\n    return len(scores)\n")
    if where == "output":
        sweep.write("all.zp.hcl", 'output "all" {\n  value = step.train\n}\n')
        message = 'output "all" holds every output of step.train["c=0.1"], which are listed nowhere'
    else:
        sweep.replace("main.zp.hcl", 'pipeline "sweep" {\n', 'pipeline "sweep" {\n' + ONE)
        message = 'step "one": input "scores" is every output of step.train["c=0.5"]: name one, step.train["c=0.5"].outputs.NAME'
    result = sweep.run("plan")
    assert result.code == 1 and "Traceback" not in result.err, str(result)
    assert message in result.err, str(result)


SMOKE_EACH = '''
resource "local_directory" "d" {
  for_each = toset(["a", "b"])
  path     = "out/${each.key}"
}

pipeline "p" {
  step "smoke" {
    for_each = resource.local_directory.d
    source   = "steps.py:smoke"
    params   = { path = each.value.path }
  }
  step "nested" {
    for_each = { for k, d in resource.local_directory.d : k => { dir = d } }
    source   = "steps.py:smoke"
    params   = { path = each.value.dir.path }
  }
}
'''


def test_a_step_reading_a_resource_instance_through_each_value_reruns_when_it_is_replaced(tmp_path):
    # as a step naming resource.T.N["a"] in its params does: a redeploy reruns its smoke test, even with the
    # same attributes. Through each.value it was not counted as reading the resource, and stayed cached
    project = Project(tmp_path)
    project.write("steps.py", "def smoke(path: str) -> str:\n    return path.upper()\n")
    project.write("main.zp.hcl", SMOKE_EACH)
    assert "Apply complete: 6 ok." in project.apply().out
    plan = project.ok("plan", "-replace", 'resource.local_directory.d["a"]').out
    for step in ("smoke", "nested"):
        assert re.search(rf'{step}\["a"\] +will rerun: resource\.local_directory\.d\["a"\] changes \(replace\)', plan), plan
        assert re.search(rf'{step}\["b"\] +cached', plan), plan
    assert project.ok("plan", "-detailed-exitcode").code == 0


def test_a_step_that_starts_reading_a_resource_says_so(tmp_path):
    # its key gains the resource's record: "changed since the step last ran" would say the resource changed
    project = Project(tmp_path)
    project.write("steps.py", "def smoke(path: str) -> str:\n    return path.upper()\n")
    project.write("main.zp.hcl", SMOKE_EACH.replace("each.value.path", "each.key").replace("each.value.dir.path", "each.key"))
    assert "Apply complete: 6 ok." in project.apply().out
    project.write("main.zp.hcl", SMOKE_EACH)
    plan = project.ok("plan").out
    assert re.search(r'smoke\["a"\] +will rerun: .*reads resource\.local_directory\.d\["a"\], which it did not when it last ran', plan), plan
    assert "changed since the step last ran" not in plan, plan


def test_a_step_reading_a_module_instance_through_each_value_reruns_when_a_resource_behind_it_is_replaced(tmp_path):
    # as a step reading module.w["c"].dir does; the step over module.w stayed cached ("upstream output unchanged")
    project = Project(tmp_path)
    project.write("modules/w/main.zp.hcl", 'variable "name" {}\n\nresource "local_directory" "x" {\n  path = "out/w-${var.name}"\n}\n\n'
                                           'output "dir" {\n  value = resource.local_directory.x.id\n}\n')
    project.write("steps.py", "def smoke(path: str) -> str:\n    return path.upper()\n")
    project.write("main.zp.hcl", 'module "w" {\n  for_each = toset(["c", "d"])\n  source   = "./modules/w"\n  name     = each.key\n}\n\n'
                                 'pipeline "p" {\n  step "each" {\n    for_each = module.w\n    source   = "steps.py:smoke"\n'
                                 '    params   = { path = each.value.dir }\n  }\n}\n')
    assert "Apply complete: 4 ok." in project.apply().out
    applied = project.ok("apply", "-auto-approve", "-replace", 'module.w["c"].resource.local_directory.x')
    assert re.search(r'^pipeline\.p\.step\.each\["c"\]: running$', applied.out, re.M), str(applied)
    assert re.search(r'^pipeline\.p\.step\.each\["d"\]: cached$', applied.out, re.M), str(applied)


def test_each_value_of_a_resource_naming_an_attribute_it_lacks_is_an_error_at_its_line(tmp_path):
    # as resource.T.N["a"].pth is: it read as known after apply, forever
    project = Project(tmp_path)
    project.write("steps.py", "def smoke(path: str) -> str:\n    return path.upper()\n")
    project.write("main.zp.hcl", SMOKE_EACH.replace("each.value.path", "each.value.pth"))
    result = project.run("plan")
    assert result.code == 1, str(result)
    assert 'main.zp.hcl:11:25: unsupported attribute: resource.local_directory.d has no attribute "pth"' in result.err, str(result)
