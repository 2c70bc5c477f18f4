"""``path.root`` and ``path.module`` are relative, as in Terraform ("." and "modules/x"), spelt by the module
sources that lead there; the functions that read files still find what a path built from them names."""

from __future__ import annotations

import pytest

from zplan.diags import DiagnosticError
from zplan.project import Options, Project
from zplan.provider import ProviderRegistry

ROOT = '''module "inside" {
  source = "./modules/inside"
}
module "beside" {
  source = "../shared/beside"
}
module "linked" {
  source = "./modules/linked"
}
output "root" { value = [path.root, path.module, file("${path.module}/name.txt")] }
output "inside" { value = module.inside.all }
output "beside" { value = module.beside.all }
output "linked" { value = module.linked.all }
'''
# each module reads its own name.txt through path.module, directly, through a local and back out of a
# subfolder, and its nested module's too; file("name.txt") is relative to the module's folder as before
MODULE = '''module "nested" {
  source = "./nested"
}
locals {
  name_file = "${path.module}/name.txt"
}
output "all" {
  value = [path.root, path.module, file(local.name_file), file("name.txt"), fileexists("${path.module}/name.txt"),
           templatefile("${path.module}/sub/../t.tpl", { n = 1 }), params_file("${path.module}/p.json").a, module.nested.all]
}
'''
NESTED = 'output "all" { value = [path.module, file("${path.module}/name.txt")] }\n'


def _module(folder, name: str) -> None:
    (folder / "nested").mkdir(parents=True)
    (folder / "sub").mkdir()
    (folder / "main.zp.hcl").write_text(MODULE)
    (folder / "name.txt").write_text(name)
    (folder / "t.tpl").write_text(name + " ${n}")
    (folder / "p.json").write_text('{"a": "%s"}' % name)
    (folder / "nested" / "main.zp.hcl").write_text(NESTED)
    (folder / "nested" / "name.txt").write_text(name + " nested")


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Project:
    top = tmp_path_factory.mktemp("paths")
    root = top / "project"
    _module(root / "modules" / "inside", "inside")
    _module(top / "shared" / "beside", "beside")
    _module(top / "elsewhere", "linked")
    (root / "modules" / "linked").symlink_to(top / "elsewhere")
    (root / "main.zp.hcl").write_text(ROOT)
    (root / "name.txt").write_text("root")
    return Project.open(root, Options(), ProviderRegistry())


def _output(project: Project, name: str):
    return project.scope().eval(project.config.outputs[name].expr)


def test_path_root_and_path_module_of_the_root_module_are_the_working_folder(project):
    assert _output(project, "root") == [".", ".", "root"]


@pytest.mark.parametrize("name, folder", [
    ("inside", "modules/inside"),
    ("beside", "../shared/beside"),  # a module outside the project: relative still
    ("linked", "modules/linked"),  # a link: named by the source, not by where the link points
])
def test_path_module_is_the_modules_folder_relative_to_the_project_and_files_built_from_it_are_found(project, name, folder):
    assert _output(project, name) == [".", folder, name, name, True, f"{name} 1", name, [f"{folder}/nested", f"{name} nested"]]


def test_a_file_missing_under_path_module_is_an_error_at_the_call(tmp_path):
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "main.zp.hcl").write_text('output "x" { value = file("${path.module}/nope.txt") }\n')
    (tmp_path / "main.zp.hcl").write_text('module "m" {\n  source = "./m"\n}\noutput "x" { value = module.m.x }\n')
    with pytest.raises(DiagnosticError) as caught:
        project = Project.open(tmp_path, Options(), ProviderRegistry())
        project.scope().eval(project.config.outputs["x"].expr)
    assert 'file(): no file "m/nope.txt"' in str(caught.value) and "m/main.zp.hcl:1" in str(caught.value)
