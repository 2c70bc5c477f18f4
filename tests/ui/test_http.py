"""The dashboard over HTTP (Starlette's TestClient) on the quickstart applied twice: the JSON behind
each page, and the pages themselves."""

from __future__ import annotations

import html
import re
import socket

import pytest
from starlette.testclient import TestClient

from tests.cli.helpers import QUICKSTART, copy_project
from zplan.ui.app import create_app

STEPS = ("load", "split", "scale", "train", "evaluate")
RUN2 = {"load": "cached", "split": "cached", "scale": "cached", "train": "ran", "evaluate": "ran"}


@pytest.fixture(scope="module")
def client(quickstart) -> TestClient:
    return TestClient(create_app(quickstart.root))


def test_runs_json_newest_first_with_counts(client):
    page = client.get("/api/runs").json()
    assert [r["number"] for r in page["runs"]] == [2, 1]
    run2, run1 = page["runs"]
    assert (run1["steps_run"], run1["steps_cached"], run1["steps_failed"]) == (5, 0, 0)
    assert (run2["steps_run"], run2["steps_cached"], run2["steps_failed"]) == (2, 3, 0)
    assert run2["status"] == "succeeded" and run2["pipeline"] == "training" and run2["stack"] == "local"
    assert len(run2["git_commit"]) == 40 and run2["duration"] > 0
    assert run2["host"] == socket.gethostname()
    assert page["next_before"] is None


def test_runs_filter_and_page(client):
    assert [r["number"] for r in client.get("/api/runs?status=failed").json()["runs"]] == []
    assert [r["number"] for r in client.get("/api/runs?pipeline=training&status=succeeded").json()["runs"]] == [2, 1]
    assert client.get("/api/runs?pipeline=other").json()["runs"] == []
    assert [r["number"] for r in client.get("/api/runs?before=2").json()["runs"]] == [1]
    bad = client.get("/api/runs?before=abc")
    assert bad.status_code == 400 and "before" in bad.json()["error"]
    quoted = client.get("/api/runs", params={"pipeline": "x' OR '1'='1"})
    assert quoted.status_code == 400
    typo = client.get("/api/runs?status=succeded")
    assert typo.status_code == 400 and "succeeded" in typo.json()["error"]


def test_run_json_graph_after_a_param_change(client):
    page = client.get("/api/runs/2").json()
    status = {n["step"]: n["status"] for n in page["nodes"]}
    assert status == RUN2
    edges = {(a.split(".")[-1], b.split(".")[-1]) for a, b in page["edges"]}
    assert {("load", "split"), ("split", "scale"), ("scale", "train"), ("train", "evaluate"), ("scale", "evaluate")} <= edges
    assert {n["step"]: n["status"] for n in client.get("/api/runs/1").json()["nodes"]} == dict.fromkeys(STEPS, "ran")


def test_step_details_params_cache_key_artifacts_preview(client):
    train = client.get("/api/runs/2", params={"step": "pipeline.training.step.train"}).json()["step"]
    assert train["params"] == {"c": 0.5, "seed": 42}
    assert train["status"] == "ran" and len(train["cache_key"]) > 10 and train["code_hash"]
    assert [(a["name"], a["materializer"]) for a in train["inputs"]] == [("train", "pandas.arrow")]  # read by a step: Arrow IPC
    assert [(a["name"], a["materializer"]) for a in train["outputs"]] == [("output", "sklearn.pickle")]
    assert all(a["size"] > 0 for a in train["inputs"] + train["outputs"])
    scale = client.get("/api/runs/2", params={"step": "pipeline.training.step.scale"}).json()["step"]
    preview = {a["name"]: a["preview"] for a in scale["outputs"]}
    assert preview["train"]["kind"] == "table" and "target" in preview["train"]["columns"]
    assert len(preview["train"]["rows"]) == 8 and preview["train"]["shape"][1] == len(preview["train"]["columns"])
    evaluate = client.get("/api/runs/1", params={"step": "pipeline.training.step.evaluate"}).json()["step"]
    assert evaluate["outputs"][0]["preview"]["kind"] == "text" and float(evaluate["outputs"][0]["preview"]["text"]) > 0


