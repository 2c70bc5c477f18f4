"""count and for_each as the expansion and the graph read them: mistakes are one error at file:line."""

from __future__ import annotations

import pytest

from zplan.diags import DiagnosticError
from zplan.project import Options, Project
from zplan.provider import ProviderRegistry

STEP = 'pipeline "p" {\n  step "s" {\n    %s\n    source = "steps/s.py:f"\n  }\n}\n'
SECRET = 'variable "tok" {\n  default   = { hunter2 = 1 }\n  sensitive = true\n}\n'


def write(tmp_path, text: str):
    (tmp_path / "steps").mkdir(exist_ok=True)
    (tmp_path / "steps" / "s.py").write_text("def f(x=1):\n    return x\n")
    (tmp_path / "main.zp.hcl").write_text(text)
    return tmp_path


def open_errors(tmp_path, text: str) -> list[str]:
    with pytest.raises(DiagnosticError) as err:
        Project.open(write(tmp_path, text), Options(), ProviderRegistry())
    return [str(d) for d in err.value.diagnostics]


@pytest.mark.parametrize("for_each", ["var.tok", "toset(keys(var.tok))", '{ for k, v in var.tok : "x-${k}" => v }'])
def test_for_each_over_a_sensitive_value_is_refused_as_its_keys_would_show_it(tmp_path, for_each):
    (error,) = open_errors(tmp_path, SECRET + STEP % f"for_each = {for_each}")
    assert "main.zp.hcl:7:5: error: for_each cannot use a sensitive value" in error
    assert "hunter2" not in error


def test_count_may_read_a_sensitive_number(tmp_path):
    text = 'variable "n" {\n  default   = 2\n  sensitive = true\n}\n' + STEP % "count = var.n"
    config = Project.open(write(tmp_path, text), Options(), ProviderRegistry()).config
    assert sorted(s.address for s in config.steps()) == ["pipeline.p.step.s[0]", "pipeline.p.step.s[1]"]


@pytest.mark.parametrize("value", ['"hunter2"', "-7", "2.5"])
def test_a_bad_count_read_from_a_secret_is_not_quoted(tmp_path, value):
    text = f'variable "n" {{\n  default   = {value}\n  sensitive = true\n}}\n' + STEP % "count = var.n"
    (error,) = open_errors(tmp_path, text)
    assert "count must be a whole number of 0 or more" in error and "(sensitive value)" in error
    assert value.strip('"') not in error.partition(": error: ")[2]  # (the file's path may hold "-7": pytest-715)


def test_for_each_in_a_module_over_a_secret_its_caller_passed_is_refused(tmp_path):
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "main.zp.hcl").write_text('variable "names" {}\n' + STEP.replace("steps/s.py", "../steps/s.py") % "for_each = var.names")
    (error,) = open_errors(tmp_path, SECRET + 'module "m" {\n  source = "./m"\n  names  = var.tok\n}\n')
    assert "m/main.zp.hcl:4:5: error: for_each cannot use a sensitive value" in error and 'in module "m" called at main.zp.hcl:5:1' in error


def validation_errors(tmp_path, text: str) -> list[str]:
    from zplan.operations.validate import validate_project

    with pytest.raises(DiagnosticError) as err:
        validate_project(Project.open(write(tmp_path, text), Options(), ProviderRegistry()))
    return [str(d) for d in err.value.diagnostics]


SWEEP = 'variable "k" {\n  default = "x"\n}\npipeline "p" {\n  step "a" {\n    for_each = { x = 1 }\n    source = "steps/s.py:f"\n  }\n  step "b" {\n    source = "steps/s.py:f"\n    depends_on = [%s]\n  }\n}\n'
BAD_DEPENDS_ON = {
    "a string": ('"step.a"', "main.zp.hcl:11:19: error: depends_on takes references, not values"),
    "a step address": ("pipeline.p.step.a", 'main.zp.hcl:11:19: error: depends_on cannot name "pipeline.p.step.a"'),
    "each.key": ("each.key", 'main.zp.hcl:11:19: error: depends_on cannot name "each.key"'),
    "an undeclared short resource": ("local_directory.nope", 'main.zp.hcl:11:19: error: reference to undeclared resource "local_directory.nope"'),
    "a missing step instance": ('step.a["zz"]', 'main.zp.hcl:11:19: error: "step.a["zz"]": pipeline.p.step.a has no instance ["zz"]'),
    "a dynamic key": ("step.a[var.k]", "main.zp.hcl:11:19: error: depends_on takes references, not values"),
}


@pytest.mark.parametrize("case", sorted(BAD_DEPENDS_ON))
def test_a_depends_on_naming_nothing_is_an_error_at_its_line(tmp_path, case):
    ref, message = BAD_DEPENDS_ON[case]
    errors = validation_errors(tmp_path, SWEEP % ref)
    assert any(message in e for e in errors), errors


