"""Modules through the real CLI (tests/testdata/modules): a local module called with for_each and on
its own, a module inside it, outputs read as module.NAME.OUT; git sources pinned by zplan init."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import jsonschema
import pytest

from tests.cli.helpers import TESTDATA, Project, copy_project

SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "zplan/plan/plan.schema.json").read_text())


def ran(result) -> set[str]:
    return set(re.findall(r"^(\S+): running$", result.out, re.M))


@pytest.fixture
def project(tmp_path) -> Project:
    return copy_project(TESTDATA / "modules", tmp_path / "modules")


def test_module_instances_get_nested_addresses_and_their_outputs_are_read(project):
    doc = project.plan_json()
    jsonschema.validate(doc, SCHEMA)  # module addresses and instance keys fit the documented plan format
    steps = {s["address"] for s in doc["steps"]}
    assert 'module.region["eu"].pipeline.fit.step.train' in steps and "module.single.pipeline.fit.step.load" in steps
    resources = {r["address"] for r in doc["resources"]}
    assert 'module.region["us"].module.report.resource.local_file.summary' in resources
    assert "module.single.resource.local_directory.results" in resources
    # a module step's source is relative to the module's folder
    train = next(s for s in doc["steps"] if s["address"] == 'module.region["eu"].pipeline.fit.step.train')
    assert train["source"] == "modules/train/steps/train.py:train" and train["params"]["c"] == 0.5
    assert doc["outputs"]["reports"]["value"] == ["out/eu/README.txt", "out/us/README.txt"]

    result = project.apply()
    assert "Apply complete: 14 ok." in result.out
    assert json.loads(project.ok("output", "-json", "scores").out) == {"eu": 5.25, "us": 21.0}
    assert project.ok("output", "single_score").out.strip() == "10.5"
    assert project.read("out/us/README.txt") == "results of us"
    assert project.ok("plan", "-detailed-exitcode").code == 0


def test_a_module_step_code_change_reruns_that_step_in_every_instance(project):
    project.apply()
    project.replace("modules/train/steps/train.py", "return round(sum(values) * c, 6)", "return round(sum(values) * c * 2, 6)")
    result = project.apply()
    assert ran(result) == {'module.region["eu"].pipeline.fit.step.train', 'module.region["us"].pipeline.fit.step.train',
                           "module.single.pipeline.fit.step.train"}


def test_target_a_module_instance(project):
    doc = project.plan_json("-target", 'module.region["eu"]')
    addresses = {s["address"] for s in doc["steps"]} | {r["address"] for r in doc["resources"]}
    assert addresses and all(a.startswith('module.region["eu"].') for a in addresses)


def test_depends_on_a_module_waits_for_everything_in_it(project):
    project.write("after.zp.hcl", 'resource "local_file" "done" {\n  path = "out/done.txt"\n  content = "ok"\n'
                                  '  depends_on = [module.single]\n}\n')
    doc = project.plan_json()
    done = next(r for r in doc["resources"] if r["address"] == "resource.local_file.done")
    assert "module.single.module.report.resource.local_file.summary" in done["depends_on"]


MODULE_ERRORS = {
    "source missing": ('module "x" {\n  source = "./nowhere"\n}\n', "main2.zp.hcl:3:3", 'source ./nowhere holds no *.zp.hcl files'),
    "unknown input": ('module "x" {\n  source = "./modules/train"\n  name = "a"\n  speed = 2\n}\n', "main2.zp.hcl:5:3", 'module "x" has no input "speed"'),
    "missing input": ('module "x" {\n  source = "./modules/train"\n}\n', "main2.zp.hcl:2:1", 'module "x": missing input "name"'),
}


@pytest.mark.parametrize("case", sorted(MODULE_ERRORS))
def test_bad_module_calls_are_one_clear_error_at_the_calling_block(project, case):
    text, where, message = MODULE_ERRORS[case]
    project.write("main2.zp.hcl", "\n" + text)
    result = project.run("plan")
    assert result.code == 1 and "Traceback" not in result.err, str(result)
    assert where in result.err and message in result.err, str(result)


TYPED = '''variable "epochs" {
  type = number
}

variable "cfg" {
  type    = object({ name = string, layers = optional(list(number), [8]) })
  default = { name = "small" }
}

output "summary" {
  value = "${var.cfg.name}: ${var.epochs * 2} epochs, layers ${jsonencode(var.cfg.layers)}"
}
'''


def test_module_inputs_are_converted_to_their_types_and_a_misfit_is_an_error_at_the_call(project):
    project.write("modules/typed/main.zp.hcl", TYPED)
    project.write("main2.zp.hcl", 'module "t" {\n  source = "./modules/typed"\n  epochs = "3"\n}\n\n'
                                  'output "typed" {\n  value = module.t.summary\n}\n')
    doc = project.plan_json()
    assert doc["outputs"]["typed"]["value"] == "small: 6 epochs, layers [8]"  # "3" became 3; the optional default filled in
    project.replace("main2.zp.hcl", 'epochs = "3"', 'epochs = "many"')
    result = project.run("plan")
    assert result.code == 1 and "Traceback" not in result.err, str(result)
    assert "main2.zp.hcl:3:12" in result.err and 'invalid value for module input "epochs"' in result.err, str(result)
    assert 'module.t.var.epochs: a number is required' in result.err, str(result)


def test_a_module_cycle_is_an_error(project):
    project.write("modules/a/main.zp.hcl", 'module "b" {\n  source = "../b"\n}\n')
    project.write("modules/b/main.zp.hcl", 'module "a" {\n  source = "../a"\n}\n')
    project.write("main2.zp.hcl", 'module "a" {\n  source = "./modules/a"\n}\n')
    result = project.run("plan")
    assert result.code == 1 and "Traceback" not in result.err
    assert "modules/b/main.zp.hcl:2:3" in result.err and "module cycle: a -> b -> a" in result.err, str(result)
    assert 'in module "b" called at modules/a/main.zp.hcl:1:1' in result.err


def test_an_error_inside_a_module_points_into_the_module_and_names_the_call(project):
    project.replace("modules/train/modules/report/main.zp.hcl", 'content = "results of ${var.label}"', "content = 5\n  colour = 1")
    result = project.run("plan")
    assert result.code == 1 and "Traceback" not in result.err
    assert "modules/train/modules/report/main.zp.hcl:7:3" in result.err, str(result)
    assert result.err.count("unsupported attribute") == 1  # one block, however many instances
    assert 'in module "report" called at modules/train/main.zp.hcl:38:1' in result.err


def test_a_provider_block_in_a_module_is_an_error_not_ignored(project):
    """Providers are configured from the project's own provider blocks: one in a module was never read."""
    project.write("provider.zp.hcl", 'provider "local" {\n}\n')  # the project's own: fine
    assert "The configuration is valid" in project.ok("validate").out
    project.write("modules/train/modules/report/provider.zp.hcl", 'provider "local" {\n}\n')
    result = project.run("validate")
    assert result.code == 1 and "Traceback" not in result.err, str(result)
    assert 'modules/train/modules/report/provider.zp.hcl:1:1: provider "local" in a module configures nothing' in result.err, str(result)
    assert result.err.count("configures nothing") == 1  # one block, however many instances
    assert 'in module "report" called at modules/train/main.zp.hcl:38:1' in result.err



