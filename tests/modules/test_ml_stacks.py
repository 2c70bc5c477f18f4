"""modules/ml-stack-gcp and modules/ml-stack-aws, loaded as projects of their own with their
inputs given as variables (issue 14 item 5).

Each is planned offline, then applied with Pulumi's unit-test mocks as the engine
(``pulumi_mocked_cli``: zplan's real plan, apply waves, state and outputs; Pulumi's own
program declaring every resource, under ``set_mocks``): the outputs then hold what a
stack block takes, and a project whose stack is written with them validates.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.helpers import Project, Result, cli_env, copy_project

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

ROOT = Path(__file__).resolve().parents[2]
GCP, AWS = ROOT / "modules" / "ml-stack-gcp", ROOT / "modules" / "ml-stack-aws"
PASSWORD = "s3cret-pw"
INPUTS = {
    "gcp": {"project": "acme-ml", "db_password": PASSWORD},
    "aws": {"name": "acme-ml", "db_password": PASSWORD},
}
RESOURCES = {
    "gcp": {"gcp_storage_bucket.artifacts", "gcp_sql_database_instance.metadata", "gcp_sql_database.metadata",
            "gcp_sql_user.zplan", "gcp_service_account.runner", "gcp_project_iam_member.runner_storage",
            "gcp_project_iam_member.runner_sql", "gcp_project_iam_member.runner_registry",
            "gcp_artifact_registry_repository.images"},
    "aws": {"aws_s3_bucket.artifacts", "aws_db_instance.metadata", "aws_iam_role.runner",
            "aws_iam_role_policy_attachment.runner_s3", "aws_iam_role_policy_attachment.runner_ecr",
            "aws_ecr_repository.images"},
}
OUTPUTS = {"artifact_store", "metadata_store", "metadata_password", "image_repository", "bucket"}


def module_project(tmp_path: Path, cloud: str) -> tuple[Project, dict[str, str]]:
    """A copy of the module, and an environment giving its inputs (ZPLAN_VAR_*)."""
    project = copy_project(GCP if cloud == "gcp" else AWS, tmp_path / cloud)
    env = cli_env(**{f"ZPLAN_VAR_{k}": v for k, v in INPUTS[cloud].items()})
    return project, env


def engine_path(env: dict[str, str]) -> str:
    """The mocked engine's module first, the providers' folders still on the path after it."""
    return os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)


def mocked(project: Project, env: dict[str, str], *args: str) -> Result:
    proc = subprocess.run([sys.executable, "-m", "tests.modules.pulumi_mocked_cli", *args], cwd=project.root,
                          capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=300,
                          env={**env, "PYTHONPATH": engine_path(env)})
    result = Result(proc.returncode, proc.stdout, proc.stderr)
    assert result.code == 0 and "Traceback" not in result.err, str(result)
    return result


def plan_json(project: Project, env: dict[str, str], *args: str) -> dict:
    return json.loads(project.ok("plan", "-format", "json", *args, env=env).out)


def resource(doc: dict, address: str) -> dict:
    return next(r for r in doc["resources"] if r["address"] == f"resource.{address}")


@pytest.mark.parametrize("cloud", ["gcp", "aws"])
def test_the_module_validates_and_plans_offline_with_its_inputs_as_variables(tmp_path: Path, cloud: str) -> None:
    project, env = module_project(tmp_path, cloud)
    project.ok("validate", env=env)
    doc = plan_json(project, env)
    assert {r["address"].removeprefix("resource.") for r in doc["resources"]} == RESOURCES[cloud]
    assert {r["action"] for r in doc["resources"]} == {"create"} and doc["steps"] == []
    outputs = doc["outputs"]
    assert OUTPUTS <= set(outputs)
    bucket = "acme-ml-zplan-dev" if cloud == "gcp" else "acme-ml-dev-artifacts"
    scheme = "gs" if cloud == "gcp" else "s3"
    assert outputs["artifact_store"] == {"known": True, "sensitive": False, "value": f"{scheme}://{bucket}/artifacts"}
    assert outputs["metadata_store"]["known"] is False  # the database's address comes from the cloud
    assert outputs["metadata_password"] == {"known": True, "sensitive": True, "value": "(sensitive)"}
    assert PASSWORD not in json.dumps(doc)
    if cloud == "gcp":
        assert resource(doc, "gcp_storage_bucket.artifacts")["after"]["name"] == bucket
        assert resource(doc, "gcp_sql_database_instance.metadata")["after"]["database_version"] == "MYSQL_8_0"
        assert resource(doc, "gcp_sql_user.zplan")["after"]["password"] == "(sensitive)"
        assert resource(doc, "gcp_artifact_registry_repository.images")["after"]["format"] == "DOCKER"
        member = resource(doc, "gcp_project_iam_member.runner_storage")
        assert "resource.gcp_service_account.runner" in member["depends_on"] and "member" in member["after_unknown"]
    else:
        assert resource(doc, "aws_s3_bucket.artifacts")["after"]["bucket"] == bucket
        db = resource(doc, "aws_db_instance.metadata")["after"]
        assert (db["engine"], db["db_name"], db["username"], db["password"]) == ("mysql", "zplan", "zplan", "(sensitive)")
        role = resource(doc, "aws_iam_role.runner")["after"]
        assert role["assume_role_policy"]["Statement"][0]["Principal"]["Service"] == ["sagemaker.amazonaws.com", "ec2.amazonaws.com"]
        attachment = resource(doc, "aws_iam_role_policy_attachment.runner_s3")
        assert attachment["after"]["role"] == "acme-ml-dev-runner"


@pytest.mark.parametrize("cloud", ["gcp", "aws"])
def test_inputs_change_the_plan(tmp_path: Path, cloud: str) -> None:
    project, env = module_project(tmp_path, cloud)
    doc = plan_json(project, env, "-var", "env=prod")
    if cloud == "gcp":
        assert resource(doc, "gcp_storage_bucket.artifacts")["after"]["labels"] == {"env": "prod", "managed_by": "zplan"}
        assert resource(doc, "gcp_sql_database_instance.metadata")["after"]["name"] == "zplan-prod-meta"
    else:
        assert resource(doc, "aws_ecr_repository.images")["after"]["name"] == "acme-ml-prod"
        assert resource(doc, "aws_db_instance.metadata")["after"]["identifier"] == "acme-ml-prod-meta"


@pytest.mark.parametrize("cloud", ["gcp", "aws"])
def test_a_required_input_left_out_is_one_clear_error(tmp_path: Path, cloud: str) -> None:
    project = copy_project(GCP if cloud == "gcp" else AWS, tmp_path / cloud)
    result = project.run("plan")
    assert result.code == 1 and "Traceback" not in result.err
    assert 'no value for variable "db_password"' in result.err and "variables.zp.hcl:" in result.err


@pytest.mark.parametrize("cloud", ["gcp", "aws"])
def test_applied_under_pulumis_mocks_its_outputs_are_a_ready_stack(tmp_path: Path, cloud: str) -> None:
    project, env = module_project(tmp_path, cloud)
    applied = mocked(project, env, "apply", "-auto-approve")
    assert f"Apply complete: {len(RESOURCES[cloud])} ok." in applied.out
    outputs = {k: v["value"] for k, v in project.state()["outputs"]["local"].items()}
    if cloud == "gcp":
        assert outputs["artifact_store"] == "gs://acme-ml-zplan-dev/artifacts"
        assert outputs["metadata_store"] == "mysql://zplan@34.76.10.20:3306/zplan"
        assert outputs["image_repository"] == "europe-west1-docker.pkg.dev/acme-ml/zplan-dev"
        assert outputs["service_account"] == "zplan-dev-runner@acme-ml.iam.gserviceaccount.com"
        # the IAM bindings were given the service account the cloud returned
        binding = project.state()["resources"]["resource.gcp_project_iam_member.runner_sql"]["attributes"]
        assert binding["member"] == "serviceAccount:" + outputs["service_account"]
    else:
        assert outputs["artifact_store"] == "s3://acme-ml-dev-artifacts/artifacts"
        assert outputs["metadata_store"] == "mysql://zplan@zplan-dev-meta.c9akciq32.eu-west-1.rds.amazonaws.com:3306/zplan"
        assert outputs["role_arn"] == "arn:aws:iam::123456789012:role/zplan-dev-runner"
    assert PASSWORD not in project.path(".zplan/state.json").read_text()  # sealed
    assert "No changes." in project.ok("plan", env=env).out

    stack = consumer(tmp_path / "consumer", cloud, outputs)
    stack.ok("validate", "-stack", cloud)


def consumer(root: Path, cloud: str, outputs: dict) -> Project:
    """A project whose stack block is written with the module's outputs."""
    extra = ""
    if cloud == "gcp":
        opts = outputs["orchestrator_options"]
        extra = (f'  orchestrator         = "vertex"\n'
                 f'  orchestrator_options = {{ project = "{opts["project"]}", location = "{opts["location"]}", '
                 f'pipeline_root = "{opts["pipeline_root"]}" }}\n'
                 f'  container_image      = "{outputs["image_repository"]}/trainer:latest"\n')
    root.mkdir()
    (root / "steps.py").write_text("def hello() -> str:\n    return 'hello'\n")
    (root / "main.zp.hcl").write_text(
        f'variable "db_password" {{\n  sensitive = true\n  default   = "{PASSWORD}"\n}}\n\n'
        f'stack "{cloud}" {{\n{extra}'
        f'  artifact_store    = "{outputs["artifact_store"]}"\n'
        f'  metadata_store    = "{outputs["metadata_store"]}"\n'
        f'  metadata_password = var.db_password\n}}\n\n'
        'pipeline "p" {\n  step "hello" {\n    source = "steps.py:hello"\n  }\n}\n')
    return Project(root)


