"""`zplan import-dvc` on the dvc.yaml forms a converter must translate, checked on the text it writes."""

from __future__ import annotations

import pytest

from zplan import diags
from zplan.config import hcl
from zplan.operations.from_dvc import convert

DVC_YAML = """
vars:
  - custom.yaml
  - threshold: 0.5
stages:
  train:
    foreach: ${models}
    do:
      cmd: python train.py --model ${item.name} --depth ${item.depth} --lr ${train.lr} out/${key}
      deps: [train.py]
      params: [train.lr]
      outs:
        - out/${key}
  report:
    foreach: [a, b]
    do:
      cmd: echo ${item} > report-${item}.txt
      outs:
        - report-${item}.txt
  evaluate:
    cmd:
      - python eval.py --threshold ${threshold}
      - echo done
    wd: sub
    deps: [out, eval.py]
    params:
      - other.json:
          - alpha
      - whole.yaml:
    metrics:
      - eval/metrics.json:
          cache: false
    plots: [eval/roc.csv]
    frozen: true
  grid:
    matrix:
      a: [1, 2]
    cmd: echo ${item.a} $HOME
plots:
  - eval/roc.csv
"""


@pytest.fixture
def converted(tmp_path):
    (tmp_path / "dvc.yaml").write_text(DVC_YAML)
    (tmp_path / "params.yaml").write_text("train:\n  lr: 0.1\n")
    (tmp_path / "custom.yaml").write_text("models:\n  small: {name: s, depth: 2}\n  big: {name: b, depth: 8}\n")
    return convert(tmp_path / "dvc.yaml")


def test_foreach_stages_become_for_each_with_each_key_and_value(converted):
    text = converted.text
    assert "for_each = local.custom_params.models" in text
    assert 'command  = "python train.py --model ${each.value.name} --depth ${each.value.depth} --lr ${local.params.train.lr} out/${each.key}"' in text
    assert 'outs     = ["out/${each.key}"]' in text
    assert 'for_each = toset(["a", "b"])' in text and '"echo ${each.value} > report-${each.value}.txt"' in text
    assert 'params_file("params.yaml")' in text and 'custom_params = params_file("custom.yaml")' in text
    hcl.parse_text(text, "dvc.zp.hcl")  # what it writes parses (for_each itself is planned elsewhere)


def test_what_has_no_equivalent_is_listed(converted):
    notes = "\n".join(converted.notes)
    for expected in ("2 commands are joined with && into one", "wd: sub", "all of whole.yaml as params is not converted",
                     "plots eval/roc.csv are kept as outs", "`frozen: true` is not converted", "`matrix` is not converted",
                     "top-level `plots:` is not converted"):
        assert expected in notes, notes
    assert 'params  = ["other.json:alpha"]' in converted.text
    assert 'command = ["sh", "-c", "cd sub && python eval.py --threshold ${local.vars.threshold} && echo done"]' in converted.text
    assert "$HOME" in converted.text, "a shell variable stays as it is"


def test_a_file_that_is_not_a_pipeline_is_a_clear_error(tmp_path):
    (tmp_path / "dvc.yaml").write_text("- just a list\n")
    with pytest.raises(diags.DiagnosticError, match="is not a DVC pipeline"):
        convert(tmp_path / "dvc.yaml")
    (tmp_path / "dvc.yaml").write_text("stages: [\n")
    with pytest.raises(diags.DiagnosticError, match="is not valid YAML"):
        convert(tmp_path / "dvc.yaml")