def test_providers_of_a_module_call_choosing_another_configuration_is_an_error_not_ignored(project):
    # providers = { local = local.other } was dropped silently (local.other, named nowhere, too): the
    # module's resources were planned with the project's one configuration of each provider
    call = 'module "extra" {\n  source = "./modules/train"\n  name   = "extra"\n  providers = %s\n}\n'
    project.write("extra.zp.hcl", call % "{ local = local }")  # Terraform's way to pass the default one on: a no-op
    assert "The configuration is valid" in project.ok("validate").out
    project.write("extra.zp.hcl", call % "{ local = local.other }")
    for command in ("validate", "plan"):
        result = project.run(command)
        assert result.code == 1 and "Traceback" not in result.err, str(result)
        assert "extra.zp.hcl:4:3" in result.err and 'module "extra": providers cannot choose a provider configuration' in result.err, str(result)


# -- git sources ----------------------------------------------------------------------------------

GIT = ["git", "-c", "user.name=Test", "-c", "user.email=test@example.com", "-c", "init.defaultBranch=main"]


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run([*GIT, "-C", str(cwd), *args], check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def repo(tmp_path) -> tuple[Path, Path]:
    """A bare repository holding a module in sub/, tagged v1; and the work tree it is pushed from."""
    work = tmp_path / "work"
    (work / "sub" / "steps").mkdir(parents=True)
    (work / "sub" / "main.zp.hcl").write_text('variable "c" {\n  default = 2\n}\n\npipeline "p" {\n  step "s" {\n'
                                              '    source = "steps/s.py:times"\n    params = { c = var.c }\n  }\n}\n\n'
                                              'output "v" {\n  value = step.s.outputs.output\n}\n')
    (work / "sub" / "steps" / "s.py").write_text("def times(c: int) -> int:\n    return c * 2\n")
    subprocess.run([*GIT, "init", "-q", str(work)], check=True)
    _git(work, "add", "-A")
    _git(work, "commit", "-q", "-m", "one")
    _git(work, "tag", "v1")
    bare = tmp_path / "repo.git"
    subprocess.run([*GIT, "clone", "-q", "--bare", str(work), str(bare)], check=True)
    return bare, work


def test_a_git_module_is_cloned_by_init_and_pinned_so_a_moved_tag_changes_nothing(tmp_path, repo):
    bare, work = repo
    project = Project(tmp_path / "proj")
    project.write("main.zp.hcl", f'module "m" {{\n  source = "git::file://{bare}//sub?ref=v1"\n  c = 5\n}}\n\n'
                                 'output "v" {\n  value = module.m.v\n}\n')
    before = project.run("plan")
    assert before.code == 1 and "is not installed" in before.err and "zplan init" in before.err, str(before)

    init = project.ok("init")
    first = _git(work, "rev-parse", "HEAD")
    assert first[:12] in init.out
    assert f'commit = "{first}"' in project.read(".zplan.lock.hcl")
    assert list(project.path(".zplan/modules").iterdir())
    assert project.apply().out.count("module.m.pipeline.p.step.s: running") == 1
    assert project.ok("output", "v").out.strip() == "10"

    (work / "sub" / "steps" / "s.py").write_text("def times(c: int) -> int:\n    return c * 3\n")
    _git(work, "commit", "-q", "-am", "two")
    _git(work, "tag", "-f", "v1")
    _git(work, "push", "-q", "-f", str(bare), "main", "v1")
    assert project.ok("plan", "-detailed-exitcode").code == 0  # pinned: the moved tag is not seen

    project.ok("init", "-upgrade")
    assert f'commit = "{_git(work, "rev-parse", "HEAD")}"' in project.read(".zplan.lock.hcl")
    result = project.run("plan", "-detailed-exitcode")
    assert result.code == 2 and "module.m.pipeline.p.step.s" in result.out and "code changed" in result.out, str(result)


def test_a_bad_reference_inside_a_module_names_the_module_line_and_the_call(project):
    project.replace("modules/train/main.zp.hcl", "params = { c = var.c,", "params = { c = var.cc,")
    result = project.run("plan")
    assert result.code == 1 and "Traceback" not in result.err
    assert 'modules/train/main.zp.hcl:34:20: reference to undeclared variable "cc"' in result.err, str(result)
    assert 'called at main.zp.hcl:' in result.err


def test_a_saved_plan_goes_stale_when_a_module_outside_the_project_changes(tmp_path):
    # a module next to the project, not under it (examples/multi-env calls ../../modules/...)
    project = copy_project(TESTDATA / "modules", tmp_path / "project")
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "main.zp.hcl").write_text('resource "local_file" "f" {\n  path    = "out/shared.txt"\n  content = "v1"\n}\n')
    project.write("shared.zp.hcl", 'module "shared" {\n  source = "../shared"\n}\n')
    project.ok("plan", "-out", "plan.zplan")
    (shared / "main.zp.hcl").write_text((shared / "main.zp.hcl").read_text().replace('"v1"', '"v2"'))
    result = project.run("apply", "plan.zplan")
    assert result.code == 1 and "saved plan is stale: configuration file ../shared/main.zp.hcl changed" in result.err, str(result)
    assert not (project.root / "out" / "shared.txt").exists()


