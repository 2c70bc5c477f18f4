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


def test_what_is_not_converted_is_named_at_its_file_and_line(converted, tmp_path):
    """The list of what was not converted named a stage, never where it is written: a project of several
    dvc.yaml files, or a long one, left the reader to search for it. Each note starts at its file:line."""
    project = converted.clone(tmp_path / "p")
    project.write("dvc.yaml", project.read("dvc.yaml").replace(
        "      - model.json\n  evaluate:", "      - model.json\n    meta: {owner: ml}\n  evaluate:")
        + "plots:\n  - eval/plots.json\n")
    project.write("sub/dvc.yaml", "stages:\n  copy:\n    cmd: cp a.txt b.txt\n    deps:\n      - a.txt\n"
                                  "    outs:\n      - b.txt:\n          persist: true\n")
    project.write("sub/a.txt", "a\n")
    shown = project.ok("import-dvc", "-force").out
    notes = shown.split("Not converted")[1].splitlines()[1:-1]
    assert notes == ["  - dvc.yaml:31: stage train: `meta:` is not converted (zplan keeps no free-form stage metadata)",
                     "  - dvc.yaml:41: top-level `plots:` is not converted (zplan draws no plots; the files stay outs of the steps writing them)",
                     "  - sub/dvc.yaml:6: stage sub/dvc.yaml:copy: out b.txt: `persist` is not converted (a step starts from an empty folder)"], shown
    assert "Traceback" not in shown
    project.ok("plan")
