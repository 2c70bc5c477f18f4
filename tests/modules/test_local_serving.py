"""modules/local-serving as a project of its own: the model a sklearn-training apply
produced is given as the ``model`` variable (the artifact reference a step output
becomes), served by a real MLServer process, and checked by the smoke-test step."""

from __future__ import annotations

import json
import pickle
import socket
from pathlib import Path

import pytest

from tests.cli.helpers import Project, cli_env, copy_project
from zplan_provider_local import procs
from zplan_provider_local.serving import mlserver

ROOT = Path(__file__).resolve().parents[2]
SERVING = ROOT / "modules" / "local-serving"
SERVER = "resource.local_model_server.server"
SMOKE = "pipeline.serving.step.smoke_test"


def reference(trained: Project, step: str, output: str = "output") -> dict:
    """What a step output becomes when a resource reads it (uri, digest, materializer, path)."""
    (store,) = trained.state()["stores"].values()
    out = store["steps"][f"pipeline.training.step.{step}"]["outputs"][output]
    return {"uri": out["uri"], "digest": out["digest"], "materializer": out["materializer"],
            "path": out["uri"].removeprefix("file://")}


def hcl(value) -> str:
    return json.dumps(value).replace('":', '" =')  # a JSON object is an HCL object once ":" is "="


def sample(trained: Project) -> tuple[list, list]:
    """Five held-out rows, and what the trained model predicts for them in this process."""
    ref = reference(trained, "train")
    with open(Path(ref["path"]) / "model.pkl", "rb") as f:
        model = pickle.load(f)
    from zplan.artifacts import get_materializer

    split = reference(trained, "split", "test")  # read by a step: stored in the form its materializer names
    test = get_materializer(split["materializer"]).load(Path(split["path"]))
    rows = test.drop(columns=["target"]).head(5).to_numpy(dtype=float).tolist()
    return rows, model.predict(rows).tolist()


def serving_project(root: Path, model: dict, rows: list, expected: list | None = None) -> tuple[Project, dict]:
    project = copy_project(SERVING, root)
    env = cli_env(ZPLAN_VAR_model=hcl(model), ZPLAN_VAR_sample=hcl(rows))
    if expected is not None:
        env["ZPLAN_VAR_expected"] = hcl(expected)
    return project, env


def test_the_module_plans_the_server_and_its_smoke_test(trained, tmp_path: Path) -> None:
    training, _ = trained
    rows, _ = sample(training)
    model = reference(training, "train")
    project, env = serving_project(tmp_path / "serving", model, rows)
    project.ok("validate", env=env)
    doc = json.loads(project.ok("plan", "-format", "json", env=env).out)
    (server,) = doc["resources"]
    assert (server["address"], server["action"]) == (SERVER, "create")
    assert server["after"]["model"] == model and server["after"]["name"] == "model"
    assert "port" not in server["after"] and "port" in server["after_unknown"]  # null: a free port
    (smoke,) = doc["steps"]
    assert smoke["address"] == SMOKE and smoke["action"] == "run"
    assert smoke["params"]["rows"] == rows and smoke["params"]["url"] is None  # the url: known once the server runs
    assert {n for n, o in doc["outputs"].items() if not o["known"]} == {"url", "infer_url", "model_digest", "predictions"}


@pytest.mark.slow
def test_applied_the_model_is_served_and_the_smoke_test_gets_its_predictions(trained, tmp_path: Path) -> None:
    training, _ = trained
    rows, expected = sample(training)
    project, env = serving_project(tmp_path / "serving", reference(training, "train"), rows, expected)
    try:
        applied = project.ok("apply", "-auto-approve", env=env, timeout=900)
        assert applied.out.index(f"{SERVER}: create done") < applied.out.index(f"{SMOKE}: done")
        outputs = {k: v["value"] for k, v in project.state()["outputs"]["local"].items()}
        assert outputs["predictions"] == expected
        assert outputs["model_digest"] == reference(training, "train")["digest"]
        server = project.state()["resources"][SERVER]["attributes"]
        assert outputs["infer_url"] == f"{server['url']}/v2/models/model/infer"
        assert mlserver.infer(server["url"], "model", rows) == expected  # served, outside the apply too
        assert "No changes." in project.ok("plan", env=env).out

        wrong = [1 - p if p in (0, 1) else 0 for p in expected]
        failed = project.run("apply", "-auto-approve", env={**env, "ZPLAN_VAR_expected": hcl(wrong)}, timeout=300)
        assert failed.code == 1 and "Traceback (most recent call last)" not in failed.err
        assert f"predicted {expected}, expected {wrong}" in failed.text
    finally:
        server = project.state().get("resources", {}).get(SERVER, {}).get("attributes", {})
        destroyed = project.run("destroy", "-auto-approve", env=env, timeout=120)
    assert destroyed.code == 0, str(destroyed)
    assert not procs.is_running(server["pid"], server["start_ticks"])
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", server["port"])) != 0


def test_an_artifact_the_runtime_cannot_serve_is_one_clear_error(trained, tmp_path: Path) -> None:
    training, _ = trained
    rows, _ = sample(training)
    project, env = serving_project(tmp_path / "serving", reference(training, "split", "test"), rows)
    result = project.run("apply", "-auto-approve", env=env, timeout=300)
    assert result.code == 1 and "Traceback" not in result.err
    assert "the sklearn runtime cannot load this model" in result.text
    assert "resources" not in project.state() or project.state()["resources"] == {}