def test_unknown_run_step_and_artifact_are_404(client):
    assert client.get("/api/runs/99").status_code == 404
    assert client.get("/runs/99").status_code == 404 and "no run" in client.get("/runs/99").text
    assert client.get("/api/runs/2", params={"step": "pipeline.training.step.nope"}).status_code == 404
    assert client.get("/api/lineage/999999").status_code == 404
    assert client.get("/api/outputs/nope").status_code == 404


def test_lineage_json_reaches_the_data_snapshot_and_commit(client, quickstart):
    page = client.get("/api/lineage/output/accuracy").json()
    kinds = [n["kind"] for n in page["nodes"]]
    assert kinds.count("snapshot") == 1 and kinds.count("execution") == len(STEPS)
    snapshot = next(n for n in page["nodes"] if n["kind"] == "snapshot")
    assert snapshot["label"] == "data/wine.csv"
    executions = [n for n in page["nodes"] if n["kind"] == "execution"]
    assert {n["label"] for n in executions} == set(STEPS)
    assert all(len(n["git_commit"]) == 40 and n["code_hash"] for n in executions)
    ids = {n["id"] for n in page["nodes"]}
    assert all(a in ids and b in ids for a, b in page["edges"])
    same = client.get(f"/api/lineage/{page['artifact_id']}").json()
    assert same["nodes"] == page["nodes"]


def test_outputs_over_time(client):
    page = client.get("/api/outputs/accuracy").json()
    assert [p["run"] for p in page["history"]] == [1, 2]
    assert all(isinstance(p["value"], float) and 0 < p["value"] <= 1 for p in page["history"])
    assert {o["name"] for o in page["outputs"]} == {"accuracy"}
    html = client.get("/outputs/accuracy").text
    assert html.count('class="point"') == 2 and "run 2:" in html


def test_plan_json_is_the_json_plan_and_writes_nothing(client, quickstart):
    before = quickstart.read(".zplan/state.json")
    doc = client.get("/api/plan").json()["doc"]
    assert doc["format_version"].startswith("1.") and doc["summary"]["steps_cached"] == 5
    assert ["resource.local_directory.reports", "pipeline.training.step.evaluate"] in doc["graph"]["edges"]
    assert quickstart.read(".zplan/state.json") == before


def test_saved_plan_page(client, quickstart):
    quickstart.ok("plan", "-var", "c=2.0", "-out", "review.zplan")
    doc = client.get("/api/plan", params={"file": "review.zplan"}).json()["doc"]
    assert {s["step"]: s["action"] for s in doc["steps"]}["train"] == "run"
    html = client.get("/plan", params={"file": "review.zplan"}).text
    assert "saved plan review.zplan" in html and "params.c" in html
    assert '<option value="review.zplan" selected>' in html  # offered on the plan page
    assert client.get("/api/plan").json()["files"] == ["review.zplan"]
    assert client.get("/api/plan", params={"file": "missing.zplan"}).status_code == 400


def test_plan_page_shows_an_output_it_removes_with_its_recorded_value(quickstart, tmp_path):
    # listed as plain `accuracy null` once the JSON plan kept a removed output's old value
    project = quickstart.clone(tmp_path / "quickstart")
    project.replace("main.zp.hcl", 'output "accuracy" {', 'output "score" {')
    page = TestClient(create_app(project.root)).get("/plan").text
    row = re.search(r"<tr><td>accuracy</td>.*?</tr>", page, re.S).group(0)
    before = project.plan_json()["outputs"]["accuracy"]["before"]
    assert isinstance(before, float) and f"<code>{before}</code> -&gt; null" in row and "removed" in row, row


def test_resources_json(client):
    (reports,) = client.get("/api/resources").json()["resources"]
    assert reports["address"] == "resource.local_directory.reports" and reports["provider"] == "local"
    assert reports["attributes"]["path"].endswith("reports") and reports["drift"] == [] and reports["action"] == "no-op"


def test_resources_page_shows_drift(tmp_path):
    project = copy_project(QUICKSTART, tmp_path / "drifted")
    project.apply("-target", "resource.local_directory.reports")
    (project.root / "reports").rmdir()
    client = TestClient(create_app(project.root))
    (reports,) = client.get("/api/resources").json()["resources"]
    assert reports["drift"] == ["deleted outside zplan"] and reports["action"] == "create"
    assert "deleted outside zplan" in client.get("/resources").text