def test_when_the_cloud_refuses_the_apply_fails_cleanly_and_records_no_half_known_output(tmp_path: Path) -> None:
    """An output map that reads a resource whose apply failed (orchestrator_options reads the
    bucket) is left unrecorded, as an unknown value is, not written into state."""
    project, env = module_project(tmp_path, "gcp")
    proc = subprocess.run([sys.executable, "-m", "tests.modules.pulumi_mocked_cli", "apply", "-auto-approve"],
                          cwd=project.root, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=300,
                          env={**env, "PYTHONPATH": engine_path(env), "ZPLAN_TEST_CLOUD_REFUSES": "1"})
    assert proc.returncode == 1 and "Traceback" not in proc.stderr and "internal error" not in proc.stderr, proc.stderr
    assert "resource.gcp_storage_bucket.artifacts: refused by the cloud" in proc.stdout + proc.stderr
    state = project.state()
    assert state["resources"] == {} and "orchestrator_options" not in state["outputs"].get("local", {})


# A provider block whose settings the resources that leave them unset take; those that set them keep theirs.
PLACED = {
    "gcp": ('provider "gcp" {\n  project = var.project\n  region  = var.region\n}\n\n'
            'resource "gcp_storage_bucket" "data" {\n  name     = "acme-data"\n  location = "EU"\n}\n\n'
            'resource "gcp_artifact_registry_repository" "images" {\n  repository_id = "images"\n  format        = "DOCKER"\n}\n\n'
            'resource "gcp_service_account" "fixed" {\n  account_id = "runner"\n  project    = "acme-ml"\n}\n',
            {"project": "acme-ml", "region": "europe-west1"}),
    "aws": ('provider "aws" {\n  region = var.region\n}\n\n'
            'resource "aws_s3_bucket" "data" {\n  bucket = "acme-data"\n}\n\n'
            'resource "aws_iam_role" "runner" {\n  name               = "runner"\n  assume_role_policy = { Version = "2012-10-17" }\n}\n',
            {"region": "eu-west-1"}),
}
MOVED = {  # -var -> {resource: (action, reason)}
    "gcp": {"region=us-central1": {"gcp_artifact_registry_repository.images": ("replace", "provider gcp: region changed")},
            "project=other": {"gcp_storage_bucket.data": ("replace", "provider gcp: project changed"),
                              "gcp_artifact_registry_repository.images": ("replace", "provider gcp: project changed")}},
    "aws": {"region=us-east-1": {"aws_s3_bucket.data": ("replace", "provider aws: region changed")}},  # IAM is global
}


@pytest.mark.parametrize("cloud", ["gcp", "aws"])
def test_a_changed_provider_setting_replaces_the_resources_taking_it(tmp_path: Path, cloud: str) -> None:
    hcl, defaults = PLACED[cloud]
    variables = "".join(f'variable "{k}" {{\n  default = "{v}"\n}}\n\n' for k, v in defaults.items())
    project = Project(tmp_path)
    (tmp_path / "main.zp.hcl").write_text(variables + hcl)
    env = cli_env(AWS_REGION="", AWS_DEFAULT_REGION="")
    mocked(project, env, "apply", "-auto-approve")
    for given, moved in MOVED[cloud].items():
        doc = plan_json(project, env, "-var", given)
        changes = {r["address"].removeprefix("resource."): (r["action"], [x["message"] for x in r["reasons"]])
                   for r in doc["resources"] if r["action"] != "no-op"}
        assert changes == {a: (action, [why]) for a, (action, why) in moved.items()}, given
    given = next(iter(MOVED[cloud]))
    mocked(project, env, "apply", "-auto-approve", "-var", given)
    assert "No changes." in project.ok("plan", "-var", given, env=env).out
