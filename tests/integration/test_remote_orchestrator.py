"""A Kubeflow stack: apply provisions resources, then compiles and hands the pipeline over."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from tests.integration.test_resources_cli import ROOT, zplan

# Pods cannot reach this machine's disk: a Kubeflow stack keeps artifacts in an object store
# (here the S3-speaking test server) and metadata and state in a database server (MariaDB here).
KUBEFLOW_STACK = """
stack "kubeflow" {
  orchestrator    = "kubeflow"
  artifact_store  = "ARTIFACTS"
  metadata_store  = "METADATA"
  container_image = "registry.example/zplan-quickstart:1"
}
"""

def _quickstart(tmp_path: Path, added: str) -> Path:
    """A copy of the quickstart project with ``added`` at the end of its main.zp.hcl."""
    project = tmp_path / "qs"
    shutil.copytree(ROOT / "examples/quickstart", project, ignore=shutil.ignore_patterns(".zplan", "reports"))
    with open(project / "main.zp.hcl", "a") as f:
        f.write(added)
    return project


def _kubeflow_stack(artifacts: str, metadata: str) -> str:
    return KUBEFLOW_STACK.replace("ARTIFACTS", artifacts).replace("METADATA", metadata)


def test_kubeflow_stack_compiles_instead_of_running(tmp_path: Path, s3_url: str, mysql_url: str) -> None:
    project = _quickstart(tmp_path, _kubeflow_stack(s3_url, mysql_url))
    proc = zplan(project, "apply", "-stack", "kubeflow", "-auto-approve")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Pipeline spec written to" in proc.stdout and "kfp --endpoint" in proc.stdout
    assert (project / "reports").is_dir(), "resources were provisioned first"
    assert not (project / ".zplan/artifacts").exists(), "no step ran on this machine"

    spec = yaml.safe_load((project / ".zplan/compiled/training.yaml").read_text())
    tasks = spec["root"]["dag"]["tasks"]
    assert set(tasks) == {"load", "split", "scale", "train", "evaluate"}
    assert sorted(tasks["evaluate"].get("dependentTasks", [])) == ["scale", "train"]
    executors = spec["deploymentSpec"]["executors"]
    commands = [e["container"]["command"] + e["container"].get("args", []) for e in executors.values()]
    assert ["zplan", "run-step", "pipeline.training.step.train", "-stack", "kubeflow"] in [c[:5] for c in commands]
    # the values the apply planned with (a whole number given to a number variable is the int: `default = 1.0` is 1)
    assert all(repr(json.loads(c[c.index("-planned-vars") + 1])["c"]) == "1" for c in commands)
    assert all(e["container"]["image"] == "registry.example/zplan-quickstart:1" for e in executors.values())


def test_unknown_flavor_is_a_config_error(tmp_path: Path, mysql_url: str) -> None:
    project = _quickstart(tmp_path, KUBEFLOW_STACK.replace('"kubeflow"\n  artifact', '"airflow"\n  artifact').replace("ARTIFACTS", "s3://b/a").replace("METADATA", mysql_url))
    proc = zplan(project, "plan", "-stack", "kubeflow")
    assert proc.returncode == 1
    assert 'orchestrator "airflow" matches no installed flavor' in proc.stderr and "main.zp.hcl:" in proc.stderr


def test_pods_cannot_use_this_machines_stores(tmp_path: Path) -> None:
    project = _quickstart(tmp_path, _kubeflow_stack("file://.zplan/artifacts", "sqlite:///.zplan/metadata.db"))
    proc = zplan(project, "plan", "-stack", "kubeflow")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert 'cannot reach artifact_store "file://.zplan/artifacts"' in proc.stderr
    assert 'cannot reach metadata_store "sqlite:///.zplan/metadata.db"' in proc.stderr
    assert "main.zp.hcl:" in proc.stderr


def test_a_component_without_a_flavor_is_an_error(tmp_path: Path) -> None:
    project = _quickstart(tmp_path, 'stack "withdeployer" {\n  model_deployer = "seldon"\n}\n')
    proc = zplan(project, "plan", "-stack", "withdeployer")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert 'model_deployer "seldon" matches no installed flavor' in proc.stderr


def test_a_resource_serving_a_step_output_waits_for_the_remote_pipeline(tmp_path: Path, s3_url: str, mysql_url: str) -> None:
    project = _quickstart(tmp_path, _kubeflow_stack(s3_url, mysql_url) + 'resource "local_model_server" "api" {\n  model = step.train.outputs.output\n}\n')
    proc = zplan(project, "apply", "-stack", "kubeflow", "-auto-approve")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Pipeline spec written to" in proc.stdout  # the pipeline is still handed over
    assert "resource.local_model_server.api" in proc.stdout and "apply again once the pipeline has run there" in proc.stdout


def test_each_task_runs_its_step_as_the_apply_planned_it(tmp_path: Path, s3_url: str, mysql_url: str) -> None:
    project = _quickstart(tmp_path, _kubeflow_stack(s3_url, mysql_url))
    proc = zplan(project, "apply", "-stack", "kubeflow", "-auto-approve", "-var", "c=0.5")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    spec = yaml.safe_load((project / ".zplan/compiled/training.yaml").read_text())
    executors = spec["deploymentSpec"]["executors"]
    commands = {c[2]: c for c in (e["container"]["command"] for e in executors.values())}
    image = tmp_path / "image"  # the container's copy of the project
    shutil.copytree(project, image, ignore=shutil.ignore_patterns(".zplan"))
    for step in ("load", "split", "scale", "train", "evaluate"):  # in the order KFP runs them
        task = zplan(image, *commands[f"pipeline.training.step.{step}"][1:])
        assert task.returncode == 0, task.stdout + task.stderr
        assert f"pipeline.training.step.{step}: done" in task.stdout, task.stdout
        assert not (image / ".zplan/compiled").exists(), "a task runs its step, it submits nothing"
    plan = zplan(project, "plan", "-stack", "kubeflow", "-var", "c=0.5")
    assert plan.returncode == 0 and "Steps: 0 to run, 5 cached" in plan.stdout, plan.stdout + plan.stderr


def test_a_task_that_seals_a_value_needs_the_shared_state_key(tmp_path: Path, s3_url: str, mysql_url: str) -> None:
    from cryptography.fernet import Fernet

    project = _quickstart(tmp_path, _kubeflow_stack(s3_url, mysql_url) + 'output "loaded" {\n  value     = step.load.outputs.output\n  sensitive = true\n}\n')
    key = {"ZPLAN_STATE_KEY": Fernet.generate_key().decode()}
    assert zplan(project, "apply", "-stack", "kubeflow", "-auto-approve", env=key).returncode == 0
    image = tmp_path / "image"
    shutil.copytree(project, image, ignore=shutil.ignore_patterns(".zplan"))
    env = {k: v for k, v in os.environ.items() if k != "ZPLAN_STATE_KEY"}
    task = subprocess.run([sys.executable, "-m", "zplan.cli.app", "run-step", "pipeline.training.step.load", "-stack", "kubeflow"],
                          cwd=image, capture_output=True, text=True, env={**env, "ZPLAN_NO_COLOR": "1"})
    assert task.returncode == 1 and "Traceback" not in task.stderr
    assert "pipeline.training.step.load records sensitive values, and this task has no state key" in task.stderr
    assert "ZPLAN_STATE_KEY" in task.stderr and not (image / ".zplan/state.key").exists()
    task = zplan(image, "run-step", "pipeline.training.step.load", "-stack", "kubeflow", env=key)
    assert task.returncode == 0, task.stdout + task.stderr
    assert "pipeline.training.step.load: done" in task.stdout


def test_without_kfp_the_apply_is_refused_before_it_provisions_anything(tmp_path: Path, s3_url: str, mysql_url: str) -> None:
    """kfp is an extra: without it the apply provisioned the resources, then stopped on an internal
    error (ModuleNotFoundError) when it came to compile the pipeline."""
    project = _quickstart(tmp_path, _kubeflow_stack(s3_url, mysql_url))
    hidden = tmp_path / "no-kfp"
    hidden.mkdir()
    (hidden / "sitecustomize.py").write_text("import sys\nsys.modules['kfp'] = None  # as if it were not installed\n")
    path = os.pathsep.join(p for p in (str(hidden), os.environ.get("PYTHONPATH", "")) if p)
    proc = zplan(project, "apply", "-stack", "kubeflow", "-auto-approve", env={"PYTHONPATH": path})
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert 'stack "kubeflow": the kubeflow orchestrator compiles each pipeline with the kfp SDK, which is not installed here' in proc.stderr
    assert "pip install 'zplan[kubeflow]'" in proc.stderr and "internal error" not in proc.stderr
    assert "main.zp.hcl:" in proc.stderr
    assert not (project / "reports").exists(), "nothing was provisioned"
    assert zplan(project, "apply", "-stack", "kubeflow", "-auto-approve").returncode == 0  # with kfp: as ever