def test_graph_json(client):
    graph = client.get("/api/graph").json()
    assert {n["address"].split(".")[-1] for n in graph["nodes"] if n["kind"] == "step"} == set(STEPS)
    assert ["resource.local_directory.reports", "pipeline.training.step.evaluate"] in graph["edges"]


@pytest.mark.parametrize("path", ["/", "/runs/1", "/runs/2?step=pipeline.training.step.scale", "/lineage/output/accuracy",
                                  "/plan", "/resources", "/outputs", "/outputs/accuracy"])
def test_every_page_renders(client, path):
    response = client.get(path)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    assert "<header>" in response.text and "Traceback" not in response.text


def test_run_page_svg_has_five_coloured_nodes(client):
    html = client.get("/runs/2").text
    for step, status in RUN2.items():
        assert f'data-address="pipeline.training.step.{step}" data-status="{status}"' in html
    assert html.count('<g class="node"') == 5


def test_a_failed_run_shows_the_failure_and_what_was_skipped(quickstart, tmp_path):
    project = quickstart.clone(tmp_path / "failing")
    assert project.run("apply", "-auto-approve", "-var", "c=-1").code == 1  # the classifier refuses C < 0
    client = TestClient(create_app(project.root))
    assert [r["number"] for r in client.get("/api/runs?status=failed").json()["runs"]] == [3]
    page = client.get("/api/runs/3").json()
    assert {n["step"]: n["status"] for n in page["nodes"]} == {**RUN2, "train": "failed", "evaluate": "skipped"}
    train = client.get("/runs/3", params={"step": "pipeline.training.step.train"})
    assert train.status_code == 200 and 'class="error"' in train.text and "C" in train.text
    evaluate = client.get("/runs/3", params={"step": "pipeline.training.step.evaluate"})
    assert evaluate.status_code == 200 and "not executed in this run" in evaluate.text


def test_the_history_of_an_output_that_is_no_json_value_is_shown_as_text(quickstart, tmp_path):
    # An output may be a model or a frame: its JSON must still be JSON, and a long value is cut.
    project = quickstart.clone(tmp_path / "model-output")
    project.write("model.zp.hcl", 'output "model" {\n  value = step.train.outputs.output\n}\n'
                                  'output "test_set" {\n  value = step.scale.outputs.test\n}\n')
    project.apply()
    client = TestClient(create_app(project.root))
    model = client.get("/api/outputs/model")
    assert model.status_code == 200, model.text[:300]
    assert all("LogisticRegression" in p["value"] for p in model.json()["history"])
    frame = client.get("/api/outputs/test_set").json()["history"]
    assert frame and all(p["value"].endswith(" …") and len(p["value"]) <= 2002 for p in frame)


def test_steps_of_a_module_pipeline_are_filtered_and_drawn_by_their_pipeline(tmp_path):
    from tests.cli.helpers import Project

    project = Project(tmp_path)
    project.write("main.zp.hcl", 'module "m" {\n  source = "./m"\n}\n')
    project.write("m/m.zp.hcl", 'pipeline "inner" {\n  step "a" {\n    source = "s.py:a"\n  }\n'
                                '  step "b" {\n    source = "s.py:b"\n    inputs = { y = step.a.outputs.output }\n  }\n}\n')
    project.write("m/s.py", 'def a() -> int:\n    raise ValueError("no")\n\n\ndef b(y: int) -> int:\n    return y\n')
    assert project.run("apply", "-auto-approve").code == 1
    client = TestClient(create_app(project.root))
    assert client.get("/api/runs").json()["pipelines"] == ["inner"]  # not the module's name
    nodes = {n["step"]: n["status"] for n in client.get("/api/runs/1").json()["nodes"]}
    assert nodes == {"m.a": "failed", "m.b": "skipped"}  # each named after its module: another module may hold an "a" too


