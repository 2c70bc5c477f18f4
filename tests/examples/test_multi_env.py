"""examples/multi-env: dev and prod from one definition, through the shipped modules."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.cli.helpers import Project

REPO = Path(__file__).resolve().parents[2]
ENVS = ("dev", "prod")
STEPS = ("split", "train", "evaluate")


@pytest.fixture(scope="module")
def applied(tmp_path_factory: pytest.TempPathFactory) -> Project:
    """The example applied on the local stack, laid out as in the repository (it calls ../../modules)."""
    root = tmp_path_factory.mktemp("repo")
    ignore = shutil.ignore_patterns(".zplan", "__pycache__")
    shutil.copytree(REPO / "examples" / "multi-env", root / "examples" / "multi-env", ignore=ignore)
    shutil.copytree(REPO / "modules", root / "modules", ignore=ignore)
    project = Project(root / "examples" / "multi-env")
    project.apply()
    return project


def step_addresses() -> set[str]:
    return {f'module.training["{env}"].pipeline.training.step.{step}' for env in ENVS for step in STEPS}


def test_one_apply_trains_and_scores_both_environments(applied: Project) -> None:
    values = json.loads(applied.ok("output", "-json", "scores").out)
    assert set(values) == set(ENVS)
    assert all(0.8 <= v <= 1.0 for v in values.values())


def test_the_local_plan_shows_both_environments_and_nothing_to_do(applied: Project) -> None:
    doc = applied.plan_json()
    assert {s["address"]: s["action"] for s in doc["steps"]} == dict.fromkeys(step_addresses(), "cached")
    assert not doc["resources"]  # no cloud resource on the local stack: Pulumi is never reached


def test_a_gcp_stack_plans_both_environments_infrastructure_offline(applied: Project) -> None:
    doc = applied.plan_json("-stack", "gcp-dev")
    created = {r["address"] for r in doc["resources"] if r["action"] == "create"}
    for env in ENVS:
        assert f'module.cloud["{env}"].resource.gcp_storage_bucket.artifacts' in created
        assert f'module.cloud["{env}"].resource.gcp_sql_database_instance.metadata' in created
    tiers = {r["address"]: r["after"].get("tier") for r in doc["resources"] if r["type"] == "gcp_sql_database_instance"}
    assert tiers == {
        'module.cloud["dev"].resource.gcp_sql_database_instance.metadata': "db-f1-micro",
        'module.cloud["prod"].resource.gcp_sql_database_instance.metadata': "db-custom-2-7680",
    }
    assert {s["address"] for s in doc["steps"]} == step_addresses()
