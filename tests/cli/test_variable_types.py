"""Typed variables with validation, and the functions reading files, through the command line."""

from __future__ import annotations

import json

import pytest

from tests.cli.helpers import Project, cli_env, reasons, steps_by_action
from tests.cli.test_errors import assert_user_error

TYPED = """
variable "model" {
  type = object({
    name   = string
    layers = list(number)
    lr     = optional(number, 0.1)
    tags   = optional(set(string), [])
  })
  default = { name = "mlp", layers = [8, 4] }

  validation {
    condition     = length(var.model.layers) > 0
    error_message = "model.layers must name at least one layer"
  }
}

variable "epochs" {
  type    = number
  default = 3

  validation {
    condition     = var.epochs >= 1 && var.epochs <= 100
    error_message = "epochs must be between 1 and 100"
  }
}

locals {
  header = templatefile("templates/header.tpl", { name = var.model.name, layers = var.model.layers })
  notes  = fileexists("notes.txt") ? trimspace(file("notes.txt")) : "none"
}

pipeline "numbers" {
  step "report" {
    source = "steps/report.py:report"
    inputs = { raw = "data/numbers.txt" }
    params = { header = local.header, epochs = var.epochs, lr = var.model.lr, tags = var.model.tags }
  }
}

output "model" {
  value = var.model
}

output "functions" {
  value = {
    set      = toset(["b", "a", "b"])
    map      = tomap({ a = 1, b = "x" })
    keys     = keys({ b = 1, a = 2 })
    values   = values({ b = 1, a = 2 })
    range    = range(1, 7, 2)
    zipmap   = zipmap(["a", "b"], [1, 2])
    flatten  = flatten([[1, [2]], 3])
    distinct = distinct([1, 1, 2])
    sum      = sum([1, 2.5])
    try      = try(var.model.missing, "fallback")
    can      = can(var.model.missing)
    notes    = local.notes
  }
}
"""

REPORT = '''
from pathlib import Path


def report(raw: Path, header: str, epochs: int, lr: float, tags: list) -> str:
    return f"{header}epochs={epochs} lr={lr} tags={tags} n={len(raw.read_text().split())}"
'''


@pytest.fixture
def typed(project: Project) -> Project:
    project.write("main.zp.hcl", project.read("main.zp.hcl").split("pipeline ")[0].split('variable "c"')[0]
                  + STACK + TYPED)
    project.write("steps/report.py", REPORT)
    project.write("templates/header.tpl", "model ${name}: %{ for l in layers }${l} %{ endfor }\n")
    return project


STACK = """
stack "local" {
  orchestrator   = "local"
  artifact_store = "file://.zplan/artifacts"
  metadata_store = "sqlite:///.zplan/metadata.db"
}
"""


def _params(doc: dict) -> dict:
    return next(s for s in doc["steps"] if s["step"] == "report")["params"]


def test_values_are_converted_to_their_types_from_every_source(typed: Project):
    doc = typed.plan_json("-var", 'model={ name = "cnn", layers = ["16", 8], tags = ["b", "a", "b"], unused = 1 }')
    assert _params(doc) == {"header": "model cnn: 16 8 \n", "epochs": 3, "lr": 0.1, "tags": ["a", "b"]}
    assert doc["outputs"]["model"]["value"] == {"name": "cnn", "layers": [16, 8], "lr": 0.1, "tags": ["a", "b"]}

    doc = json.loads(typed.ok("plan", "-format", "json", env=cli_env(ZPLAN_VAR_epochs="12")).out)
    assert _params(doc)["epochs"] == 12
    typed.write("prod.zpvars", 'model = { name = "prod", layers = [2], lr = "0.5" }\n')
    assert _params(typed.plan_json("-var-file", "prod.zpvars"))["lr"] == 0.5


def test_every_function_of_the_language(typed: Project):
    typed.write("notes.txt", "  from a file \n")
    assert typed.plan_json()["outputs"]["functions"]["value"] == {
        "set": ["a", "b"], "map": {"a": "1", "b": "x"}, "keys": ["a", "b"], "values": [2, 1], "range": [1, 3, 5],
        "zipmap": {"a": 1, "b": 2}, "flatten": [1, 2, 3], "distinct": [1, 2], "sum": 3.5, "try": "fallback",
        "can": False, "notes": "from a file",
    }


