"""Team stacks end to end through the real CLI: artifacts on S3 / GCS servers, metadata and
state on MariaDB, shared by separate checkouts, under concurrent applies, with lineage.

Servers come from the session fixtures (``tests/fixtures``); every zplan command is its own
process (``tests/testdata/team/harness.py``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.testdata.team.harness import QUICKSTART, Zplan, bucket_files, copy_project, step_lines, write_stacks
from zplan.config.values import shown_value
from zplan.state.mysql import MySQLBackend

pytestmark = pytest.mark.slow

QUICKSTART_STEPS = [f"pipeline.training.step.{s}" for s in ("load", "split", "scale", "train", "evaluate")]
TINY_STEPS = ["pipeline.tiny.step.load", "pipeline.tiny.step.total"]
DB_PASSWORD = {"ZPLAN_VAR_db_password": "zplan"}  # the fixture server's password, given as a sensitive variable
OUT_LINE = re.compile(r"^\s+(in|out)\s+(\w+): (\S+) \(artifact \d+\)$")


def without_password(mysql_url: str) -> str:
    """``mysql://zplan@host:port/db``: the password comes from ``metadata_password`` instead."""
    return mysql_url.replace("zplan:zplan@", "zplan@")


def team_stack(name: str, artifacts: str, mysql_url: str) -> str:
    return f"""
stack "{name}" {{
  artifact_store    = "{artifacts}"
  metadata_store    = "{without_password(mysql_url)}"
  metadata_password = var.db_password
}}
"""


PASSWORD_VARIABLE = """
variable "db_password" {
  type      = string
  sensitive = true
}
"""


def run_uris(zp: Zplan, run: int, stack: str | None = None) -> dict[str, list[str]]:
    """``{"in": [...], "out": [...]}``: the artifact URIs `runs show` lists for a run."""
    args = ["runs", "show", str(run)] + (["-stack", stack] if stack else [])
    found: dict[str, list[str]] = {"in": [], "out": []}
    for line in zp(*args).out.splitlines():
        if m := OUT_LINE.match(line):
            found[m.group(1)].append(m.group(3))
    return found


def plan_steps(zp: Zplan, *args: str) -> dict[str, str]:
    doc = json.loads(zp("plan", "-format", "json", *args).out)
    return {s["address"]: s["action"] for s in doc["steps"]}


# -- 1. one pipeline, three backends --------------------------------------------------------------


def test_quickstart_gives_the_same_accuracy_on_s3_gcs_and_mariadb(
    tmp_path: Path, s3_url: str, gcs_url: str, mysql_url: str
) -> None:
    project = copy_project(QUICKSTART, tmp_path / "quickstart")
    team_artifacts = s3_url + "-team"
    write_stacks(project, PASSWORD_VARIABLE + f"""
stack "s3" {{
  artifact_store = "{s3_url}"
}}

stack "gcs" {{
  artifact_store = "{gcs_url}"
}}
""" + team_stack("team", team_artifacts, mysql_url))
    zp = Zplan(project, DB_PASSWORD)
    wine = (project / "data" / "wine.csv").read_bytes()

    accuracy = {}
    for stack, store in (("s3", s3_url), ("gcs", gcs_url), ("team", team_artifacts)):
        zp("stack", "select", stack)
        applied = zp("apply", "-auto-approve")
        assert re.search(r"run \d+: 5 step\(s\)", applied.out), applied  # a new store pair: everything runs
        accuracy[stack] = json.loads(zp("output", "-json").out)["accuracy"]["value"]
        assert f"accuracy = {shown_value(accuracy[stack])}" in applied.out
        assert "Warning" not in applied.err  # client libraries' import-time warnings stay out of the output

        # Every artifact the run recorded is complete in the bucket, and holds what the steps made.
        run = int(re.search(r"run (\d+):", applied.out).group(1))
        uris = run_uris(zp, run)
        assert len(uris["out"]) == 7 and all(u.startswith(store + "/") for u in uris["in"] + uris["out"])
        stored = bucket_files(store)
        for uri in uris["in"] + uris["out"]:
            assert f"{uri[len(store) + 1:]}/.zplan-complete" in stored, uri
        evaluated = uris["out"][-1][len(store) + 1:]  # evaluate's output is listed last
        assert json.loads(stored[f"{evaluated}/value.json"]) == accuracy[stack]
        assert any(k.endswith("/wine.csv") and v == wine for k, v in stored.items())

        assert zp("plan", "-detailed-exitcode").code == 0

    assert accuracy["s3"] == accuracy["gcs"] == accuracy["team"]
    logs = list((project / ".zplan" / "logs").rglob("*.log"))
    assert len(logs) == 15 and not any("Warning" in log.read_text() for log in logs)  # ...and out of step logs
    assert 0.8 <= accuracy["s3"] <= 1.0
    # The team stack's run and state are in MariaDB, not in the checkout's files.
    runs = zp("runs", "-stack", "team").out
    assert re.search(r"^\s+1\s.*succeeded\s+5\s+0\s+0\s.*team / training", runs, re.M), runs
    backend = MySQLBackend(mysql_url, workspace="team")
    assert backend.read()["serial"] >= 1


