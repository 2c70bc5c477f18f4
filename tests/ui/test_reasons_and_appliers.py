"""Why each step ran (the plan's reasons, recorded at apply) on the Run page, and who applied each
run (the OS user, the CI and its run's page) on the Runs page."""

from __future__ import annotations

import getpass

import pytest
from starlette.testclient import TestClient

import zplan
from tests.cli.helpers import QUICKSTART, cli_env, copy_project
from zplan.metadata import Applier, ExecutionView, GitInfo, RunDetail, RunSummary
from zplan.render.runs_view import run_lines
from zplan.ui import html, pages
from zplan.ui.app import create_app

from .conftest import PROBE_HCL, PROBE_PY, SECRET

TRAIN, EVALUATE, LOAD = (f"pipeline.training.step.{s}" for s in ("train", "evaluate", "load"))
CI_ENV = {"GITHUB_ACTIONS": "true", "CI": "true", "GITHUB_SERVER_URL": "https://github.com",
          "GITHUB_REPOSITORY": "acme/models", "GITHUB_RUN_ID": "4242"}
RUN_PAGE = "https://github.com/acme/models/actions/runs/4242"


@pytest.fixture(scope="module")
def client(quickstart) -> TestClient:
    return TestClient(create_app(quickstart.root))


def _reasons(client: TestClient, run: int, step: str) -> list[dict]:
    return client.get(f"/api/runs/{run}", params={"step": step}).json()["step"]["reasons"]


def test_a_step_shows_why_it_ran(client, quickstart):
    assert {"code": "params_changed", "message": "params.c: 1 -> 0.5"} in _reasons(client, 2, TRAIN)
    # planned as "upstream reruns"; once train had run, apply saw the model it reads had changed
    assert _reasons(client, 2, EVALUATE) == [{"code": "input_changed", "message": "input model changed"}]
    assert [r["code"] for r in _reasons(client, 1, LOAD)] == ["never_ran"]
    producer = zplan.open(quickstart.root).artifact(TRAIN, run=2).produced_by  # the read API gives them too
    assert producer.reasons == (("params_changed", "params.c: 1 -> 0.5"),) and producer.cached_from is None
    html = client.get("/runs/2", params={"step": TRAIN}).text
    assert '<li data-code="params_changed">params.c: 1 -&gt; 0.5</li>' in html


def test_a_cached_step_names_the_run_it_reused(client):
    [cached] = _reasons(client, 2, LOAD)
    assert cached["code"] == "cached" and cached["message"].endswith("reused from run 1")


def test_runs_show_who_applied_them(client, quickstart):
    run2 = client.get("/api/runs").json()["runs"][0]
    assert run2["user"] == getpass.getuser()
    html = client.get("/").text
    assert "<th>who / CI</th>" in html and f"{getpass.getuser()}@{run2['host']}" in html
    shown = quickstart.ok("runs", "show", "2").out
    assert f"by {getpass.getuser()}" in shown and "why params.c: 1 -> 0.5" in shown and "why cached: outputs reused from run 1" in shown


def test_a_ci_apply_links_its_run_and_reasons_keep_secrets_masked(tmp_path):
    # a project of its own: a copy of another would rewrite that one's files (resource paths are absolute)
    project = copy_project(QUICKSTART, tmp_path / "probe-ci")
    project.write("probe.zp.hcl", PROBE_HCL)
    project.write("steps/probe.py", PROBE_PY)
    project.apply()
    other = "tok-0a1b2c3d4e5f60"
    project.ok("apply", "-auto-approve", "-var", f"token={other}", env=cli_env(**CI_ENV))
    client = TestClient(create_app(project.root))
    run2, run1 = client.get("/api/runs").json()["runs"]
    assert (run2["ci"], run2["ci_url"]) == ("GitHub Actions", RUN_PAGE) and run1["ci"] is None
    assert f'<a class="ci" href="{RUN_PAGE}">GitHub Actions</a>' in client.get("/").text
    echo = "pipeline.probe.step.echo"
    assert {"code": "params_changed", "message": "params.token: <sensitive> -> <sensitive>"} in _reasons(client, 2, echo)
    pages = [client.get("/api/runs/2", params={"step": echo}).text, client.get("/runs/2", params={"step": echo}).text,
             project.ok("runs", "show", "2").out]
    assert not [p for p in pages if SECRET in p or other in p]


def test_a_run_recorded_before_reasons_and_appliers_still_shows():
    old = ExecutionView(1, TRAIN, "training", "train", "complete", "k", {}, "c", 0.0, 1.0, None, 1, GitInfo(None, None, None))
    assert [r["message"].split(":")[0] for r in pages._reasons(old)] == ["ran"]
    summary = RunSummary(1, "training", "local", "succeeded", 0.0, 1.0, 1, 0, 0, GitInfo(None, None, None), host="box")
    assert summary.applier == Applier() and str(html.applier(pages._run_summary(summary))) == "box"
    assert run_lines(RunDetail(summary, [old]))[0][1].endswith("git no git")