def test_state_rm_of_a_module_or_a_block_without_its_key_forgets_every_resource_instance_in_it(project):
    project.apply()
    result = project.ok("state", "rm", 'module.region["eu"]')
    assert 'module.region["eu"].resource.local_directory.results' in result.out
    project.ok("state", "rm", "resource.local_directory.shards")
    listed = project.ok("state", "list").out.split()
    assert not [a for a in listed if a.startswith(('module.region["eu"].resource', 'module.region["eu"].module', "resource.local_directory.shards"))]
    assert 'module.region["us"].resource.local_directory.results' in listed
    assert 'module.region["eu"].pipeline.fit.step.train' in listed  # a step's records stay: caching and lineage read them


def test_state_show_of_a_block_with_instances_names_them(project):
    project.apply()
    result = project.run("state", "show", "module.region")
    assert result.code == 1 and "module.region names 8 recorded instances: give one" in result.err, str(result)
    assert 'module.region["eu"].pipeline.fit.step.train' in result.err and "Traceback" not in result.err


def test_lineage_of_an_output_holding_several_step_outputs_traces_each(project):
    """scores is a map over the module's instances: tracing only the first would pass one
    instance's history off as the whole value's."""
    project.apply()
    traced = project.ok("lineage", "scores").out
    assert traced.splitlines()[0] == "output scores (2 step outputs)", traced
    for key in ("eu", "us"):
        assert f'  module.region["{key}"].pipeline.fit.step.' in traced, traced
        assert f'<- module.region["{key}"].pipeline.fit.step.' in traced, traced


