"""`zplan validate` (and `plan`) list every step and resource in error at once, as Terraform does,
and validate needs no variable values."""

from __future__ import annotations

import pytest

from zplan.diags import DiagnosticError
from zplan.operations.opening import ProjectArgs
from zplan.operations.validate import validate

STEPS = "def a(x=1):\n    return x\n\ndef b(y=1, up=None):\n    return y\n"


def errors(root, hcl: str, **args) -> list[str]:
    (root / "steps.py").write_text(STEPS)
    (root / "main.zp.hcl").write_text(hcl)
    try:
        validate(ProjectArgs(root, **args))
    except DiagnosticError as exc:
        return [f"{d.range.line if d.range else '-'}: {d.summary}" for d in exc.diagnostics]
    return []


def test_every_step_in_error_is_listed_in_file_order(tmp_path):
    found = errors(tmp_path, """pipeline "p" {
  step "a" {
    source = "steps.py:a"
    params = { nope = 1 }
  }
  step "b" {
    source = "steps.py:b"
    params = { also = 2 }
  }
  step "c" {
    source = "steps.py:missing"
  }
}
resource "local_directory" "d" {
  path = 3
  mode = "99"
}
""")
    assert [f.split(":")[0] for f in found] == ["4", "8", "11", "16"], found  # the mode the provider refuses, at its line
    assert 'has no parameter "nope"' in found[0] and 'has no parameter "also"' in found[1] and "no function 'missing'" in found[2]


def test_what_reads_a_step_in_error_is_not_reported_again(tmp_path):
    found = errors(tmp_path, """pipeline "p" {
  step "a" {
    source = "steps.py:a"
    params = { nope = 1 }
  }
  step "b" {
    source = "steps.py:b"
    params = { also = 2 }
    inputs = { up = step.a.outputs.output }
  }
}
""")
    assert len(found) == 1 and found[0].startswith("4:"), found


def test_the_instances_of_one_block_report_its_mistake_once(tmp_path):
    found = errors(tmp_path, """pipeline "p" {
  step "a" {
    for_each = toset(["x", "y", "z"])
    source = "steps.py:a"
    params = { nope = each.key }
  }
}
""")
    assert len(found) == 1 and found[0].startswith("5: step \"a[\"x\"]\": a (steps.py:1) has no parameter \"nope\""), found


def test_validate_needs_no_variable_values(tmp_path):
    hcl = """variable "rate" {
  type = number
}
variable "token" {
  type      = string
  sensitive = true
}
pipeline "p" {
  step "a" {
    source = "steps.py:a"
    params = { x = var.rate * 2 }
  }
}
output "rate" {
  value = var.rate
}
"""
    assert errors(tmp_path, hcl) == []


def test_a_count_still_needs_its_variable(tmp_path):
    found = errors(tmp_path, 'variable "n" {\n  type = number\n}\nresource "local_directory" "d" {\n  count = var.n\n  path = "d${count.index}"\n}\n')
    assert found == ['1: no value for variable "n"'], found
    assert errors(tmp_path, (tmp_path / "main.zp.hcl").read_text(), vars=["n=2"]) == []


def test_a_mistake_every_step_shares_is_said_once(tmp_path):
    found = errors(tmp_path, 'stack "local" {\n  orchestrator = "nope"\n}\npipeline "p" {\n'
                             '  step "a" { source = "steps.py:a" }\n  step "b" { source = "steps.py:b" }\n}\n')
    assert len(found) == 1 and 'orchestrator "nope"' in found[0] and "more instance" not in found[0], found


def test_two_mistakes_at_one_line_are_both_listed(tmp_path):
    found = errors(tmp_path, 'pipeline "p" {\n  step "a" {\n    source = "steps.py:a"\n    params = { nope = 1, also = 2 }\n  }\n}\n')
    assert len(found) == 2 and all(f.startswith("4:") for f in found), found
