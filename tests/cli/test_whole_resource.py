"""A resource read as a whole (``resource.T.N``, as Terraform's ``aws_s3_bucket.b``) holds every
attribute it has: known after apply in the plan, then the applied values; its sensitive attributes
make the whole value sensitive."""

from __future__ import annotations

import json

from tests.cli.helpers import Project

DIRECTORY = 'resource "local_directory" "d" {\n  path = "out"\n}\n'
SECRET_FILE = 'resource "local_file" "f" {\n  path = "f.txt"\n  sensitive_content = "hunter2-secret"\n}\n'


def test_a_whole_resource_output_holds_its_attributes(tmp_path):
    p = Project(tmp_path / "p")
    p.write("main.zp.hcl", DIRECTORY + 'output "dir" {\n  value = resource.local_directory.d\n}\n')
    planned = p.plan_json()["outputs"]["dir"]
    assert planned["known"] is False  # its id and created_at are known only after apply
    p.apply()
    value = json.loads(p.ok("output", "-json").out)["dir"]["value"]
    assert value["path"] == "out" and value["id"] == str(p.path("out")) and value["force_destroy"] is False
    assert "No changes" in p.ok("plan").out


def test_a_whole_resource_given_to_a_module_comes_back_whole(tmp_path):
    p = Project(tmp_path / "p")
    p.write("m/m.zp.hcl", 'variable "dir" {}\noutput "dir" {\n  value = var.dir\n}\n')
    p.write("main.zp.hcl", DIRECTORY + 'module "m" {\n  source = "./m"\n  dir = resource.local_directory.d\n}\n'
            'output "dir" {\n  value = module.m.dir\n}\n')
    p.apply()
    assert json.loads(p.ok("output", "-json").out)["dir"]["value"]["path"] == "out"


def test_a_whole_resource_with_a_sensitive_attribute_is_sensitive(tmp_path):
    p = Project(tmp_path / "p")
    p.write("main.zp.hcl", SECRET_FILE + 'output "f" {\n  value = resource.local_file.f\n}\n')
    refused = p.run("plan")
    assert refused.code == 1 and "main.zp.hcl:5" in refused.err and "Output refers to sensitive values" in refused.err
    p.replace("main.zp.hcl", "value = resource.local_file.f\n", "value = resource.local_file.f\n  sensitive = true\n")
    p.apply()
    assert "f = <sensitive>" in p.ok("output").out
    assert "hunter2-secret" not in p.read(".zplan/state.json")
