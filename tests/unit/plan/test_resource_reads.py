"""Reading an attribute a resource type does not have is an error at the reference, as Terraform's
"Unsupported attribute", instead of a value known after apply forever."""

from __future__ import annotations

import pytest

from zplan.diags import DiagnosticError
from zplan.operations.validate import validate_project
from zplan.project import Options, Project
from zplan.provider import ProviderRegistry

DIRECTORY = 'resource "local_directory" "d" {\n  path = "x"\n}\n'
STEP = 'pipeline "p" {\n  step "s" {\n    source = "steps/s.py:f"\n    params = { x = %s }\n  }\n}\n'


def check(tmp_path, text: str, module: str | None = None) -> list[str]:
    (tmp_path / "steps").mkdir(exist_ok=True)
    (tmp_path / "steps" / "s.py").write_text("def f(x=1):\n    return x\n")
    (tmp_path / "main.zp.hcl").write_text(text)
    if module is not None:
        (tmp_path / "m2").mkdir(exist_ok=True)
        (tmp_path / "m2" / "m.zp.hcl").write_text(module)
    try:
        validate_project(Project.open(tmp_path, Options(), ProviderRegistry()))
    except DiagnosticError as exc:
        return [str(d) for d in exc.diagnostics]
    return []


@pytest.mark.parametrize("reader", [
    'output "o" {\n  value = resource.local_directory.d.nope\n}\n',
    STEP % "resource.local_directory.d.nope",
    "locals {\n  unused = resource.local_directory.d.nope\n}\n",
])
def test_an_attribute_the_type_lacks_is_an_error_listing_those_it_has(tmp_path, reader):
    (error,) = check(tmp_path, DIRECTORY + reader)
    assert 'unsupported attribute: resource.local_directory.d has no attribute "nope"' in error
    assert error.split(": error")[0].endswith(("main.zp.hcl:5:11", "main.zp.hcl:7:20", "main.zp.hcl:5:12"))
    assert "local_directory has: created_at, force_destroy, id, mode, path" in error


def test_an_instance_read_is_checked_and_a_close_name_suggested(tmp_path):
    text = 'resource "local_directory" "d" {\n  for_each = { a = 1 }\n  path = each.key\n}\noutput "o" { value = resource.local_directory.d["a"].pth }\n'
    (error,) = check(tmp_path, text)
    assert 'has no attribute "pth"' in error and 'did you mean "path"?' in error


def test_inputs_and_computed_attributes_can_be_read(tmp_path):
    reads = 'output "a" { value = resource.local_directory.d.path }\noutput "b" { value = resource.local_directory.d.created_at }\n'
    assert check(tmp_path, DIRECTORY + reads) == []


def test_a_read_inside_a_module_names_the_call(tmp_path):
    module = DIRECTORY + 'output "o" { value = resource.local_directory.d.nope }\n'
    (error,) = check(tmp_path, 'module "a" {\n  source = "./m2"\n}\n', module)
    assert "m2/m.zp.hcl:4:22" in error and 'has no attribute "nope"' in error
    assert '(in module "a" called at main.zp.hcl:1:1)' in error