def test_a_value_that_does_not_fit_names_the_path_inside_it(typed: Project):
    result = typed.run("plan", "-var", 'model={ name = "x", layers = [1, "wide"] }')
    assert_user_error(result, 'main.zp.hcl:', 'invalid value for variable "model" (from -var model): var.model.layers[1]: a number is required, got "wide"')
    assert_user_error(typed.run("plan", "-var", "epochs=many"), 'var.epochs: a number is required, got "many"')
    assert_user_error(typed.run("plan", "-var", "model={ layers = [1] }"), 'var.model: attribute "name" is required')


def test_a_failing_validation_is_one_error_with_its_line_and_message(typed: Project):
    line = typed.read("main.zp.hcl").splitlines().index("    condition     = var.epochs >= 1 && var.epochs <= 100")  # the line after the block's
    result = typed.run("plan", env=cli_env(ZPLAN_VAR_epochs="0"))
    assert_user_error(result, f"main.zp.hcl:{line}:", 'invalid value for variable "epochs" (from environment variable ZPLAN_VAR_epochs): epochs must be between 1 and 100')
    assert_user_error(typed.run("validate", "-var", "model={ name = \"x\", layers = [] }"), "model.layers must name at least one layer")


def test_a_bad_type_or_default_is_reported_when_the_configuration_loads(typed: Project):
    typed.replace("main.zp.hcl", "    lr     = optional(number, 0.1)", "    lr     = optional(numbr, 0.1)")
    line = 1 + typed.read("main.zp.hcl").splitlines().index("    lr     = optional(numbr, 0.1)")
    assert_user_error(typed.run("validate"), f"main.zp.hcl:{line}:23", 'invalid type: "numbr" is not a type')
    typed.replace("main.zp.hcl", "optional(numbr, 0.1)", "optional(number, 0.1)")
    typed.replace("main.zp.hcl", "  default = 3\n", '  default = "three"\n')
    assert_user_error(typed.run("validate"), 'the default of variable "epochs" does not fit its type number')


def test_an_edited_template_reruns_the_step_and_makes_a_saved_plan_stale(typed: Project):
    typed.apply()
    assert steps_by_action(typed.plan_json())["cached"] == {"report"}

    typed.write("templates/header.tpl", "Model ${name} (${length(layers)} layers)\n")
    doc = typed.plan_json()
    assert steps_by_action(doc)["run"] == {"report"}
    assert any("header" in reason for reason in reasons(doc)["report"]), reasons(doc)

    typed.ok("plan", "-out", "saved.plan")
    typed.write("templates/header.tpl", "edited after the plan ${name}\n")
    assert_user_error(typed.run("apply", "saved.plan"), "saved plan is stale: configuration file templates/header.tpl changed")


def test_a_missing_template_is_an_error_at_the_calling_line(typed: Project):
    typed.path("templates/header.tpl").unlink()
    assert_user_error(typed.run("plan"), "main.zp.hcl:", 'templatefile(): no file "templates/header.tpl"')


def test_a_whole_number_is_one_value_however_it_is_written(typed: Project):
    # 12 and 12.0 are one number, as in Terraform: the key and the value the step gets are the same
    typed.write("report.zp.hcl", 'output "report" {\n  value = step.report.outputs.output\n}\n')
    typed.replace("main.zp.hcl", "optional(number, 0.1)", "optional(number, 2.0)")
    typed.apply("-var", "epochs=12")
    assert "epochs=12 lr=2 " in json.loads(typed.ok("output", "-json").out)["report"]["value"]

    assert "No changes." in typed.ok("plan", "-var", "epochs=12.0").out
    assert "No changes." in typed.ok("plan", "-var", "epochs=1.2e1", "-var", "model={ name = \"mlp\", layers = [8.0, 4], lr = 2 }").out
    assert "No changes." in typed.ok("plan", env=cli_env(ZPLAN_VAR_epochs="12.0")).out
    typed.write("zplan.zpvars", "epochs = 12.0\n")
    assert "No changes." in typed.ok("plan").out
    typed.ok("plan", "-out", "saved.plan")
    typed.ok("apply", "saved.plan")
    assert _params(typed.plan_json())["epochs"] == 12 and isinstance(_params(typed.plan_json())["epochs"], int)
    assert "epochs=12 lr=2 " in json.loads(typed.ok("output", "-json").out)["report"]["value"]