def test_lineage_of_an_output_read_through_a_module_output(project):
    project.apply()
    for what in ("single_score", "output.single_score"):
        traced = project.ok("lineage", what).out
        assert traced.splitlines()[1].lstrip().startswith("<- module.single.pipeline.fit.step."), traced


def test_a_step_address_without_its_key_names_its_instances_in_artifact_and_lineage(project):
    # "no step ... in the configuration" (or "declared ... or recorded") was said of a step made with for_each
    project.write("sweep.py", "def fit(c: str) -> str:\n    return c * 2\n")
    project.write("sweep.zp.hcl", 'pipeline "sweep" {\n  step "train" {\n    for_each = toset(["a", "b"])\n'
                                  '    source   = "sweep.py:fit"\n    params   = { c = each.key }\n  }\n}\n')
    project.apply()
    listed = project.ok("artifact", "list", "pipeline.sweep.step.train").out
    assert 'pipeline.sweep.step.train["a"]' in listed and 'pipeline.sweep.step.train["b"]' in listed, listed
    for command in (["lineage", "pipeline.sweep.step.train"], ["artifact", "export", "pipeline.sweep.step.train", "exported"]):
        result = project.run(*command)
        assert result.code == 1 and "Traceback" not in result.err, str(result)
        assert "pipeline.sweep.step.train names 2 step instances: give one" in result.err, str(result)
        assert 'pipeline.sweep.step.train["b"]' in result.err and "in the configuration" not in result.err, str(result)


LIB = {"lib/__init__.py": "", "lib/helpers.py": "def factor() -> int:\n    return 3\n",
       "lib/steps.py": "from .helpers import factor\n\n\ndef times(c: int) -> int:\n    return c * factor()\n",
       "main.zp.hcl": 'pipeline "p" {\n  step "s" {\n    source = "lib/steps.py:times"\n    params = { c = 5 }\n  }\n}\n\n'
                      'output "v" {\n  value = step.s.outputs.output\n}\n'}


def test_step_code_of_a_git_module_or_one_beside_the_project_imports_its_own_files(tmp_path):
    # from .helpers import factor failed as the step ran: "No module named 'zplan.modules'" in a git
    # module's checkout, "No module named 'shared'" beside the project; and beside the project the plan did
    # not follow it, so an edit to helpers.py reran nothing
    for rel, text in LIB.items():
        (tmp_path / "work" / "sub" / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "work" / "sub" / rel).write_text(text)
        (tmp_path / "shared" / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "shared" / rel).write_text(text)
    subprocess.run([*GIT, "init", "-q", str(tmp_path / "work")], check=True)
    _git(tmp_path / "work", "add", "-A")
    _git(tmp_path / "work", "commit", "-q", "-m", "one")
    project = Project(tmp_path / "proj")
    project.write("main.zp.hcl", f'module "git" {{\n  source = "git::file://{tmp_path / "work"}//sub"\n}}\n\n'
                                 'module "beside" {\n  source = "../shared"\n}\n\n'
                                 'output "v" {\n  value = [module.git.v, module.beside.v]\n}\n')
    project.ok("init")
    result = project.apply()
    assert "Apply complete: 2 ok." in result.out, str(result)
    assert json.loads(project.ok("output", "-json", "v").out) == [15, 15]
    (tmp_path / "shared" / "lib" / "helpers.py").write_text("def factor() -> int:\n    return 4\n")
    plan = project.ok("plan")
    assert "module.beside.pipeline.p.step.s   will rerun: code changed" in plan.out, str(plan)
    project.apply()
    assert json.loads(project.ok("output", "-json", "v").out) == [15, 20]


def test_validate_imports_the_step_code_of_a_git_module_and_of_one_beside_the_project(tmp_path):
    # it imported each step file by its path's dotted name: ".zplan.modules.HASH.sub.lib.steps" and
    # "...shared.lib.steps" cannot be imported so, and every such module was reported as not importing
    test_step_code_of_a_git_module_or_one_beside_the_project_imports_its_own_files(tmp_path)
    project = Project(tmp_path / "proj")
    assert "The configuration is valid" in project.ok("validate", "-imports").out
    (tmp_path / "shared" / "lib" / "helpers.py").write_text("import no_such_module_here\n")
    result = project.run("validate", "-imports")
    assert result.code == 1 and "../shared/lib/steps.py does not import: ModuleNotFoundError: No module named 'no_such_module_here'" in result.err, str(result)
    assert ".zplan/modules" not in result.err, str(result)
