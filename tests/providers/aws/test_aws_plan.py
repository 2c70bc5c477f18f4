"""Plans of aws resources already applied, as pulumi-aws would apply them. Applied with
Pulumi's unit-test mocks as the engine (``tests.modules.pulumi_mocked_cli``), planned by the
real CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.helpers import Project, cli_env
from tests.modules.pulumi_mocked_cli import apply_in

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

REPOSITORY = '''provider "aws" {
  region = "eu-west-1"
}

resource "aws_ecr_repository" "images" {
  name                 = "acme-images"
  image_tag_mutability = "IMMUTABLE"
}
'''


def test_a_tag_mutability_no_longer_set_returns_to_the_default_and_the_plan_says_so(tmp_path: Path) -> None:
    """pulumi-aws makes a repository without image_tag_mutability MUTABLE: a plan that showed no
    change would let the next update of the repository make its tags mutable without saying so."""
    (tmp_path / "main.zp.hcl").write_text(REPOSITORY)
    env = cli_env(AWS_REGION="", AWS_DEFAULT_REGION="")
    apply_in(tmp_path, env)
    project = Project(tmp_path)
    (tmp_path / "main.zp.hcl").write_text(REPOSITORY.replace('  image_tag_mutability = "IMMUTABLE"\n', ""))
    doc = json.loads(project.ok("plan", "-format", "json", env=env).out)
    [plan] = [r for r in doc["resources"] if r["address"] == "resource.aws_ecr_repository.images"]
    assert plan["action"] == "update" and plan["changed"] == ["image_tag_mutability"]
    assert plan["after"]["image_tag_mutability"] == "MUTABLE"
    (tmp_path / "main.zp.hcl").write_text(REPOSITORY)
    assert "No changes." in project.ok("plan", env=env).out