# -- 2. two checkouts, one cache ----------------------------------------------------------------


def test_a_second_checkout_finds_every_step_cached(tmp_path: Path, s3_url: str, mysql_url: str) -> None:
    stacks = PASSWORD_VARIABLE + team_stack("team", s3_url, mysql_url)
    checkout_a = copy_project("tiny", tmp_path / "alice")
    checkout_b = copy_project("tiny", tmp_path / "bob")
    for checkout in (checkout_a, checkout_b):
        write_stacks(checkout, stacks)
    alice, bob = Zplan(checkout_a, DB_PASSWORD), Zplan(checkout_b, DB_PASSWORD)

    alice("apply", "-auto-approve")
    plan = bob("plan", "-detailed-exitcode")
    assert plan.code == 0
    assert step_lines(plan.out) == {s: "cached" for s in TINY_STEPS}
    assert all(re.search(rf"= {re.escape(s)}\s+cached \(run 1, ", plan.out) for s in TINY_STEPS), plan
    assert not (checkout_b / ".zplan" / "state.json").exists()  # B read the shared state, wrote none of its own
    assert json.loads(bob("output", "-json").out)["total"]["value"] == 30

    # What B changes and applies, A then finds done.
    changed = bob("apply", "-auto-approve", "-var", "factor=5")
    assert "pipeline.tiny.step.load: cached" in changed.out and "total = 50" in changed.out
    assert alice("plan", "-detailed-exitcode", "-var", "factor=5").code == 0
    assert re.search(r"^\s+2\s.*succeeded\s+1\s+1\s+0\s", alice("runs").out, re.M)


# -- 3. two applies at once ------------------------------------------------------------------------


