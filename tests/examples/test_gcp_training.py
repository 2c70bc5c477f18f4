"""examples/gcp-training's deploy step: pulumi-gcp cannot put a model on a Vertex endpoint,
so a step does it with the Vertex SDK, and only where the artifacts are on Cloud Storage."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from sklearn.linear_model import LogisticRegression

from zplan import runtime

DEPLOY = Path(__file__).resolve().parents[2] / "examples" / "gcp-training" / "steps" / "deploy.py"


def load_deploy():
    spec = importlib.util.spec_from_file_location("gcp_training_deploy", DEPLOY)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.deploy


def test_on_the_local_stack_the_deploy_step_deploys_nothing_and_says_so(tmp_path: Path) -> None:
    deploy = load_deploy()
    model = LogisticRegression().fit([[0.0], [1.0]], [0, 1])
    ctx = runtime.StepContext("pipeline.training.step.deploy", 1, tmp_path, f"file://{tmp_path}/artifacts", tmp_path / "scratch")
    with runtime.running(ctx):
        result = deploy(model, endpoint="wine-classifier-dev", project="acme-ml", region="europe-west1",
                        image="europe-docker.pkg.dev/vertex-ai/prediction/sklearn-cpu.1-3:latest", machine_type="n1-standard-2")
    assert result.startswith("not deployed: the artifact store file://") and "gcp stack" in result
    assert "google.cloud.aiplatform" not in sys.modules  # the Vertex SDK is not even imported
    assert not (tmp_path / "artifacts").exists()