def test_a_depends_on_naming_a_missing_module_instance_is_an_error(tmp_path):
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "main.zp.hcl").write_text('output "o" { value = 1 }\n')
    text = STEP % 'depends_on = [module.m["zz"]]' + 'module "m" {\n  for_each = { a = 1 }\n  source   = "./m"\n}\n'
    (error,) = validation_errors(tmp_path, text)
    assert 'main.zp.hcl:3:19: error: "module.m["zz"]": module.m has no instance ["zz"]' in error


def test_depends_on_one_instance_waits_for_that_instance_only(tmp_path):
    from zplan.graph.build import build

    config = Project.open(write(tmp_path, SWEEP.replace("{ x = 1 }", "{ x = 1, y = 2 }") % 'step.a["y"]'), Options(), ProviderRegistry()).config
    assert build(config).ancestors("pipeline.p.step.b") == {'pipeline.p.step.a["y"]'}


def test_a_mistake_in_a_module_calls_depends_on_is_reported_once(tmp_path):
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "main.zp.hcl").write_text(STEP.replace("steps/s.py", "../steps/s.py") % "count = 3")
    errors = validation_errors(tmp_path, 'module "m" {\n  source     = "./m"\n  depends_on = [step.nope]\n}\n')
    assert len(errors) == 1 and 'main.zp.hcl:3:17: error: reference to undeclared step "nope"' in errors[0]


def test_for_each_reading_a_resource_says_instances_cannot_read_resources(tmp_path):
    # instances are made before anything is planned or read from state: applying the resource first
    # (the -target way out Terraform suggests) would change nothing, so the hint must not offer it
    resource = 'resource "local_directory" "a" {\n  path = "a"\n}\n'
    (error,) = open_errors(tmp_path, resource + STEP % "for_each = toset([resource.local_directory.a.path])")
    assert "main.zp.hcl:6:5: error: for_each depends on a value known only after apply" in error
    assert "-target" not in error and "cannot read resource attributes" in error


def test_each_value_without_the_element_names_the_instance_and_what_it_has(tmp_path):
    (error,) = validation_errors(tmp_path, STEP % "for_each = { x = { n = 1 }, y = { m = 2 } }\n    params   = { x = each.value.n }")
    assert 'main.zp.hcl:4:22: error: "each.value.n": the each.value of instance ["y"] has no element "n"' in error
    assert "its elements: m" in error


VALIDATED = '''variable "name" {
  type = string
  validation {
    condition     = length(var.name) > 2
    error_message = "name must have 3 letters or more"
  }
}
output "name" { value = var.name }
'''


@pytest.mark.parametrize("call, source", [
    ('module "m" {\n  for_each = { a = "long", b = "x" }\n  source   = "./m"\n  name     = each.value\n}\n', 'module.m["b"], set at main.zp.hcl:4:14'),
    ('module "m" {\n  source = "./m"\n  name   = "x"\n}\n', "module.m, set at main.zp.hcl:3:12"),
])
def test_a_module_input_failing_its_variables_validation_is_an_error(tmp_path, call, source):
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "main.zp.hcl").write_text(VALIDATED)
    (error,) = validation_errors(tmp_path, call)
    assert f'm/main.zp.hcl:3:3: error: invalid value for variable "name" (from {source}): name must have 3 letters or more' in error


def test_a_module_variables_default_failing_its_validation_is_an_error(tmp_path):
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "main.zp.hcl").write_text(VALIDATED.replace("  type = string\n", '  type    = string\n  default = "x"\n'))
    (error,) = validation_errors(tmp_path, 'module "m" {\n  source = "./m"\n}\n')
    assert 'm/main.zp.hcl:4:3: error: invalid value for variable "name" (from module.m, its default)' in error


def test_a_failed_validation_of_a_secret_module_input_does_not_quote_it(tmp_path):
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "main.zp.hcl").write_text(VALIDATED.replace('"name must have 3 letters or more"', '"${var.name} is too short"'))
    text = 'variable "pw" {\n  default   = "hu"\n  sensitive = true\n}\nmodule "m" {\n  source = "./m"\n  name   = var.pw\n}\n'
    (error,) = validation_errors(tmp_path, text)
    assert 'invalid value for variable "name" (from module.m, set at main.zp.hcl:7:12)' in error and '"hu' not in error


def test_validate_reports_a_move_from_a_block_still_declared(tmp_path):
    text = STEP % 'for_each = { a = 1 }' + 'moved {\n  from = pipeline.p.step.s["a"]\n  to   = pipeline.p.step.s["b"]\n}\n'
    (error,) = validation_errors(tmp_path, text)
    assert 'main.zp.hcl:7:1: error: moved: pipeline.p.step.s["a"] is still declared' in error


def test_count_takes_a_number_given_as_text_as_terraform_converts_it(tmp_path):
    # an untyped variable set with -var n=2 (or ZPLAN_VAR_n=2) holds the text "2"
    text = 'variable "n" {}\n' + STEP % "count = var.n"
    write(tmp_path, text)
    config = Project.open(tmp_path, Options(vars=["n=2"]), ProviderRegistry()).config
    assert sorted(s.address for s in config.steps()) == ["pipeline.p.step.s[0]", "pipeline.p.step.s[1]"]
    (error,) = open_errors(tmp_path, 'variable "n" {\n  default = "two"\n}\n' + STEP % "count = var.n")
    assert "count must be a whole number of 0 or more, got string 'two'" in error


