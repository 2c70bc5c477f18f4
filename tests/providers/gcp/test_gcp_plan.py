"""Plans of gcp resources already applied: what each change does to the live object, as
pulumi-gcp (and Terraform's google provider it wraps) would do it. Applied with Pulumi's
unit-test mocks as the engine (``tests.modules.pulumi_mocked_cli``), planned by the real CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.helpers import Project, cli_env
from tests.modules.pulumi_mocked_cli import apply_in

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

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
    apply_in(tmp_path, env)
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


BUCKET = '''provider "gcp" {
  project = "acme"
}

resource "gcp_storage_bucket" "archive" {
  name          = "acme-archive"
  location      = "EU"
  storage_class = "NEARLINE"
}
'''


def test_a_storage_class_no_longer_set_returns_to_the_default_and_the_plan_says_so(tmp_path: Path) -> None:
    """pulumi-gcp gives a bucket without storage_class the STANDARD class: a plan that showed no
    change would let the next update of the bucket move it to STANDARD without saying so."""
    project, env = applied(tmp_path, BUCKET)
    (tmp_path / "main.zp.hcl").write_text(BUCKET.replace('  storage_class = "NEARLINE"\n', ""))
    plan = planned(project, env)["gcp_storage_bucket.archive"]
    assert plan["action"] == "update" and plan["changed"] == ["storage_class"]
    assert (plan["before"]["storage_class"], plan["after"]["storage_class"]) == ("NEARLINE", "STANDARD")
    apply_in(tmp_path, env)
    assert "No changes." in project.ok("plan", env=env).out


def test_a_bucket_applied_without_storage_class_plans_no_change(tmp_path: Path) -> None:
    # the class the cloud gave it is the default: nothing to do, before or after it is written out
    project, env = applied(tmp_path, BUCKET.replace('  storage_class = "NEARLINE"\n', ""))
    assert "No changes." in project.ok("plan", env=env).out
    (tmp_path / "main.zp.hcl").write_text(BUCKET.replace("NEARLINE", "STANDARD"))
    assert "No changes." in project.ok("plan", env=env).out


def test_plan_refresh_without_the_pulumi_cli_says_what_to_do(tmp_path: Path) -> None:
    """Reading gcp resources back needs the Pulumi CLI: without it, a clear error naming the
    provider and the way to plan without reading back, not an internal error."""
    import os
    import sys

    project, env = applied(tmp_path, BUCKET)
    no_pulumi = {**env, "PATH": os.path.dirname(sys.executable)}
    result = project.run("plan", "-refresh", env=no_pulumi)
    assert result.code == 1 and "internal error" not in result.err and "Traceback" not in result.err, result.err
    assert 'provider "gcp" cannot read its resources back' in result.err and "Pulumi CLI" in result.err
    assert "plan without -refresh" in result.err
    assert "No changes." in project.ok("plan", env=no_pulumi).out


def test_a_value_the_provider_refuses_is_an_error_at_its_line(tmp_path: Path) -> None:
    (tmp_path / "main.zp.hcl").write_text(BUCKET.replace('"NEARLINE"', '"nearline"'))
    result = Project(tmp_path).run("plan", env=cli_env())
    assert result.code == 1 and "internal error" not in result.err, result.err
    assert "main.zp.hcl:8:3: " in result.err and "storage_class must be one of 'STANDARD'" in result.err, result.err


def test_an_instance_is_shown_protected_from_deletion_unless_it_says_otherwise(tmp_path: Path) -> None:
    """pulumi-gcp protects a Cloud SQL instance from deletion unless deletion_protection = false:
    the plan shows it, and taking the setting away plans the protection back, not a null."""
    unprotected = INSTANCE.replace('  tier             = "db-f1-micro"\n',
                                   '  tier             = "db-f1-micro"\n  deletion_protection = false\n')
    (tmp_path / "main.zp.hcl").write_text(INSTANCE)
    fresh = planned(Project(tmp_path), cli_env())["gcp_sql_database_instance.metadata"]
    assert fresh["action"] == "create" and fresh["after"]["deletion_protection"] is True
    project, env = applied(tmp_path, unprotected)
    (tmp_path / "main.zp.hcl").write_text(INSTANCE)
    plan = planned(project, env)["gcp_sql_database_instance.metadata"]
    assert plan["action"] == "update" and plan["changed"] == ["deletion_protection"]
    assert (plan["before"]["deletion_protection"], plan["after"]["deletion_protection"]) == (False, True)
