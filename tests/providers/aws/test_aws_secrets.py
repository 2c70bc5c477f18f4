"""A secret set into an attribute the schema does not call sensitive (an API key in a SageMaker
model's environment, from a sensitive variable) reaches Pulumi as a secret, in the run that
applies it and in every later run that declares it again, so Pulumi's own state never holds it
in clear. zplan's real plan and apply, with Pulumi's unit-test mocks as the engine."""

from __future__ import annotations

from pathlib import Path

import pytest

from zplan.operations import planning as operations
from zplan.plan.planner import PlanRequest
from zplan.project import Project
from zplan_pulumi import testing
from zplan_pulumi.provider import PulumiProvider

from tests.modules import pulumi_mocked_cli

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

KEY = "sk-live-4242-abcd"
MODEL = f'''variable "api_key" {{
  sensitive = true
  default   = "{KEY}"
}}

provider "aws" {{
  region = "eu-west-1"
}}

resource "aws_sagemaker_model" "scorer" {{
  execution_role_arn = "arn:aws:iam::123456789012:role/runner"
  image              = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/scorer:1"
  environment        = {{ API_KEY = var.api_key, MODE = "batch" }}
}}
'''
BUCKET = '''
resource "aws_s3_bucket" "data" {
  bucket = "acme-data"
}
'''


@pytest.fixture
def engine(monkeypatch) -> list:
    """Each run's registrations under the mocks (the engine patched for this test only)."""
    monkeypatch.setattr(PulumiProvider, "apply", PulumiProvider.apply)
    monkeypatch.setattr(PulumiProvider, "preflight", PulumiProvider.preflight)
    pulumi_mocked_cli.install()
    runs: list = []
    install = testing.install

    def recording(outputs=None):
        mocks, monitor = install(outputs)
        runs.append(mocks.registrations)
        return mocks, monitor

    monkeypatch.setattr(testing, "install", recording)
    return runs


def apply(root: Path, hcl: str) -> None:
    (root / "main.zp.hcl").write_text(hcl)
    project = Project.open(root)
    backend = project.state_backend()
    result = operations.apply(operations.make_plan(project, backend, PlanRequest()), backend, None)
    assert result.ok, result.outcome


def test_a_secret_in_a_plain_attribute_is_a_pulumi_secret_in_every_run(tmp_path: Path, engine: list) -> None:
    apply(tmp_path, MODEL)
    apply(tmp_path, MODEL + BUCKET)  # a second run declares the model again, unchanged
    assert len(engine) == 2
    for registrations in engine:
        [model] = [r for r in registrations if r.type == "aws:sagemaker/model:Model"]
        assert KEY in str(model.inputs) and KEY not in clear(model.inputs), model.inputs
        assert "123456789012.dkr.ecr" in str(model.inputs)  # (the whole container goes as one secret)
    assert KEY not in (tmp_path / ".zplan" / "state.json").read_text()


def clear(value) -> str:
    """The text of what the engine receives outside values marked secret (Pulumi's wire form)."""
    from pulumi.runtime import rpc

    if isinstance(value, dict):
        if value.get(rpc._special_sig_key) == rpc._special_secret_sig:
            return ""
        return " ".join(f"{k} {clear(v)}" for k, v in value.items())
    if isinstance(value, list):
        return " ".join(clear(v) for v in value)
    return str(value)
