"""References that name nothing: one message saying what is wrong, at file:line, naming what exists."""

from __future__ import annotations

import pytest

from zplan.diags import DiagnosticError
from zplan.operations.validate import validate_project
from zplan.project import Options, Project
from zplan.provider import ProviderRegistry

STEP = 'pipeline "p" {\n  step "s" { source = "steps/s.py:f" }\n}\n'


def validation_errors(tmp_path, text: str) -> list[str]:
    (tmp_path / "steps").mkdir(exist_ok=True)
    (tmp_path / "steps" / "s.py").write_text("def f(x=1):\n    return x\n")
    (tmp_path / "main.zp.hcl").write_text(text)
    with pytest.raises(DiagnosticError) as err:
        validate_project(Project.open(tmp_path, Options(), ProviderRegistry()))
    return [str(d) for d in err.value.diagnostics]


def test_an_output_naming_an_undeclared_step_says_so_and_lists_the_steps(tmp_path):
    (error,) = validation_errors(tmp_path, STEP + 'output "o" { value = step.nope.outputs.x }\n')
    assert 'main.zp.hcl:4:22: error: reference to undeclared step "nope"' in error
    assert "declared steps: s" in error and "cannot be used here" not in error


SWEEP = 'pipeline "q" {\n  step "a" {\n    %s\n    source = "steps/s.py:f"\n  }\n  step "b" {\n    source = "steps/s.py:f"\n    inputs = { x = %s }\n  }\n}\n'


@pytest.mark.parametrize("repeat, example", [("for_each = { a = 1 }", 'step.a["a"]'), ("count = 2", "step.a[0]")])
def test_a_fanned_out_step_without_a_key_asks_for_an_instance(tmp_path, repeat, example):
    (error,) = validation_errors(tmp_path, SWEEP % (repeat, "step.a.outputs.output"))
    assert "pipeline.q.step.a is made with" in error and "so name one of its instances" in error
    assert f"e.g. {example}.outputs.output, or step.a[*].outputs.output" in error
    assert 'no instance ["outputs"]' not in error


def test_a_missing_instance_is_shown_with_its_key_in_brackets(tmp_path):
    (error,) = validation_errors(tmp_path, SWEEP % ("for_each = { a = 1 }", 'step.a["zz"].outputs.output'))
    assert '"step.a["zz"].outputs.output": pipeline.q.step.a has no instance ["zz"]' in error


def chain(links: int) -> str:
    lines = [f"  l{i} = local.l{i + 1}" for i in range(links)] + [f"  l{links} = 1"]
    return STEP + "locals {\n" + "\n".join(lines) + '\n}\noutput "o" { value = local.l0 }\n'


def test_a_long_chain_of_locals_is_named_as_such_not_as_nesting(tmp_path):
    (error,) = validation_errors(tmp_path, chain(125))
    assert "a chain of more than 64 local values referring to each other is too long" in error
    assert "local.l0 -> ... -> local.l64" in error and "nested too deeply" not in error


@pytest.mark.parametrize("a", ["local.b + 1", "try(local.b, 1)", "can(local.b) ? 1 : 2", "try(local.b.x, 1)"])
def test_locals_in_a_cycle_are_an_error_naming_each_one_even_inside_try(tmp_path, a):
    # as in Terraform, try() and can() do not hide a cycle: it is a mistake in the configuration
    text = STEP + f'locals {{\n  a = {a}\n  b = {{ x = local.a }}\n}}\noutput "o" {{ value = local.a }}\noutput "p" {{ value = local.b }}\n'
    (error,) = validation_errors(tmp_path, text)
    assert "main.zp.hcl:5:3: error: values refer to each other in a cycle: local.a -> local.b -> local.a" in error
    assert "break the cycle (local.a at main.zp.hcl:5:3, local.b at main.zp.hcl:6:3)" in error


@pytest.mark.parametrize("x", ["module.m.o", "try(module.m.o, 1)", "local.a"])
def test_a_module_input_reading_its_own_output_is_a_cycle(tmp_path, x):
    # it recursed until "nested too deeply" (or, inside try(), gave the fallback)
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "main.zp.hcl").write_text('variable "x" {}\noutput "o" { value = var.x }\n')
    text = STEP + f'locals {{\n  a = module.m.o\n}}\nmodule "m" {{\n  source = "./m"\n  x      = {x}\n}}\noutput "r" {{ value = module.m.o }}\n'
    (error,) = validation_errors(tmp_path, text)
    assert "values refer to each other in a cycle: " in error and "nested too deeply" not in error
    assert "module.m.output.o at m/main.zp.hcl:2:1" in error and "module.m.var.x at main.zp.hcl:9:12" in error


def test_a_chain_of_64_locals_evaluates(tmp_path):
    (tmp_path / "main.zp.hcl").write_text(chain(63))
    (tmp_path / "steps").mkdir()
    (tmp_path / "steps" / "s.py").write_text("def f(x=1):\n    return x\n")
    validate_project(Project.open(tmp_path, Options(), ProviderRegistry()))


INDEXED = """variable "text" {
  default = "abc"
}
locals {
  lrs    = [0.1, 0.01]
  by_pos = { "0" = "first", "1" = "second" }
}
"""


def output_values(tmp_path, outputs: dict[str, str]) -> dict:
    from zplan.config import loader
    from zplan.config.scope import Scope

    text = INDEXED + "".join(f'output "{name}" {{ value = {expr} }}\n' for name, expr in outputs.items())
    (tmp_path / "main.zp.hcl").write_text(text)
    scope = Scope(loader.load(tmp_path), {"text": "abc"}, lambda address, attr: None)
    return {name: scope.eval(output.expr) for name, output in scope.config.outputs.items()}


def test_a_reference_indexes_as_terraform_converts_its_keys(tmp_path):
    # a key that spells a number indexes a list (for_each keys are text), a number names an object's key
    assert output_values(tmp_path, {"a": 'local.lrs["1"]', "b": "local.by_pos[1]", "c": "[for k, v in local.by_pos : local.lrs[k]]"}) == {
        "a": 0.01, "b": "second", "c": [0.1, 0.01]}


@pytest.mark.parametrize("expr", ["var.text[0]", "var.text.0", "local.lrs[0][0]"])
def test_a_reference_cannot_index_a_string_or_a_number(tmp_path, expr):
    with pytest.raises(DiagnosticError) as err:
        output_values(tmp_path, {"o": expr})
    assert f'main.zp.hcl:8:22: error: "{expr.replace(".0", "[0]")}": no element 0' in str(err.value)
    assert "has no elements" in str(err.value)
