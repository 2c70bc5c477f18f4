"""A project folder moved (or renamed) after an apply: its steps stay cached (artifacts are found by
digest), and every view names where the artifacts are now, not where they were when recorded."""

from __future__ import annotations

import shutil

import zplan
from tests.cli.helpers import Project

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
