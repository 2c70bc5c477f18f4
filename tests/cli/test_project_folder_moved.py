"""A project folder moved (or renamed) after an apply: its steps stay cached (artifacts are found by
digest), and every view names where the artifacts are now, not where they were when recorded."""

from __future__ import annotations

import shutil

import zplan
from tests.cli.helpers import Project, zplan as run_zplan

HCL = """
pipeline "p" {
  step "load" {
    source = "s.py:load"
    inputs = { f = "data/rows.txt" }
  }
  step "count" {
    source = "s.py:count"
    inputs = { rows = step.load.outputs.output }
  }
}
"""


def test_views_of_a_moved_project_name_its_artifacts_where_they_are_now(tmp_path):
    old = Project(tmp_path / "before")
    old.write("main.zp.hcl", HCL)
    old.write("s.py", "def load(f):\n    return f.read_text().split()\n\ndef count(rows):\n    return len(rows)\n")
    old.write("data/rows.txt", "a\nb\n")
    old.apply()
    shutil.move(old.root, tmp_path / "after")
    p = Project(tmp_path / "after")

    assert "Steps: 0 to run, 2 cached." in p.ok("plan").out
    shown = p.ok("runs", "show", "1").out + p.ok("state", "show", "pipeline.p.step.count").out
    assert (tmp_path / "after/.zplan").as_uri() in shown, shown
    assert (tmp_path / "before").as_uri() not in shown, shown
    artifact = zplan.open(p.root).artifact("pipeline.p.step.count")
    assert artifact.uri.startswith((tmp_path / "after/.zplan").as_uri()) and artifact.load() == 2


PATHS_HCL = """
resource "local_file" "note" {
  path    = "${path.root}/note.txt"
  content = "root ${path.root}"
}

module "m" {
  source = "./modules/m"
}

pipeline "p" {
  step "where" {
    source = "s.py:where"
    params = { root = path.root, module = path.module }
  }
}
"""

PATHS_MODULE_HCL = """
resource "local_file" "out" {
  path    = "${path.module}/out.txt"
  content = templatefile("${path.module}/t.tpl", { name = file("${path.module}/name.txt") })
}

pipeline "q" {
  step "where" {
    source = "s.py:where"
    params = { root = path.root, module = path.module, named = fileexists("${path.module}/name.txt") }
  }
}
"""


def test_values_built_from_path_root_and_path_module_are_relative_and_find_their_files_from_anywhere(tmp_path):
    # as in Terraform they are "." and "modules/m": what a step or a resource gets from them is the same
    # on another machine (or in CI), and the files they name are found wherever zplan runs from
    p = Project(tmp_path / "before")
    p.write("main.zp.hcl", PATHS_HCL)
    p.write("s.py", "def where(root, module):\n    return [root, module]\n")
    p.write("modules/m/main.zp.hcl", PATHS_MODULE_HCL)
    p.write("modules/m/s.py", "def where(root, module, named):\n    return [root, module, named]\n")
    p.write("modules/m/t.tpl", "hello ${name}")
    p.write("modules/m/name.txt", "world")
    applied = run_zplan(p.path("modules/m"), "-chdir=../..", "apply", "-auto-approve")
    assert applied.code == 0, str(applied)
    assert p.read("modules/m/out.txt") == "hello world" and p.read("note.txt") == "root ."
    project = zplan.open(p.root)
    assert project.artifact("pipeline.p.step.where").load() == [".", "."]
    assert project.artifact("module.m.pipeline.q.step.where").load() == [".", "modules/m", True]
    assert p.run("plan", "-detailed-exitcode").code == 0  # nothing to change

    shutil.move(p.root, tmp_path / "after")
    assert "Steps: 0 to run, 2 cached." in Project(tmp_path / "after").ok("plan").out


def test_a_local_folder_recorded_under_the_absolute_path_path_root_gave_before_is_kept(tmp_path):
    # an earlier zplan gave path.root as this machine's folder; the folder it recorded is the one now
    # configured as "./reports", so it is neither replaced nor emptied (force_destroy would delete its files)
    p = Project(tmp_path)
    declared = 'resource "local_directory" "reports" {\n  path          = "%s/reports"\n  force_destroy = true\n}\n'
    p.write("main.zp.hcl", declared % tmp_path)
    p.apply()
    p.write("reports/report.txt", "kept")
    p.write("main.zp.hcl", declared % "${path.root}")
    assert p.run("plan", "-detailed-exitcode").code == 0  # no changes
    p.apply()
    assert p.read("reports/report.txt") == "kept"


LOCAL_HCL = """
resource "local_directory" "reports" {
  path          = "reports"
  force_destroy = true
}

resource "local_file" "note" {
  path    = "note.txt"
  content = "note"
}

resource "local_sqlite_database" "db" {
  path = "db.sqlite"
}
"""


def test_a_copy_of_a_project_reads_and_destroys_its_own_local_files_never_the_originals(tmp_path):
    # a relative path is in the project folder (as Terraform reads a local_file's filename): the copy's
    # destroy must not empty the original's folders through the absolute ids recorded there
    original = Project(tmp_path / "original")
    original.write("main.zp.hcl", LOCAL_HCL)
    original.apply()
    original.write("reports/report.txt", "precious")
    copy = original.clone(tmp_path / "copy")
    original.path("note.txt").unlink()
    assert "will be created" not in copy.ok("plan").out  # the copy's own file is there
    copy.ok("destroy", "-auto-approve")
    assert not any(copy.path(name).exists() for name in ("reports", "note.txt", "db.sqlite"))
    assert original.read("reports/report.txt") == "precious" and original.path("db.sqlite").is_file()
