"""examples/aws-training end to end short of the cloud: its pipeline really runs on an S3
server (moto) and the plan hands the SageMaker model the trained artifact, which pulumi-aws
receives (under Pulumi's mocks) as the artifact's S3 prefix.

The example's stack keeps its metadata in RDS; here the stack block is swapped for one
on the test bucket with local metadata, since creating the database needs the cloud."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from zplan.provider import ResourceChange
from zplan_provider_aws import TYPES
from zplan_pulumi import testing

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

ROOT = Path(__file__).resolve().parents[3]
ROLE_ARN = "arn:aws:iam::123456789012:role/zplan-sagemaker-dev"
IMAGE = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/zplan-serving-dev:1"


def zplan(project: Path, *args: str) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "zplan.cli.app", *args], cwd=project, capture_output=True, text=True,
                          env={**os.environ, "ZPLAN_NO_COLOR": "1"}, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    return proc


@pytest.fixture()
def trained(tmp_path: Path, s3_url: str) -> tuple[Path, dict]:
    """The example with the train step applied on the S3 server; its planned SageMaker model."""
    project = tmp_path / "aws"
    shutil.copytree(ROOT / "examples/aws-training", project)
    hcl = project / "main.zp.hcl"
    stack = f'stack "aws" {{\n  artifact_store = "{s3_url}"\n  metadata_store = "sqlite:///.zplan/metadata.db"\n}}'
    text, swapped = re.subn(r'stack "aws" \{.*?\n\}', stack, hcl.read_text(), flags=re.S)
    assert swapped == 1
    hcl.write_text(text)
    zplan(project, "apply", "-target", "pipeline.training.step.train", "-auto-approve")
    doc = json.loads(zplan(project, "plan", "--format", "json").stdout)
    return project, doc


def test_the_plan_gives_the_sagemaker_model_the_trained_artifact(trained, s3_url: str) -> None:
    _, doc = trained
    model = next(r for r in doc["resources"] if r["address"] == "resource.aws_sagemaker_model.classifier")
    train = next(s for s in doc["steps"] if s["address"] == "pipeline.training.step.train")
    evaluate = next(s for s in doc["steps"] if s["address"] == "pipeline.training.step.evaluate")
    assert train["action"] == "cached"
    reference = model["after"]["model"]
    assert reference["digest"] == evaluate["inputs"]["model"]["digest"]  # the model train produced
    assert reference["uri"].startswith(s3_url + "/") and reference["uri"].endswith(reference["digest"])
    assert reference["materializer"] == "sklearn.pickle"
    assert model["action"] == "create" and "model" not in model["after_unknown"]


def test_under_pulumis_mocks_the_model_data_is_the_artifacts_s3_prefix(trained) -> None:
    _, doc = trained
    planned = next(r for r in doc["resources"] if r["address"] == "resource.aws_sagemaker_model.classifier")
    # the role and the image are known once their resources exist: what apply would pass
    attrs = {**planned["after"], "execution_role_arn": ROLE_ARN, "image": IMAGE}
    tm = TYPES["aws_sagemaker_model"]
    change = ResourceChange(planned["address"], tm.type, "classifier", "create", None, attrs)
    reg, _ = testing.declared(*testing.install(), change, tm)
    container = reg.inputs["primaryContainer"]
    assert container["image"] == IMAGE and "modelDataUrl" not in container
    assert container["modelDataSource"] == {"s3DataSources": [{
        "s3Uri": planned["after"]["model"]["uri"] + "/", "s3DataType": "S3Prefix", "compressionType": "None"}]}
