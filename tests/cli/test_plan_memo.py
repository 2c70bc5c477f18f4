"""Through the real CLI: a no-change plan is kept (.zplan/cache/plans/) and shown again while nothing
it read changed; every change a plan can see (code, a helper module, data, variables from the files,
the environment or -var, the state, the store, a file read undeclared) still shows at once, and an
apply finding the kept plan unchanged has nothing to do."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.cli.helpers import Project, cli_env, reasons, steps_by_action, with_local_stack

ON = cli_env(ZPLAN_PLAN_MEMO="on")  # the kept plan alone, as users get it (the suite otherwise checks it against a fresh one)
MEMOS = ".zplan/cache/plans"


def memo_of(project: Project) -> Path | None:
    """The kept plan of the tests' flags (`plan -format json`), when there is one."""
    found = sorted(project.path(MEMOS).glob("*.memo")) if project.path(MEMOS).is_dir() else []
    assert len(found) <= 1, found
    return found[0] if found else None

FILES = {
    "main.zp.hcl": with_local_stack("""
        variable "k" {
          default = 2
        }

        pipeline "p" {
          step "load" {
            source = "steps.py:load"
            inputs = { raw = "data/raw.csv" }
          }
          step "fit" {
            source = "steps.py:fit"
            inputs = { rows = step.load.outputs.output }
            params = { k = var.k, table = "conf/table.txt" }
          }
        }
    """),
    "helper.py": """
        def scale(x):
            return x * 10
    """,
    "steps.py": """
        from pathlib import Path

        from helper import scale


        def load(raw: Path) -> int:
            return len(raw.read_text().splitlines())


        def fit(rows: int, k: int, table: str) -> int:
            return scale(rows * k) + len(Path(table).read_text())
    """,
    "data/raw.csv": "a\nb\n",
    "conf/table.txt": "x\n",
}


@pytest.fixture(scope="module")
def applied(tmp_path_factory) -> Project:
    project = Project(tmp_path_factory.mktemp("memo") / "project").write_all(FILES)
    project.apply()
    return project


@pytest.fixture
def project(applied, tmp_path) -> Project:
    """A copy whose no-change plan is kept (the first plan after an apply may still be saving its caches)."""
    project = applied.clone(tmp_path / "project")
    for _ in range(3):
        assert not steps_by_action(plan(project))["run"]  # (as the tests plan: the kept plan is that of these flags)
        if memo_of(project) is not None:
            return project
    pytest.fail("no plan was kept")


def plan(project: Project, *args: str, env: dict | None = None) -> dict:
    import json

    return json.loads(project.ok("plan", "-format", "json", *args, env=env or ON).out)


def test_a_kept_plan_is_shown_again_unchanged(project):
    kept = memo_of(project).stat()
    first, again = plan(project), plan(project)
    assert first.pop("created_at") <= again.pop("created_at")  # (the time it is shown)
    assert first == again and len(steps_by_action(again)["cached"]) == 2
    now = memo_of(project).stat()
    assert (now.st_ino, now.st_mtime_ns) == (kept.st_ino, kept.st_mtime_ns)  # shown again, not made again
    text = project.ok("plan", env=ON).out  # (another kept plan: the text one, beside it)
    assert "Steps: 0 to run, 2 cached." in text and project.ok("plan", env=ON).out == text
    assert len(list(project.path(MEMOS).glob("*.memo"))) == 2


@pytest.mark.parametrize("change, expected", [
    (lambda p: p.replace("steps.py", "rows * k", "rows * k + 1"), {"fit": "code changed"}),
    (lambda p: p.replace("helper.py", "x * 10", "x * 11"), {"fit": "code changed"}),
    (lambda p: p.write("data/raw.csv", "a\nb\nc\n"), {"load": "input raw changed"}),
    (lambda p: p.replace("main.zp.hcl", "default = 2", "default = 3"), {"fit": "params.k"}),
    (lambda p: p.write("conf/table.txt", "xy\n"), {"fit": "conf/table.txt changed since the step read it"}),
    (lambda p: shutil.rmtree(next(p.path(".zplan/artifacts").glob("*/*"))), {"": "artifact missing"}),
])
def test_every_change_a_plan_reads_is_shown_at_once(project, change, expected):
    change(project)
    doc = plan(project)
    runs = steps_by_action(doc)["run"]
    assert runs, doc
    why = reasons(doc)
    for step, text in expected.items():
        assert any(text in r for s in ([step] if step else runs) for r in why[s]), why


