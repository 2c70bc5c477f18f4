"""Plans of gcp resources already applied: what each change does to the live object, as
pulumi-gcp (and Terraform's google provider it wraps) would do it. Applied with Pulumi's
unit-test mocks as the engine (``tests.modules.pulumi_mocked_cli``), planned by the real CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.helpers import Project, cli_env

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

ROOT = Path(__file__).resolve().parents[3]

INSTANCE = '''variable "db_version" {
  default = "MYSQL_8_0"
}

provider "gcp" {
  project = "acme"
  region  = "europe-west1"
}

resource "gcp_sql_database_instance" "metadata" {
  name             = "zplan-meta"
  database_version = var.db_version
  tier             = "db-f1-micro"
}
'''


def applied(tmp_path: Path, hcl: str) -> tuple[Project, dict[str, str]]:
    (tmp_path / "main.zp.hcl").write_text(hcl)
    env = cli_env()
    proc = subprocess.run([sys.executable, "-m", "tests.modules.pulumi_mocked_cli", "apply", "-auto-approve"],
                          cwd=tmp_path, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=300,
                          env={**env, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stdout + proc.stderr
    return Project(tmp_path), env


def planned(project: Project, env: dict[str, str], *args: str) -> dict:
    doc = json.loads(project.ok("plan", "-format", "json", *args, env=env).out)
    return {r["address"].removeprefix("resource."): r for r in doc["resources"]}


def test_a_new_database_version_upgrades_the_instance_in_place(tmp_path: Path) -> None:
    """Cloud SQL upgrades an instance's major version in place, keeping its data; a plan that
    replaced it would destroy the database with everything the metadata store holds."""
    project, env = applied(tmp_path, INSTANCE)
    plan = planned(project, env, "-var", "db_version=MYSQL_8_4")["gcp_sql_database_instance.metadata"]
    assert (plan["action"], plan["changed"]) == ("update", ["database_version"])
    text = project.ok("plan", "-var", "db_version=MYSQL_8_4", env=env).out
    assert "will be updated in place" in text and "forces replacement" not in text, text
