"""A Python step whose output is not a TFX artifact, given to a TFX input: the step fails
with a message naming the input and the types, nothing is stored."""

from __future__ import annotations

import pytest

pytest.importorskip("tfx")

from tests.cli.helpers import Project  # noqa: E402

CONFIG = """\
stack "local" {
  orchestrator   = "local"
  artifact_store = "file://.zplan/artifacts"
  metadata_store = "sqlite:///.zplan/metadata.db"
}
pipeline "p" {
  step "rows" { source = "steps.py:rows" }
  step "stats" {
    tfx    = "StatisticsGen"
    inputs = { examples = step.rows.outputs.output }
  }
}
"""


def test_a_python_output_where_tfx_needs_examples(tmp_path):
    project = Project(tmp_path)
    project.write("main.zp.hcl", CONFIG)
    project.write("steps.py", "def rows():\n    return {'a': [1, 2]}\n")
    result = project.run("apply", "-auto-approve", timeout=600)
    assert result.code == 1, result
    assert "input examples of StatisticsGen needs a TFX Examples artifact, got dict" in result.text
    assert "pipeline.p.step.stats" in result.text
