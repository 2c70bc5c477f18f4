"""A module used as a whole value (``module.m``, ``module.m["k"]``) is an object holding every output, as in
Terraform; reading one output of it reads only that one (and only its sensitivity counts)."""

from __future__ import annotations

import pytest

from zplan.config.values import UNKNOWN
from zplan.project import Options, Project
from zplan.provider import ProviderRegistry

MODULE = '''variable "name" {}
variable "pw" {
  default   = "hunter2"
  sensitive = true
}
output "name" { value = var.name }
output "size" { value = length(var.name) }
output "pw" {
  value     = var.pw
  sensitive = true
}
'''
ROOT = '''module "one" {
  source = "./m"
  name   = "solo"
}
module "each" {
  for_each = { a = "aa", b = "bbb" }
  source   = "./m"
  name     = each.value
}
module "counted" {
  count  = 1
  source = "./m"
  name   = "c"
}
'''
OUTPUTS = {
    "whole": ("module.one", {"name": "solo", "size": 4, "pw": "hunter2"}, True),
    "instance": ('module.each["a"]', {"name": "aa", "size": 2, "pw": "hunter2"}, True),
    "counted": ("module.counted", [{"name": "c", "size": 1, "pw": "hunter2"}], True),
    "length": ("length(module.one)", 3, True),
    "keys": ("keys(module.one)", ["name", "pw", "size"], True),
    "jsonencode": ('jsonencode(module.each["b"])', '{"name":"bbb","pw":"hunter2","size":3}', True),
    "one_output": ("module.one.size", 4, False),
    "one_output_of_each": ("{ for k, m in module.each : k => m.size }", {"a": 2, "b": 3}, False),
    "values": ("[for m in values(module.each) : m.name]", ["aa", "bbb"], False),
    # an instance read from the map of a for_each module, as a whole: it was empty in functions
    "keys_of_each": ("[for k, m in module.each : keys(m)]", [["name", "pw", "size"]] * 2, True),
    "jsonencode_each": ("jsonencode(module.each)", '{"a":{"name":"aa","pw":"hunter2","size":2},"b":{"name":"bbb","pw":"hunter2","size":3}}', True),
    "merge_each": ('merge(module.each["a"], {})', {"name": "aa", "size": 2, "pw": "hunter2"}, True),
}


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Project:
    root = tmp_path_factory.mktemp("objects")
    (root / "m").mkdir()
    (root / "m" / "main.zp.hcl").write_text(MODULE)
    (root / "main.zp.hcl").write_text(ROOT + "".join(f'output "{name}" {{\n  value = {expr}\n}}\n' for name, (expr, _, _) in OUTPUTS.items()))
    return Project.open(root, Options(), ProviderRegistry())


@pytest.mark.parametrize("name", sorted(OUTPUTS))
def test_a_module_as_a_value_holds_every_output(project, name):
    _, expected, sensitive = OUTPUTS[name]
    value, marked = project.scope().eval_marked(project.config.outputs[name].expr)
    assert value == expected and marked is sensitive


def test_a_module_instance_holding_an_output_known_after_apply_gives_an_unknown_result(tmp_path):
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "main.zp.hcl").write_text('resource "local_directory" "d" {\n  path = "d"\n}\noutput "id" { value = resource.local_directory.d.id }\noutput "n" { value = 1 }\n')
    outputs = {"j": "jsonencode(module.each)", "sorted": "[for k, m in module.each : sort(values(m))]", "keys": "[for k, m in module.each : keys(m)]"}
    (tmp_path / "main.zp.hcl").write_text('module "each" {\n  for_each = { a = 1 }\n  source   = "./m"\n}\n'
                                          + "".join(f'output "{name}" {{ value = {expr} }}\n' for name, expr in outputs.items()))
    project = Project.open(tmp_path, Options(), ProviderRegistry())
    values = {name: project.scope().eval(output.expr) for name, output in project.config.outputs.items()}
    assert values == {"j": UNKNOWN, "sorted": [UNKNOWN], "keys": [["id", "n"]]}
