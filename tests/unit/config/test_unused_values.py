"""Locals, module inputs and module outputs are checked whether anything reads them or not."""

from __future__ import annotations

import pytest

from zplan.diags import DiagnosticError
from zplan.operations.validate import validate_project
from zplan.project import Options, Project
from zplan.provider import ProviderRegistry

STEP = 'pipeline "p" {\n  step "s" { source = "steps/s.py:f" }\n}\n'
MODULE = 'variable "name" {\n  type = string\n}\noutput "greeting" { value = "hi ${var.name}" }\n'


def errors(tmp_path, text: str, module: str | None = None) -> list[str]:
    (tmp_path / "steps").mkdir(exist_ok=True)
    (tmp_path / "steps" / "s.py").write_text("def f(x=1):\n    return x\n")
    (tmp_path / "main.zp.hcl").write_text(STEP + text)
    if module is not None:
        (tmp_path / "m2").mkdir(exist_ok=True)
        (tmp_path / "m2" / "m.zp.hcl").write_text(module)
    with pytest.raises(DiagnosticError) as err:
        validate_project(Project.open(tmp_path, Options(), ProviderRegistry()))
    return [str(d) for d in err.value.diagnostics]


@pytest.mark.parametrize("value, message", [
    ("local.nope", 'reference to undeclared local value "nope"'),
    ("var.nope", 'reference to undeclared variable "nope"'),
    ("true ? 1 : local.nope", 'reference to undeclared local value "nope"'),  # a branch not taken
    ("upper(1, 2)", "upper(): expected 1 argument, got 2"),
    ("1 / 0", "division by zero"),
    ("step.s.outputs.output", '"step.s.outputs.output" cannot be used here'),
])
def test_an_unused_local_in_error_is_reported_at_its_line(tmp_path, value, message):
    (error,) = errors(tmp_path, f"locals {{\n  ok  = 1\n  bad = {value}\n}}\n")
    assert "main.zp.hcl:6:" in error and message in error


def test_every_unused_local_in_error_is_reported(tmp_path):
    found = errors(tmp_path, "locals {\n  a = upper(1, 2)\n  b = 1 / 0\n  c = local.a\n}\n")
    assert [e.split(": error")[0].rpartition("/")[2] for e in found] == ["main.zp.hcl:5:7", "main.zp.hcl:6:7"]


def test_a_cycle_of_unused_locals_is_reported_once(tmp_path):
    (error,) = errors(tmp_path, "locals {\n  a = local.b\n  b = local.c\n  c = local.a\n}\n")
    assert "main.zp.hcl:5:3" in error and "cycle: local.a -> local.b -> local.c -> local.a" in error


def test_a_local_read_only_after_apply_is_not_an_error(tmp_path):
    (tmp_path / "steps").mkdir()
    (tmp_path / "steps" / "s.py").write_text("def f(x=1):\n    return x\n")
    (tmp_path / "main.zp.hcl").write_text(
        STEP + 'resource "local_directory" "d" { path = "x" }\nlocals { id = "${resource.local_directory.d.id}/a" }\n')
    validate_project(Project.open(tmp_path, Options(), ProviderRegistry()))


@pytest.mark.parametrize("output, message", [
    ("local.nothere", 'reference to undeclared local value "nothere"'),
    ("1 / 0", "division by zero"),
])
def test_an_unused_module_output_in_error_names_the_module_file_and_the_call(tmp_path, output, message):
    (error,) = errors(tmp_path, 'module "a" {\n  source = "./m2"\n  name   = "x"\n}\n', MODULE + f'output "bad" {{ value = {output} }}\n')
    assert "m2/m.zp.hcl:5:" in error and message in error
    assert '(in module "a" called at main.zp.hcl:4:1)' in error


def test_an_unused_module_local_in_error_is_reported(tmp_path):
    (error,) = errors(tmp_path, 'module "a" {\n  source = "./m2"\n  name   = "x"\n}\n', MODULE + "locals { l = 1 / 0 }\n")
    assert "m2/m.zp.hcl:5:" in error and "division by zero" in error


@pytest.mark.parametrize("value, message", [
    ("[1]", 'invalid value for module input "name": module.a.var.name: a string is required, got list'),
    ('"x${count.index}"', '"count.index" can be used only in a block with count'),
])
def test_a_module_input_nothing_reads_is_checked_at_the_calling_line(tmp_path, value, message):
    (error,) = errors(tmp_path, f'module "a" {{\n  source = "./m2"\n  name   = {value}\n}}\n', MODULE)
    assert "main.zp.hcl:6:" in error and message in error and "in module" not in error