def wait_for(predicate, what: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def finish(proc: subprocess.Popen, stderr: Path) -> tuple[int, str, str]:
    out, _ = proc.communicate(timeout=120)
    return proc.returncode, out, stderr.read_text()


def start_pair(zp: Zplan, tmp_path: Path, tag: str, *args: str) -> tuple[list[subprocess.Popen], list[Path], Path]:
    """Two identical applies started together; the step of whichever gets the lock waits at a gate."""
    gate = tmp_path / f"gate-{tag}"
    gate.mkdir()
    errs = [tmp_path / f"{tag}-{i}.err" for i in (1, 2)]
    procs = [zp.start("apply", "-auto-approve", *args, stderr=e, env={"TINY_GATE": str(gate)}) for e in errs]
    return procs, errs, gate


def test_concurrent_applies_on_mariadb_wait_or_fail_and_corrupt_nothing(
    tmp_path: Path, s3_url: str, mysql_url: str
) -> None:
    project = copy_project("tiny", tmp_path / "tiny")
    write_stacks(project, PASSWORD_VARIABLE + team_stack("team", s3_url, mysql_url))
    zp = Zplan(project, DB_PASSWORD)
    backend = MySQLBackend(mysql_url, workspace="team")

    # Without waiting: the one that finds the lock taken fails at once, naming the holder.
    procs, errs, gate = start_pair(zp, tmp_path, "nowait", "-lock-timeout", "0s")
    wait_for(lambda: (gate / "entered").exists(), "one apply to reach its step")
    holder = backend.current_lock()
    assert holder is not None and holder.operation == "apply"
    wait_for(lambda: any(p.poll() is not None for p in procs), "the other apply to give up")
    loser = next(i for i, p in enumerate(procs) if p.poll() is not None)
    code, out, err = finish(procs[loser], errs[loser])
    assert code == 1 and "Traceback" not in err
    assert f"state is locked: ID {holder.id}, apply by {holder.who} (pid {holder.pid})" in err
    assert "run 1:" not in out  # it ran nothing
    (gate / "open").touch()
    code, out, err = finish(procs[1 - loser], errs[1 - loser])
    assert code == 0, err
    assert "Apply complete: 2 ok." in out
    serial = backend.read()["serial"]
    assert serial >= 1 and backend.current_lock() is None

    # Waiting: the second one gets the lock once the first is done, re-plans and finds nothing to do.
    procs, errs, gate = start_pair(zp, tmp_path, "wait", "-lock-timeout", "60s", "-var", "factor=7")
    wait_for(lambda: (gate / "entered").exists(), "one apply to reach its step")
    wait_for(lambda: any("Waiting for the state lock (ID" in e.read_text() for e in errs), "the other apply to wait")
    waiter = next(i for i, e in enumerate(errs) if "Waiting for the state lock" in e.read_text())
    assert procs[waiter].poll() is None
    (gate / "open").touch()
    results = [finish(p, e) for p, e in zip(procs, errs)]
    assert [r[0] for r in results] == [0, 0], results
    assert "total = 70" in results[1 - waiter][1]
    assert "No changes. Nothing to apply." in results[waiter][1] and "run 3:" not in results[waiter][1]

    # Nothing corrupted: state readable at the next serial, one run recorded, the next plan clean.
    state = json.loads(zp("show", "-json").out)
    assert state["serial"] == serial + 1 and state["outputs"]["total"] == 70
    assert backend.current_lock() is None
    assert zp("plan", "-detailed-exitcode", "-var", "factor=7").code == 0
    runs = zp("runs").out
    assert [line.split()[0] for line in runs.splitlines()[1:]] == ["2", "1"], runs


# -- 6. lineage ---------------------------------------------------------------------------------------


def git(project: Path, *args: str) -> str:
    who = {"GIT_AUTHOR_NAME": "Test", "GIT_AUTHOR_EMAIL": "test@example.com"}
    env = {**os.environ, **who, "GIT_COMMITTER_NAME": "Test", "GIT_COMMITTER_EMAIL": "test@example.com"}
    return subprocess.run(["git", *args], cwd=project, env=env, check=True, capture_output=True, text=True).stdout.strip()


def test_lineage_of_accuracy_reaches_the_dataset_and_the_commit(tmp_path: Path) -> None:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    project = copy_project(QUICKSTART, tmp_path / "quickstart")
    git(project, "init", "-q", "-b", "main")
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "quickstart")
    commit = git(project, "rev-parse", "HEAD")
    zp = Zplan(project)

    zp("apply", "-auto-approve")
    lineage = zp("lineage", "accuracy").out
    assert lineage.splitlines()[0].startswith("artifact ") and "builtins.float via json" in lineage.splitlines()[0]
    assert re.search(r"csv: data snapshot data/wine\.csv \(artifact \d+, ", lineage), lineage
    for step in QUICKSTART_STEPS:
        assert f"<- {step} (run 1, complete, code " in lineage
    assert f"git {commit[:10]})" in lineage and "+dirty" not in lineage  # .zplan/ and reports/ do not count

    run = zp("runs", "show", "1").out
    assert f"git {commit[:10]}" in run.splitlines()[0]
    listed = [line.split()[0] for line in run.splitlines()[1:] if line.startswith("  pipeline.")]
    assert listed == QUICKSTART_STEPS
    assert re.search(r"^\s+1\s.*succeeded\s+5\s+0\s+0\s.*local / training / " + commit[:10], zp("runs").out, re.M)
