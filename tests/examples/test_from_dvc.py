"""examples/from-dvc: a pipeline in DVC's shape (dvc.yaml, params.yaml, scripts reading and writing files),
converted by `zplan import-dvc` into a temporary copy, then planned, applied and edited the ways DVC users do."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.helpers import copy_project, ran, reasons, steps_by_action

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "from-dvc"


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    project = copy_project(EXAMPLE, tmp_path_factory.mktemp("from-dvc") / "project")
    project.path("dvc.zp.hcl").unlink()
    result = project.ok("import-dvc")
    assert "wrote dvc.zp.hcl" in result.out
    return project


def test_the_converted_pipeline_is_the_one_shipped_with_the_example(converted):
    assert converted.read("dvc.zp.hcl") == (EXAMPLE / "dvc.zp.hcl").read_text()


def test_the_converted_pipeline_runs_reruns_what_changed_and_checks_out_its_outs(converted, tmp_path):
    project = converted.clone(tmp_path / "p")
    first = project.apply()
    assert ran(first) == {"prepare", "featurize", "train", "evaluate"}, str(first)
    metrics = json.loads(project.read("eval/metrics.json"))
    assert 0 <= metrics["accuracy"] <= 1 and metrics["test_rows"] > 0
    assert json.loads(project.ok("output", "-json").out)["evaluate_metrics"]["value"] == metrics
    assert project.path("model.json").is_file() and project.path("data/features/train.json").is_file()
    assert steps_by_action(project.plan_json())["run"] == set()

    project.replace("params.yaml", "smoothing: 1.0", "smoothing: 0.5")
    doc = project.plan_json()
    assert steps_by_action(doc)["run"] == {"train", "evaluate"}
    assert reasons(doc)["train"] == ["params.yaml: train.smoothing 1.0 -> 0.5"]
    project.replace("params.yaml", "smoothing: 0.5", "smoothing: 1.0")

    project.write("src/train.py", project.read("src/train.py") + "\n# a comment changes no code\n")
    project.write("src/text.py", project.read("src/text.py").replace("len(w) > 2", "len(w) > 3"))
    doc = project.plan_json()
    assert steps_by_action(doc)["run"] == {"featurize", "train", "evaluate"}, reasons(doc)
    assert reasons(doc)["featurize"] == ["code changed (text.words in src/text.py)"]

    project.path("model.json").unlink()
    project.apply()
    assert project.path("model.json").is_file(), "an out deleted from the workspace comes back"