def test_a_run_of_two_pipelines_draws_the_steps_of_each_that_never_ran(tmp_path):
    from tests.cli.helpers import Project

    project = Project(tmp_path)
    project.write("main.zp.hcl", 'resource "local_file" "f" {\n  path    = "/proc/no-such-folder/x.txt"\n  content = "x"\n}\n\n'
                                 'pipeline "a" {\n  step "one" {\n    source = "s.py:one"\n  }\n}\n\n'
                                 'pipeline "b" {\n  step "two" {\n    source = "s.py:two"\n    params = { p = resource.local_file.f.path }\n  }\n}\n')
    project.write("s.py", "def one() -> int:\n    return 1\n\n\ndef two(p: str) -> int:\n    return 2\n")
    assert project.run("apply", "-auto-approve").code == 1  # the file cannot be made: step two never starts
    client = TestClient(create_app(project.root))
    assert client.get("/api/runs").json()["runs"][0]["pipeline"] == "a,b"
    nodes = {n["step"]: n["status"] for n in client.get("/api/runs/1").json()["nodes"]}
    assert nodes == {"one": "ran", "two": "skipped"}


def test_a_long_log_is_shown_by_its_end(tmp_path):
    from tests.cli.helpers import Project

    project = Project(tmp_path)
    project.write("main.zp.hcl", 'pipeline "p" {\n  step "chatty" {\n    source = "s.py:chatty"\n  }\n}\n')
    project.write("s.py", 'def chatty() -> int:\n    for i in range(40000):\n        print(f"epoch {i:05d} loss 0.123456")\n'
                          '    print("the end")\n    return 1\n')
    project.apply()
    step = TestClient(create_app(project.root)).get("/api/runs/1", params={"step": "pipeline.p.step.chatty"}).json()["step"]
    assert step["log"].endswith("epoch 39999 loss 0.123456\nthe end\n") and len(step["log"]) <= 100_000
    assert step["log_cut"] > 900_000  # the characters left out, said on the page
    page = TestClient(create_app(project.root)).get("/runs/1", params={"step": "pipeline.p.step.chatty"}).text
    assert f"the first {step['log_cut']} are left out" in page and len(page) < 200_000


TWINS_HCL = ('pipeline "p" {\n  step "a" {\n    source = "s.py:a"\n    params = { n = 1 }\n  }\n'
             '  step "b" {\n    source = "s.py:b"\n    params = { m = 2 }\n  }\n}\n')
TWINS_PY = "def a(n: int) -> int:\n    return 1\n\n\ndef b(m: int) -> int:\n    return 1\n"  # one artifact, two producers


def _twins(tmp_path):
    from tests.cli.helpers import Project

    project = Project(tmp_path)
    project.write("main.zp.hcl", TWINS_HCL)
    project.write("s.py", TWINS_PY)
    project.apply()
    return project


def test_the_lineage_link_of_a_step_output_leads_to_that_steps_lineage(tmp_path):
    # a and b made the same content (one artifact): each step page's link shows the step's own execution
    client = TestClient(create_app(_twins(tmp_path).root))
    for step in ("pipeline.p.step.a", "pipeline.p.step.b"):
        page = client.get("/runs/1", params={"step": step}).text
        [href] = re.findall(r'class="lineage-link" href="([^"]+)"', page)
        lineage = client.get("/api" + html.unescape(href)).json()
        assert [n["address"] for n in lineage["nodes"] if n["kind"] == "execution"] == [step]
        assert step in client.get(html.unescape(href)).text
    # a step that did not make it is no lineage of it, not an artifact nothing made
    assert client.get("/api/lineage/1", params={"step": "pipeline.p.step.nope"}).status_code == 404


def test_instances_with_dots_in_their_keys_are_named_whole_in_the_graphs(tmp_path):
    """A sweep over learning rates ("0.01", "0.1") drew its run and plan graphs' nodes as `01"]` and
    `1"]`: the name was cut at the last dot, which was inside the key."""
    from tests.cli.helpers import Project

    project = Project(tmp_path / "lrs")
    project.write("main.zp.hcl", 'pipeline "p" {\n  step "fit" {\n    for_each = toset(["0.01", "0.1"])\n'
                                 '    source   = "s.py:fit"\n    params   = { lr = each.key }\n  }\n}\n\n'
                                 'resource "local_directory" "out" {\n  for_each = toset(["0.01", "0.1"])\n'
                                 '  path     = "out/${each.key}"\n}\n')
    project.write("s.py", "def fit(lr: str) -> float:\n    return float(lr)\n")
    project.apply("-target", "pipeline.p")
    client = TestClient(create_app(project.root))
    assert sorted(n["step"] for n in client.get("/api/runs/1").json()["nodes"]) == ['fit["0.01"]', 'fit["0.1"]']
    labels = {html.unescape(t) for t in re.findall(r"<text[^>]*>([^<]*)</text>", client.get("/runs/1").text)}
    assert {'fit["0.01"]', 'fit["0.1"]'} <= labels
    labels = {html.unescape(t) for t in re.findall(r"<text[^>]*>([^<]*)</text>", client.get("/plan").text)}
    assert {'out["0.01"]', 'out["0.1"]'} <= labels


