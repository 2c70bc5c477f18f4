"""zplan.operations.plan_memo, in process on a real applied project: a kept plan is shown again without
the plan being made, and ``verify`` catches a kept plan that differs from the plan made again."""

from __future__ import annotations

import time

import pytest

from tests.cli.helpers import Project, with_local_stack
from zplan.hooks import Hooks
from zplan.operations import applying, plan_memo
from zplan.operations.opening import ProjectArgs


@pytest.fixture
def project(tmp_path, monkeypatch) -> Project:
    project = Project(tmp_path / "project").write_all({
        "main.zp.hcl": with_local_stack("""
            pipeline "p" {
              step "s" {
                source = "steps.py:s"
                inputs = { d = "data.txt" }
              }
            }
        """),
        "steps.py": """
            from pathlib import Path


            def s(d: Path) -> int:
                return len(d.read_text())
        """,
        "data.txt": "x\n",
    })
    project.apply()
    monkeypatch.chdir(project.root)
    monkeypatch.setenv(plan_memo.MODE_ENV, "on")
    return project


def plan(project: Project) -> dict:
    """As `zplan plan` does: the kept plan, else a plan made (and kept when it has nothing to do)."""
    memo = plan_memo.for_plan(project.root, [], None, (), True)
    doc = memo.lookup()
    return doc if doc is not None else applying.plan(ProjectArgs(project.root), applying.Selection(), for_text=True, memo=memo).doc


def kept(project: Project) -> dict:
    for _ in range(4):
        time.sleep(0.03)  # (what the plan before wrote is then older than a clock tick: see read_trace)
        doc = plan(project)
        if list(project.path(".zplan/cache/plans").glob("*.memo")):
            return doc
    pytest.fail("no plan was kept")


def test_a_kept_plan_is_shown_without_planning(project, monkeypatch):
    doc = kept(project)
    monkeypatch.setattr(applying, "make_plan", lambda *a, **k: pytest.fail("planned again"))
    again = plan(project)
    assert {k: v for k, v in again.items() if k != "created_at"} == {k: v for k, v in doc.items() if k != "created_at"}


def test_verify_fails_loudly_when_the_kept_plan_differs(project):
    doc = kept(project)
    liar = {**doc, "stack": "elsewhere"}
    with pytest.raises(AssertionError, match=r"differs from the plan made again, in \['stack'\]"):
        plan_memo.verified(liar, lambda: plan(project))
    assert plan_memo.verified(doc, lambda: plan(project)) is doc


def test_a_damaged_memo_plans_as_usual(project):
    kept(project)
    (memo,) = project.path(".zplan/cache/plans").glob("*.memo")
    memo.write_bytes(b"\x00garbage")
    assert plan(project)["steps"]


def test_an_apply_finding_the_kept_plan_unchanged_plans_nothing(project, monkeypatch):
    """`zplan apply` shares the JSON plan's memo (the flags as apply_cmd gives them): under the lock, unchanged,
    it is the whole apply; once anything it read changed, the apply plans as usual."""
    def memo():
        return plan_memo.for_plan(project.root, [], None, ([], [], [], False, None, False), False)

    for _ in range(4):
        time.sleep(0.03)
        applying.plan(ProjectArgs(project.root), applying.Selection(), memo=memo())
    ui = applying.ApplyUI(hooks=lambda doc: pytest.fail("applied"))
    with monkeypatch.context() as m:
        m.setattr(applying, "make_plan", lambda *a, **k: pytest.fail("planned again"))
        outcome = applying.apply_changes(ProjectArgs(project.root), applying.Selection(), ui, memo=memo())
    assert outcome.result is None and [s["action"] for s in outcome.doc["steps"]] == ["cached"]
    project.write("data.txt", "changed\n")
    outcome = applying.apply_changes(ProjectArgs(project.root), applying.Selection(), applying.ApplyUI(hooks=lambda doc: Hooks()), memo=memo())
    assert outcome.result.ok and [s["action"] for s in outcome.doc["steps"]] == ["run"]


def test_the_key_holds_the_environment_but_what_the_shell_sets_for_itself(monkeypatch, tmp_path):
    """`_` (the command the shell ran: `time zplan plan` differs from `zplan plan`), OLDPWD and SHLVL change
    nothing a plan reads; any other variable may (ZPLAN_VAR_*, a library's setting)."""
    def key() -> bytes:
        return plan_memo.for_plan(tmp_path, [], None, (), True).key

    before = key()
    for name, value in (("_", "/usr/bin/time"), ("OLDPWD", "/elsewhere"), ("SHLVL", "7")):
        monkeypatch.setenv(name, value)
    assert key() == before
    monkeypatch.setenv("ZPLAN_VAR_k", "5")
    assert key() != before