def test_an_output_of_a_for_each_module_without_a_key_asks_for_an_instance(tmp_path):
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "main.zp.hcl").write_text('output "score" { value = 1 }\n')
    text = 'module "m" {\n  for_each = { a = 1 }\n  source   = "./m"\n}\noutput "o" { value = module.m.score }\n'
    (error,) = validation_errors(tmp_path, text)
    assert '"module.m.score": module.m is made with for_each, so name one of its instances' in error
    assert 'e.g. module.m["a"].score, or module.m[*].score' in error


NAMES = 'variable "names" {\n  default = ["a", "b"]\n}\noutput "names" { value = toset(var.names) }\noutput "count" { value = length(var.names) }\n'


@pytest.mark.parametrize("repeat", ["for_each = module.m.names", "count = module.m.count"])
def test_count_and_for_each_may_read_a_module_output_known_when_planning(tmp_path, repeat):
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "main.zp.hcl").write_text(NAMES)
    write(tmp_path, STEP % repeat + 'module "m" {\n  source = "./m"\n}\n')
    config = Project.open(tmp_path, Options(), ProviderRegistry()).config
    assert len([s for s in config.steps()]) == 2


def test_a_module_may_read_the_output_of_a_module_declared_after_it(tmp_path):
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "main.zp.hcl").write_text(NAMES)
    write(tmp_path, 'module "each" {\n  for_each = module.m.names\n  source   = "./m"\n}\nmodule "m" {\n  source = "./m"\n}\n')
    config = Project.open(tmp_path, Options(), ProviderRegistry()).config
    assert sorted(config.module_instances) == ["", 'module.each["a"]', 'module.each["b"]', "module.m"]


def test_a_for_each_reading_its_own_instances_is_a_cycle_at_its_line(tmp_path):
    text = 'resource "local_directory" "d" {\n  for_each = { for k, v in resource.local_directory.d : k => 1 }\n  path     = "x"\n}\n'
    (error,) = open_errors(tmp_path, text)
    assert "main.zp.hcl:2:3: error: the for_each of resource.local_directory.d reads its own instances" in error


def test_a_module_whose_input_reads_its_own_output_for_a_for_each_inside_is_a_cycle(tmp_path):
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "main.zp.hcl").write_text('variable "x" {}\n' + STEP.replace("steps/s.py", "../steps/s.py") % "for_each = var.x"
                                                + 'output "names" { value = toset(["a"]) }\n')
    (error,) = open_errors(tmp_path, 'module "m" {\n  source = "./m"\n  x      = module.m.names\n}\n')
    assert "main.zp.hcl:1:1: error: module.m, through a count or for_each inside it, reads its own instances" in error


SCORE = 'pipeline "fit" {\n  step "train" {\n    source = "../steps/s.py:f"\n  }\n}\noutput "score" { value = step.train.outputs.output }\n'


def test_a_step_reading_each_value_waits_for_what_its_for_each_read(tmp_path):
    # each.value holds the module's step output: the step must run after that step, as in
    # Terraform, where a block depends on everything its for_each refers to
    from zplan.graph.build import build

    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "main.zp.hcl").write_text(SCORE)
    text = STEP % "for_each = { x = module.m.score }\n    inputs   = { x = each.value }" + 'module "m" {\n  source = "./m"\n}\n'
    config = Project.open(write(tmp_path, text), Options(), ProviderRegistry()).config
    assert build(config).ancestors('pipeline.p.step.s["x"]') == {"module.m.pipeline.fit.step.train"}


def test_what_a_module_reads_in_its_for_each_comes_before_everything_in_it(tmp_path):
    from zplan.graph.build import build

    for name, text in {"m": SCORE, "n": 'variable "x" {}\n' + STEP.replace("steps/s.py", "../steps/s.py") % "inputs = { x = var.x }"}.items():
        (tmp_path / name).mkdir()
        (tmp_path / name / "main.zp.hcl").write_text(text)
    text = 'module "m" {\n  source = "./m"\n}\nmodule "n" {\n  for_each = { a = module.m.score }\n  source   = "./n"\n  x        = each.value\n}\n'
    config = Project.open(write(tmp_path, text), Options(), ProviderRegistry()).config
    assert build(config).ancestors('module.n["a"].pipeline.p.step.s') == {"module.m.pipeline.fit.step.train"}


def test_a_step_output_reaching_params_through_each_value_says_to_pass_it_in_inputs(tmp_path):
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "main.zp.hcl").write_text(SCORE)
    text = STEP % "for_each = { x = module.m.score }\n    params   = { x = each.value }" + 'module "m" {\n  source = "./m"\n}\n'
    (error,) = validation_errors(tmp_path, text)
    assert 'step "s["x"]": params cannot hold a step output (step.train.outputs.output)' in error
    assert "inputs" in error and "StepOutputRef" not in error