def test_variables_from_the_environment_and_the_command_line_are_seen(project):
    assert steps_by_action(plan(project, env=cli_env(ZPLAN_PLAN_MEMO="on", ZPLAN_VAR_k="5")))["run"] == {"fit"}
    assert steps_by_action(plan(project, "-var", "k=7"))["run"] == {"fit"}
    assert steps_by_action(plan(project, "-var", "k=2"))["run"] == set()


def test_a_new_state_is_seen(project):
    project.apply("-replace", "pipeline.p.step.fit")
    doc = plan(project)
    assert steps_by_action(doc)["run"] == set()
    assert doc["state"]["serial"] == project.state()["serial"]


def test_a_touched_input_plans_again_and_is_kept_again(project):
    """Stamps moved, contents the same: planned as usual (the stat cache learns the new stamps), kept once settled."""
    os.utime(project.path("data/raw.csv"))
    for _ in range(2):
        assert not steps_by_action(plan(project))["run"]
    kept = memo_of(project).stat()
    assert not steps_by_action(plan(project))["run"]
    assert memo_of(project).stat().st_mtime_ns == kept.st_mtime_ns


def test_an_apply_finding_the_kept_plan_unchanged_has_nothing_to_do(project):
    """`apply` shares the kept JSON plan of the same flags: unchanged under the lock, nothing is planned or run."""
    state = project.path(".zplan/state.json").stat()
    done = project.ok("apply", "-auto-approve", env=ON)
    assert "No changes. Nothing to apply." in done.out
    assert project.path(".zplan/state.json").stat().st_mtime_ns == state.st_mtime_ns
    project.write("data/raw.csv", "a\nb\nc\n")  # the kept plan is stale now: the apply plans, and runs load
    done = project.ok("apply", "-auto-approve", env=ON)
    assert "pipeline.p.step.load" in done.out and "No changes" not in done.out
    assert steps_by_action(plan(project))["run"] == set()


def test_a_plan_with_changes_is_never_kept(project):
    memo_of(project).unlink()
    project.write("data/raw.csv", "z\n")
    for _ in range(2):
        assert steps_by_action(plan(project))["run"]
    assert memo_of(project) is None


def test_off_keeps_nothing(applied, tmp_path):
    project = applied.clone(tmp_path / "off")
    for _ in range(3):
        assert project.run("plan", "-detailed-exitcode", env=cli_env(ZPLAN_PLAN_MEMO="off")).code == 0
    assert memo_of(project) is None


@pytest.mark.parametrize("inputs", [
    '{ d = "data/${var.token}.txt" }',  # a path built from the secret
    '{ d = "data" }',  # a folder listed, one of its files named as the secret is
])
def test_a_secret_in_what_the_plan_read_is_never_kept(tmp_path, inputs):
    project = Project(tmp_path / "secret").write_all({
        "main.zp.hcl": with_local_stack("""
            variable "token" {
              sensitive = true
            }

            pipeline "p" {
              step "s" {
                source = "steps.py:s"
                inputs = INPUTS
                params = { token = var.token }
              }
            }
        """.replace("INPUTS", inputs)),
        "steps.py": """
            from pathlib import Path


            def s(d: Path, token: str) -> int:
                return len(token)
        """,
        "data/hunter22.txt": "x\n",
    })
    env = cli_env(ZPLAN_PLAN_MEMO="on", ZPLAN_VAR_token="hunter22")
    project.ok("apply", "-auto-approve", env=env)
    for _ in range(3):
        assert project.run("plan", "-detailed-exitcode", env=env).code == 0
    assert memo_of(project) is None