def test_an_output_history_shows_the_runs_whose_artifacts_gc_removed_as_not_read(tmp_path):
    """After `zplan gc -keep-runs 1`, an output's page across runs was a 400 error as a whole, its hint
    (`verify -repair` then `apply`) unable to bring an old run's value back; the runs still readable
    are shown, and the others say why they have no value."""
    from tests.cli.helpers import Project
    from zplan import api

    project = Project(tmp_path / "gc")
    project.write("main.zp.hcl", 'variable "k" {\n  default = 1\n}\n\npipeline "p" {\n  step "score" {\n'
                                 '    source = "s.py:score"\n    params = { k = var.k }\n  }\n}\n\n'
                                 'output "score" {\n  value = step.score.outputs.output\n}\n')
    project.write("s.py", "def score(k: int) -> float:\n    return k / 4\n")
    project.apply()
    project.apply("-var", "k=2")
    project.ok("gc", "-keep-runs", "1", "-grace", "0")
    points = api.open(project.root).output_history("score")
    assert [(p.run, p.value) for p in points] == [(1, None), (2, 0.5)]
    assert "not read" in points[0].note and "is not in" in points[0].note and points[1].note == ""
    page = TestClient(create_app(project.root)).get("/outputs/score")
    assert page.status_code == 200 and "not read" in page.text and "0.5" in page.text


def test_an_output_history_does_not_load_a_large_artifact(tmp_path):
    """The page of an output across runs loaded each run's whole artifact (a model, a frame) to show
    the start of its text, and `zplan ui -export` did so for every output. An artifact over the
    page's limit is not read at all: here its bytes are damaged, and no load reports it."""
    from tests.cli.helpers import Project
    from zplan import api
    from zplan.ui import pages

    project = Project(tmp_path / "big")
    project.write("main.zp.hcl", 'pipeline "p" {\n  step "big" {\n    source = "s.py:big"\n  }\n}\n\n'
                                 'output "big" {\n  value = step.big.outputs.output\n}\n')
    project.write("s.py", "def big() -> str:\n    return 'x' * 1_000_010\n")
    project.apply()
    [data] = [p for p in project.path(".zplan/artifacts").rglob("*") if p.is_file() and p.stat().st_size > 1_000_000]
    data.chmod(0o644)
    written = data.read_bytes()
    data.write_bytes(written.replace(b"x", b"y", 1))  # the same size, another digest
    [point] = api.open(project.root).output_history("big", max_bytes=1_000_000)
    assert point.value is None and point.note.startswith("not loaded: builtins.str of ") and "over 1000000" in point.note
    [point] = api.open(project.root).output_history("big")  # no limit: read, and found damaged
    assert point.value is None and point.note.startswith("not read")
    data.write_bytes(written)  # the page's list of last values reads it (a JSON output, kept in state by its uri)
    assert pages.HISTORY_BYTES <= 1_000_000
    page = TestClient(create_app(project.root)).get("/outputs/big")
    assert page.status_code == 200 and "not loaded: builtins.str of" in page.text and "not read" not in page.text


def test_non_ascii_text_reads_as_written_on_every_page(tmp_path):
    """Params, previews, outputs and plan values showed "Zürich" as "Z\\u00fcrich" (JSON's ASCII escapes),
    where the command line prints it as written."""
    from tests.cli.helpers import Project

    project = Project(tmp_path / "unicode")
    project.write("main.zp.hcl", 'pipeline "p" {\n  step "city" {\n    source = "s.py:city"\n'
                                 '    params = { name = "Zürich ☕", hidden = "a\\u202eb" }\n  }\n}\n\n'
                                 'output "city" {\n  value = step.city.outputs.output\n}\n')
    project.write("s.py", "def city(name: str, hidden: str) -> dict:\n    return {'ville': name, 'café': 1, 'h': hidden}\n")
    project.apply()
    client = TestClient(create_app(project.root))
    for path in ("/runs/1?step=pipeline.p.step.city", "/outputs", "/outputs/city", "/plan"):
        text = html.unescape(client.get(path).text)
        assert "Zürich ☕" in text and "\\u00" not in text, path
        # a direction override is shown as what it is, as the command line shows it, not acted on
        assert "\u202e" not in text and "a\\u202eb" in text, path
    assert "café" in html.unescape(client.get("/runs/1?step=pipeline.p.step.city").text)  # the preview of the output


