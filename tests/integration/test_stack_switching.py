"""Switching stacks through the real CLI: `stack list` / `stack select` / `-stack`, and caches
that belong to one artifact store + metadata store pair each."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.testdata.team.harness import Zplan, copy_project, step_lines, write_stacks

pytestmark = pytest.mark.slow

STEPS = ["pipeline.tiny.step.load", "pipeline.tiny.step.total"]


def stacks(s3_url: str) -> str:
    # "review" shares dev's metadata store and "mirror" shares shared's artifact store: each is
    # still a new pair, so neither may reuse the other's cache.
    return f"""
stack "dev" {{
  artifact_store = "file://.zplan/dev-artifacts"
  metadata_store = "sqlite:///.zplan/dev.db"
}}

stack "shared" {{
  artifact_store = "{s3_url}"
  metadata_store = "sqlite:///.zplan/shared.db"
}}

stack "review" {{
  artifact_store = "file://.zplan/review-artifacts"
  metadata_store = "sqlite:///.zplan/dev.db"
}}

stack "mirror" {{
  artifact_store = "{s3_url}"
  metadata_store = "sqlite:///.zplan/mirror.db"
}}
"""


@pytest.fixture
def zp(tmp_path: Path, s3_url: str) -> Zplan:
    project = copy_project("tiny", tmp_path / "tiny")
    write_stacks(project, stacks(s3_url))
    return Zplan(project)


def plan(zp: Zplan, *args: str) -> tuple[int, dict[str, str], str]:
    result = zp("plan", "-detailed-exitcode", *args, code=None)
    assert result.code in (0, 2), result
    return result.code, step_lines(result.out), result.out


def listed(zp: Zplan) -> list[str]:
    return zp("stack", "list").out.splitlines()


def test_stack_list_select_and_one_cache_per_store_pair(zp: Zplan, s3_url: str) -> None:
    assert listed(zp) == ["* dev", "  mirror", "  review", "  shared"]  # no "local": the first name is chosen

    zp("apply", "-auto-approve")
    assert plan(zp)[:2] == (0, {s: "cached" for s in STEPS})

    assert zp("stack", "select", "shared").out.strip() == 'Switched to stack "shared".'
    assert listed(zp) == ["  dev", "  mirror", "  review", "* shared"]
    code, steps, text = plan(zp)
    assert (code, steps) == (2, {s: "will run" for s in STEPS}) and 'plan for stack "shared"' in text
    assert all(f"+ {s}" in text and "will run: never ran" in text for s in STEPS)
    applied = zp("apply", "-auto-approve", "-var", "factor=5").out
    assert "Apply complete: 2 ok." in applied and "total = 50" in applied
    assert plan(zp, "-var", "factor=5")[:2] == (0, {s: "cached" for s in STEPS})

    # Back on dev: everything cached from dev's own run, and the views show dev's records.
    zp("stack", "select", "dev")
    code, steps, text = plan(zp)
    assert (code, steps) == (0, {s: "cached" for s in STEPS}) and "total = 30" in text
    shown = json.loads(zp("show", "-json").out)["steps"]
    assert sorted(shown) == STEPS
    uris = [o["uri"] for s in shown.values() for o in s["outputs"].values()]
    assert uris and all(u.startswith("file://") and "/.zplan/dev-artifacts/" in u for u in uris), shown

    # -stack picks another stack for one command only.
    assert plan(zp, "-stack", "shared", "-var", "factor=5")[0] == 0
    assert listed(zp)[0] == "* dev"

    # A store pair is new as soon as either store is: nothing is reused across pairs.
    for other in ("review", "mirror"):
        code, steps, _ = plan(zp, "-stack", other)
        assert (code, steps) == (2, {s: "will run" for s in STEPS}), other


def test_selecting_an_unknown_stack_is_refused(zp: Zplan) -> None:
    refused = zp("stack", "select", "prod", code=1)
    assert 'no stack named "prod"' in refused.err and "declared stacks: dev, shared, review, mirror" in refused.err
    assert listed(zp)[0] == "* dev"  # the choice did not change
    assert 'no stack named "prod"' in zp("plan", "-stack", "prod", code=1).err


def test_outputs_follow_the_selected_stack(zp: Zplan) -> None:
    zp("apply", "-auto-approve")
    zp("apply", "-auto-approve", "-stack", "shared", "-var", "factor=5")
    assert json.loads(zp("output", "-json").out)["total"]["value"] == 30  # dev's, not shared's 50
    assert json.loads(zp("output", "-json", "-stack", "shared").out)["total"]["value"] == 50
