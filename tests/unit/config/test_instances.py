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


def test_for_each_in_a_module_over_a_secret_its_caller_passed_is_refused(tmp_path):
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "main.zp.hcl").write_text('variable "names" {}\n' + STEP.replace("steps/s.py", "../steps/s.py") % "for_each = var.names")
    (error,) = open_errors(tmp_path, SECRET + 'module "m" {\n  source = "./m"\n  names  = var.tok\n}\n')
    assert "m/main.zp.hcl:4:5: error: for_each cannot use a sensitive value" in error and 'in module "m" called at main.zp.hcl:5:1' in error