def test_a_run_being_applied_shows_its_unfinished_steps_as_pending_not_skipped(tmp_path):
    """While an apply ran, the steps it had not finished were drawn as skipped, "not executed in this
    run (an upstream step failed, or it was left out)": the page said of a healthy run that it had failed."""
    import subprocess
    import sys
    import time

    from tests.cli.helpers import Project, cli_env

    project = Project(tmp_path / "slow")
    project.write("main.zp.hcl", 'pipeline "p" {\n  step "a" {\n    source = "s.py:a"\n  }\n'
                                 '  step "b" {\n    source = "s.py:b"\n    inputs = { x = step.a.outputs.output }\n  }\n}\n')
    project.write("s.py", "import pathlib, time\n\n\ndef a() -> int:\n    return 1\n\n\n"
                          "def b(x: int) -> int:\n    for _ in range(600):  # until the test says go, 60 s at most\n"
                          "        if pathlib.Path('go').exists():\n            break\n        time.sleep(0.1)\n    return x + 1\n")
    apply = subprocess.Popen([sys.executable, "-m", "zplan.cli", "apply", "-auto-approve"], cwd=project.root, env=cli_env(),
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        client = TestClient(create_app(project.root))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            page = client.get("/api/runs/1")
            if page.status_code == 200 and {n["step"]: n["status"] for n in page.json()["nodes"]}.get("a") == "ran":
                break
            time.sleep(0.2)
        assert page.json()["summary"]["status"] == "running"
        assert {n["step"]: n["status"] for n in page.json()["nodes"]} == {"a": "ran", "b": "pending"}
        step = client.get("/api/runs/1", params={"step": "pipeline.p.step.b"}).json()["step"]
        assert step["status"] == "pending" and "still being applied" in step["reasons"][0]["message"]
        assert "upstream step failed" not in client.get("/runs/1", params={"step": "pipeline.p.step.b"}).text
    finally:
        project.write("go", "")
        assert apply.wait(timeout=120) == 0
    assert {n["step"]: n["status"] for n in client.get("/api/runs/1").json()["nodes"]} == {"a": "ran", "b": "ran"}


def test_a_long_output_value_is_cut_on_the_outputs_page_as_in_its_history(tmp_path):
    """The outputs table showed each output's last value whole: a step returning 300,000 numbers made
    /outputs (and every /outputs/NAME page, which lists them too) a 2 MB page, while the history below
    cut the same value to its start."""
    from tests.cli.helpers import Project
    from zplan.ui import pages

    project = Project(tmp_path / "long")
    project.write("main.zp.hcl", 'pipeline "p" {\n  step "ids" {\n    source = "s.py:ids"\n  }\n}\n\n'
                                 'output "ids" {\n  value = step.ids.outputs.output\n}\n')
    project.write("s.py", "def ids() -> list:\n    return list(range(300_000))\n")
    project.apply()
    client = TestClient(create_app(project.root))
    for path in ("/outputs", "/outputs/ids"):
        page = client.get(path)
        assert page.status_code == 200 and len(page.text) < 20 * pages.HISTORY_CHARS and "[0, 1, 2, 3" in page.text, path
    [latest] = client.get("/api/outputs").json()["outputs"]
    assert latest["value"].startswith("[0, 1, 2") and latest["value"].endswith(" …")


def test_a_step_an_interrupted_apply_never_started_says_so(tmp_path):
    """After Ctrl-C, the steps the apply never started read "not executed in this run (an upstream step
    failed, or it was left out)", where nothing had failed and nothing was left out; the apply itself
    said "not started: the apply was interrupted"."""
    import signal
    import subprocess
    import sys
    import time

    from tests.cli.helpers import Project, cli_env

    project = Project(tmp_path / "stopped")
    project.write("main.zp.hcl", 'pipeline "p" {\n  step "a" {\n    source = "s.py:a"\n  }\n'
                                 '  step "b" {\n    source = "s.py:b"\n    inputs = { x = step.a.outputs.output }\n  }\n'
                                 '  step "c" {\n    source = "s.py:c"\n    inputs = { x = step.b.outputs.output }\n  }\n}\n')
    project.write("s.py", "import time\n\n\ndef a() -> int:\n    return 1\n\n\ndef b(x: int) -> int:\n    time.sleep(60)\n"
                          "    return x\n\n\ndef c(x: int) -> int:\n    return x\n")
    apply = subprocess.Popen([sys.executable, "-m", "zplan.cli", "apply", "-auto-approve"], cwd=project.root, env=cli_env(),
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        client = TestClient(create_app(project.root))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and apply.poll() is None:
            page = client.get("/api/runs/1")
            if page.status_code == 200 and {n["step"]: n["status"] for n in page.json()["nodes"]}.get("a") == "ran":
                break
            time.sleep(0.2)
        time.sleep(0.5)  # b has started
        apply.send_signal(signal.SIGINT)
        assert apply.wait(timeout=60) != 0
    finally:
        apply.kill()
    page = client.get("/api/runs/1").json()
    assert page["summary"]["status"] == "interrupted"
    step = client.get("/api/runs/1", params={"step": "pipeline.p.step.c"}).json()["step"]
    assert step["status"] == "skipped" and [r["message"] for r in step["reasons"]] == ["not started: the apply was interrupted"]


def test_a_cut_value_reads_as_the_start_of_its_json_not_as_a_string_of_it(tmp_path):
    """A long value, cut to its start, was shown as a JSON string of that text: a map of scores read
    "{\\"k0\\": 0, \\"k1\\": 1, … with every quote escaped, as if the output were one string."""
    from tests.cli.helpers import Project

    project = Project(tmp_path / "map")
    project.write("main.zp.hcl", 'pipeline "p" {\n  step "scores" {\n    source = "s.py:scores"\n  }\n}\n\n'
                                 'output "scores" {\n  value = step.scores.outputs.output\n}\n')
    project.write("s.py", "def scores() -> dict:\n    return {f'k{i}': i for i in range(500)}\n")
    project.apply()
    client = TestClient(create_app(project.root))
    page = client.get("/api/outputs/scores").json()
    assert page["outputs"][0]["cut"] and page["history"][0]["cut"] and page["outputs"][0]["value"].startswith('{"k0": 0, "k1": 1')
    text = html.unescape(client.get("/outputs/scores").text)
    assert text.count('<code>{"k0": 0, "k1": 1, ') == 2 and '\\"' not in text


def test_the_steps_of_each_module_instance_are_told_apart_in_the_graphs(tmp_path):
    """A module made with for_each drew its instances' steps as boxes of one name, "train" and "train",
    in the run, plan and lineage graphs; each is now named after its module instance."""
    from tests.cli.helpers import Project

    project = Project(tmp_path / "mods")
    project.write("main.zp.hcl", 'module "trainer" {\n  for_each = { dev = 1, prod = 2 }\n  source   = "./trainer"\n'
                                 '  c        = each.value\n}\n\noutput "models" {\n'
                                 '  value = { for k, m in module.trainer : k => m.model }\n}\n')
    project.write("trainer/main.zp.hcl", 'variable "c" {\n  default = 1\n}\n\npipeline "p" {\n  step "train" {\n'
                                         '    source = "s.py:train"\n    params = { c = var.c }\n  }\n}\n\n'
                                         'output "model" {\n  value = step.train.outputs.output\n}\n')
    project.write("trainer/s.py", "def train(c: int) -> int:\n    return c * 2\n")
    project.apply()
    client = TestClient(create_app(project.root))
    wanted = {'trainer["dev"].train', 'trainer["prod"].train'}
    assert {n["step"] for n in client.get("/api/runs/1").json()["nodes"]} == wanted
    for path in ("/runs/1", "/plan", "/lineage/output/models"):
        labels = {html.unescape(t) for t in re.findall(r'font-weight="600">([^<]*)</text>', client.get(path).text)}
        assert wanted <= labels, (path, labels)
