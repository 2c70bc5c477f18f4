"""Model servers made by the instances of one module: each has a folder, a log and a server of its
own (they were all given the folder of the resource's bare name, and took it from each other)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.cli.helpers import Project
from zplan_provider_local import procs
from zplan_provider_local.serving import mlserver

ROOT = Path(__file__).resolve().parents[2]
SERVER = 'module.serving["{}"].resource.local_model_server.server'
ROW = [14.23, 1.71, 2.43, 15.6, 127.0, 2.8, 3.06, 0.28, 2.29, 5.64, 1.04, 3.92, 1065.0]
MAIN = f"""
stack "local" {{
  orchestrator   = "local"
  artifact_store = "file://.zplan/artifacts"
  metadata_store = "sqlite:///.zplan/metadata.db"
}}

module "training" {{
  source = "{ROOT / "modules" / "sklearn-training"}"
  data   = "data/wine.csv"
}}

module "serving" {{
  for_each       = toset(["dev", "prod"])
  source         = "{ROOT / "modules" / "local-serving"}"
  model          = module.training.model
  sample         = [{ROW}]
  health_timeout = 60
}}
"""


@pytest.mark.slow
def test_each_instance_of_a_module_serves_from_a_folder_of_its_own(tmp_path):
    project = Project(tmp_path / "p")
    project.write("main.zp.hcl", MAIN)
    (project.root / "data").mkdir()
    shutil.copy(ROOT / "examples" / "serving" / "data" / "wine.csv", project.root / "data" / "wine.csv")
    try:
        project.ok("apply", "-auto-approve", timeout=900)
        servers = [project.state()["resources"][SERVER.format(key)]["attributes"] for key in ("dev", "prod")]
        assert len({s["log_file"] for s in servers}) == 2
        for server in servers:
            assert procs.is_running(server["pid"], server["start_ticks"])
            assert mlserver.model_ready(server["url"], "model") and Path(server["log_file"]).is_file()
        assert "No changes." in project.ok("plan").out
    finally:
        result = project.run("destroy", "-auto-approve", timeout=120)
    assert result.code == 0, str(result)
    assert not any(procs.is_running(s["pid"], s["start_ticks"]) for s in servers)
