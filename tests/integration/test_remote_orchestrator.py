"""A Kubeflow stack: apply provisions resources, then compiles and hands the pipeline over."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from tests.integration.test_resources_cli import ROOT, zplan

KUBEFLOW_STACK = """
stack "kubeflow" {
  orchestrator    = "kubeflow"
  artifact_store  = "file://.zplan/artifacts"
  metadata_store  = "sqlite:///.zplan/metadata.db"
  container_image = "registry.example/zplan-quickstart:1"
}
"""


def test_kubeflow_stack_compiles_instead_of_running(tmp_path: Path) -> None:
    project = tmp_path / "qs"
    shutil.copytree(ROOT / "examples/quickstart", project, ignore=shutil.ignore_patterns(".zplan", "reports"))
    with open(project / "main.zp.hcl", "a") as f:
        f.write(KUBEFLOW_STACK)
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
    assert ["zplan", "run-step", "pipeline.training.step.train", "-stack", "kubeflow"] in commands
    assert all(e["container"]["image"] == "registry.example/zplan-quickstart:1" for e in executors.values())


def test_unknown_flavor_is_a_config_error(tmp_path: Path) -> None:
    project = tmp_path / "qs"
    shutil.copytree(ROOT / "examples/quickstart", project, ignore=shutil.ignore_patterns(".zplan", "reports"))
    with open(project / "main.zp.hcl", "a") as f:
        f.write(KUBEFLOW_STACK.replace('"kubeflow"\n  artifact', '"airflow"\n  artifact'))
    proc = zplan(project, "plan", "-stack", "kubeflow")
    assert proc.returncode == 1
    assert 'orchestrator "airflow" matches no installed flavor' in proc.stderr and "main.zp.hcl:" in proc.stderr
