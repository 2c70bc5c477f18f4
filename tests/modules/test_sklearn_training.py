"""modules/sklearn-training as a project of its own, inputs given as variables: planned,
applied on the local stack, its model and metric read back, and cached per step."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from sklearn.metrics import accuracy_score

import zplan
from tests.cli.helpers import Project, ran
from tests.modules.conftest import training_project

STEPS = ["pipeline.training.step.split", "pipeline.training.step.train", "pipeline.training.step.evaluate"]


def plan(project: Project, env: dict, *args: str) -> dict:
    return json.loads(project.ok("plan", "-format", "json", *args, env=env).out)


def actions(doc: dict) -> dict[str, str]:
    return {s["step"]: s["action"] for s in doc["steps"]}


def test_the_module_plans_split_train_evaluate(tmp_path: Path) -> None:
    project, env = training_project(tmp_path / "training")
    project.ok("validate", env=env)
    doc = plan(project, env)
    assert [s["address"] for s in doc["steps"]] == STEPS and set(actions(doc).values()) == {"run"}
    assert doc["steps"][0]["params"] == {"target": "target", "test_size": 0.2, "seed": 42, "stratify": True}
    assert doc["steps"][1]["params"]["hyperparameters"] == {"C": 0.5, "max_iter": 1000}
    assert {n: o["known"] for n, o in doc["outputs"].items()} == {
        "model": False, "metric": False, "train_set": False, "test_set": False}


def test_applied_its_outputs_are_the_model_and_its_metric(trained, monkeypatch: pytest.MonkeyPatch) -> None:
    project, env = trained
    recorded = project.state()["outputs"]["local"]
    metric = recorded["metric"]["value"]
    assert 0.9 <= metric <= 1.0
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    results = zplan.open(project.root)
    model = results.artifact(STEPS[1]).load()
    test = results.artifact(STEPS[0], output="test").load()
    assert recorded["model"]["value"] == results.artifact(STEPS[1]).uri
    assert type(model).__name__ == "Pipeline" and type(model.steps[-1][1]).__name__ == "LogisticRegression"
    assert model.steps[-1][1].C == 0.5
    features, labels = test.drop(columns=["target"]).to_numpy(dtype=float), test["target"]
    assert accuracy_score(labels, model.predict(features)) == metric  # the metric is the model's, on the held-out rows
    source = pd.read_csv(project.path("data/wine.csv"))
    assert len(test) == round(len(source) * 0.2 + 0.49) and set(test["target"]) == set(source["target"])
    assert "No changes." in project.ok("plan", env=env).out


def test_each_step_reruns_only_for_what_it_reads(trained, tmp_path: Path) -> None:
    project, env = trained
    project = project.clone(tmp_path / "clone")
    doc = plan(project, env, "-var", "metric=f1_macro")
    assert actions(doc) == {"split": "cached", "train": "cached", "evaluate": "run"}
    doc = plan(project, env, "-var", "hyperparameters={ C = 0.1, max_iter = 1000 }")
    assert actions(doc) == {"split": "cached", "train": "run", "evaluate": "run"}
    applied = project.ok("apply", "-auto-approve", "-var", "estimator=random_forest", "-var", "hyperparameters={ n_estimators = 20 }",
                         "-var", "metric=f1_macro", env=env, timeout=300)
    assert ran(applied) == {"train", "evaluate"}
    metric = project.state()["outputs"]["local"]["metric"]["value"]
    assert 0.8 <= metric <= 1.0
    outputs = project.state()["stores"]
    (store,) = outputs.values()
    assert store["steps"][STEPS[1]]["status"] == "succeeded"


def test_a_target_the_data_lacks_fails_the_split_with_the_columns_named(tmp_path: Path) -> None:
    project, env = training_project(tmp_path / "training")
    result = project.run("apply", "-auto-approve", "-var", "target=label", env=env, timeout=300)
    assert result.code == 1 and "Traceback (most recent call last)" not in result.err
    assert "the data has no column 'label'" in result.text and "alcohol" in result.text
