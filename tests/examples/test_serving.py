"""examples/serving end to end through the CLI, with a real MLServer process (issue 13).

Train -> local_model_server -> smoke_test in one apply; the served predictions are the
model's own; a param change swaps the model in the running server (no request dropped)
and reruns the smoke test; a comment edit redeploys nothing; a server killed by hand is
drift; destroy stops it and frees its port. The server's environment is created on
first use by zplan itself (once per machine, in the user's cache).
"""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import shutil
import socket
import subprocess
import sys
import sysconfig
import threading
from pathlib import Path

import numpy as np
import pytest

from tests.cli.helpers import Project, cli_env, copy_project
from zplan_provider_local import procs
from zplan_provider_local.serving import mlserver

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "serving"
API = "resource.local_model_server.api"
SERVED = 'resource "local_model_server" "api" {\n  model = step.train.outputs.output'
ROWS = np.random.default_rng(0).normal(size=(25, 13)).round(3).tolist()  # scaled wine features

def _server(project: Project) -> dict:
    return project.state()["resources"][API]["attributes"]


def _in_process(server: dict) -> list:
    with open(Path(server["model"]["path"]) / "model.pkl", "rb") as f:
        return pickle.load(f).predict(np.array(ROWS)).tolist()


def _plan(project: Project, *args: str) -> dict:
    return json.loads(project.ok("plan", "-format", "json", *args).out)


def _resource(doc: dict, address: str) -> dict:
    return next(r for r in doc["resources"] if r["address"] == address)


def _finished(result) -> list[str]:
    """Addresses in the order the apply reported them done."""
    return [line.split(":")[0] for line in result.out.splitlines() if ": " in line and " done in " in line]


@pytest.mark.slow
def test_train_serve_smoke_test_redeploy_drift_and_destroy_through_the_cli(tmp_path):
    project = copy_project(EXAMPLE, tmp_path / "serving")
    try:
        _first_apply_serves_the_model(project)
        _a_comment_edit_redeploys_nothing(project)
        _a_param_change_swaps_the_model_without_dropping_a_request(project)
        _a_server_killed_by_hand_is_drift(project)
    finally:
        server = project.state().get("resources", {}).get(API, {}).get("attributes", {})
        result = project.run("destroy", "-auto-approve", timeout=120)
    assert result.code == 0, str(result)
    assert not procs.is_running(server["pid"], server["start_ticks"])
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", server["port"])) != 0  # the port is free
    assert project.state()["resources"] == {} and project.step_records()["train"]["status"] == "succeeded"


def _first_apply_serves_the_model(project: Project) -> None:
    first = project.ok("apply", "-auto-approve", timeout=900)  # creates the server's environment on a new machine
    order = _finished(first)
    assert order.index("pipeline.training.step.train") < order.index(API) < order.index("pipeline.training.step.smoke_test")
    server = _server(project)
    assert server["model"]["materializer"] == "sklearn.pickle" and server["model_digest"] == server["model"]["digest"]
    assert mlserver.infer(server["url"], server["name"], ROWS) == _in_process(server)
    outputs = json.loads(project.ok("output", "-json").out)
    assert outputs["served_accuracy"]["value"] == outputs["accuracy"]["value"]
    _lineage_reaches_from_the_deployment_to_the_data(project, server)


def _lineage_reaches_from_the_deployment_to_the_data(project: Project, server: dict) -> None:
    lines = project.ok("lineage", API).out.splitlines()
    assert lines[0] == f"{API} (local_model_server, {server['infer_url']})"
    assert lines[1].startswith("  model: artifact ") and server["model"]["digest"][:12] in lines[1]
    assert lines[2].strip().startswith("<- pipeline.training.step.train (run 1, complete, code ")
    assert any('params {"c": 1, "seed": 42}' in line for line in lines)
    assert any("data snapshot data/wine.csv" in line for line in lines)
    # ML Metadata: the deployment is an execution of the run that consumed the model artifact
    run = project.ok("runs", "show", "1").out
    deployed = run[run.index(f"  {API}  complete"):].splitlines()
    assert '"action": "create"' in deployed[1] and deployed[2].startswith(f"      in  model: {server['model']['uri']} (artifact ")
    # the dashboard: from the deployed resource to its model's lineage, down to the data
    from starlette.testclient import TestClient

    from zplan.ui.app import create_app

    board = TestClient(create_app(project.root))
    served = next(r for r in board.get("/api/resources").json()["resources"] if r["address"] == API)
    lineage = board.get(f"/api/lineage/{served['step_outputs']['model']}").json()
    assert any(n["kind"] == "snapshot" and n["label"] == "data/wine.csv" for n in lineage["nodes"])
    assert f'href="/lineage/{served["step_outputs"]["model"]}"' in board.get("/resources").text


def _a_comment_edit_redeploys_nothing(project: Project) -> None:
    project.replace("steps/train.py", '"""Model steps', '"""Model steps (a comment edit)')
    assert project.run("plan", "-detailed-exitcode").code == 0


def _a_param_change_swaps_the_model_without_dropping_a_request(project: Project) -> None:
    before = _server(project)
    doc = _plan(project, "-var", "c=0.01")
    api = _resource(doc, API)
    assert api["action"] == "update"
    assert [r["message"] for r in api["reasons"]] == ["model changes (step train reruns)"]
    smoke = next(s for s in doc["steps"] if s["step"] == "smoke_test")
    assert smoke["action"] == "run" and f"{API} changes (update)" in [r["message"] for r in smoke["reasons"]]
    assert {r["address"] for r in doc["resources"] if r["action"] != "no-op"} == {API}
    assert {s["step"] for s in doc["steps"] if s["action"] == "run"} == {"train", "evaluate", "smoke_test"}

    failures, answered, stop = [], [0], threading.Event()

    def keep_asking():
        while not stop.is_set():
            try:
                mlserver.infer(before["url"], before["name"], ROWS[:1], timeout=10)
                answered[0] += 1
            except Exception as exc:  # noqa: BLE001 - any failure is a dropped request
                failures.append(repr(exc))

    asker = threading.Thread(target=keep_asking)
    asker.start()
    try:
        result = project.ok("apply", "-auto-approve", "-var", "c=0.01")
    finally:
        stop.set()
        asker.join()
    assert "pipeline.training.step.smoke_test: done" in result.out
    after = _server(project)
    assert after["pid"] == before["pid"] and after["url"] == before["url"]  # swapped in the running server
    assert after["model_digest"] != before["model_digest"]
    assert mlserver.infer(after["url"], after["name"], ROWS) == _in_process(after)
    assert failures == [] and answered[0] > 0


def _a_server_killed_by_hand_is_drift(project: Project) -> None:
    server = _server(project)
    os.kill(server["pid"], 9)
    procs.stop(server["pid"], server["start_ticks"], 5)  # wait until it is gone
    api = _resource(_plan(project, "-var", "c=0.01"), API)
    assert api["action"] == "create" and api["reasons"][0]["code"] == "deleted_outside_zplan"
    project.ok("apply", "-auto-approve", "-var", "c=0.01")
    again = _server(project)
    assert procs.is_running(again["pid"], again["start_ticks"])
    assert mlserver.infer(again["url"], again["name"], ROWS) == _in_process(again)


@pytest.mark.slow
def test_servers_made_by_for_each_serve_under_the_resource_name(tmp_path):
    project = copy_project(EXAMPLE, tmp_path / "serving")
    project.replace("main.zp.hcl", SERVED, SERVED.replace("{\n", '{\n  for_each = toset(["eu", "us"])\n'))
    project.replace("main.zp.hcl", "local_model_server.api.url", 'local_model_server.api["eu"].url')
    project.replace("main.zp.hcl", "local_model_server.api.name", 'local_model_server.api["eu"].name')
    project.replace("main.zp.hcl", "local_model_server.api.infer_url", 'local_model_server.api["us"].infer_url')
    try:
        project.ok("apply", "-auto-approve", timeout=900)
        servers = [project.state()["resources"][f'{API}["{key}"]']["attributes"] for key in ("eu", "us")]
        assert [s["name"] for s in servers] == ["api", "api"] and servers[0]["port"] != servers[1]["port"]
        for server in servers:
            assert server["infer_url"] == f"{server['url']}/v2/models/api/infer"
            assert mlserver.infer(server["url"], "api", ROWS) == _in_process(server)
    finally:
        result = project.run("destroy", "-auto-approve", timeout=120)
    assert result.code == 0, str(result)
    assert not any(procs.is_running(s["pid"], s["start_ticks"]) for s in servers)


def test_the_server_inherits_none_of_zplans_own_secrets(tmp_path):
    """As a local_process: zplan's environment without ZPLAN_VAR_*, ZPLAN_STATE_KEY and ZPLAN_MYSQL_PASSWORD."""
    from cryptography.fernet import Fernet

    project = copy_project(EXAMPLE, tmp_path / "serving")
    secrets = {"ZPLAN_VAR_token": "s3cret-token-for-the-test", "ZPLAN_MYSQL_PASSWORD": "s3cret-db-password",
               "ZPLAN_STATE_KEY": Fernet.generate_key().decode()}
    try:
        project.ok("apply", "-auto-approve", env=cli_env(**secrets), timeout=900)
        server = _server(project)
        environ = Path(f"/proc/{server['pid']}/environ").read_bytes().split(b"\0")
        assert mlserver.model_ready(server["url"], server["name"])
    finally:
        project.run("destroy", "-auto-approve", env=cli_env(**secrets), timeout=120)
    assert not [v for v in environ if v.startswith((b"ZPLAN_VAR_", b"ZPLAN_MYSQL_PASSWORD", b"ZPLAN_STATE_KEY"))]
    assert not [v for v in environ if any(s.encode() in v for s in secrets.values())]


@pytest.mark.slow
def test_a_swap_given_up_on_leaves_the_server_serving_the_model_state_records(tmp_path):
    """A load not answered within health_timeout went on in the server: it served the new model
    while state (and the error: "the old one keeps serving") said the old one."""
    import time

    project = copy_project(EXAMPLE, tmp_path / "serving")
    try:
        project.ok("apply", "-auto-approve", timeout=900)
        old = _server(project)
        project.replace("main.zp.hcl", SERVED, f"{SERVED}\n  health_timeout = 0.01")
        project.replace("steps/train.py", "    return model.fit(", "    model.padding_ = [1.0] * 10_000_000  # slow to load\n    return model.fit(")
        result = project.run("apply", "-auto-approve", "-var", "c=0.02")
        assert result.code == 1 and "Traceback" not in result.text
        assert "keeps serving" in result.text, result.text
        new_model = project.step_records()["train"]["outputs"]["output"]
        assert new_model["digest"] != old["model_digest"]
        time.sleep(2)  # whatever the server was still doing is done
        served = _server(project)
        assert served["model_digest"] == old["model_digest"] and procs.is_running(served["pid"], served["start_ticks"])
        predictions = mlserver.infer(served["url"], served["name"], ROWS)
        assert predictions == _in_process(served)
        assert predictions != _in_process({"model": {"path": new_model["uri"].removeprefix("file://")}})
    finally:
        project.run("destroy", "-auto-approve", timeout=120)


def _servers_of(project: Project) -> set[int]:
    """Model servers running for this project, found by the repository folder on their command line."""
    folder = str(project.path(".zplan/serving"))
    return {pid for pid in map(int, filter(str.isdigit, os.listdir("/proc")))
            if procs.is_running(pid, None) and any(a.startswith(folder) for a in _cmdline(pid))}


def _cmdline(pid: int) -> list[str]:
    try:
        return procs.cmdline(pid)
    except OSError:
        return []


@pytest.mark.slow
def test_a_server_whose_start_was_killed_is_adopted_then_destroyed(tmp_path):
    """kill -9 of an apply waiting for the server: the next plan finds it (not started twice on its
    port, not forgotten by destroy), as a local_process whose start was cut short."""
    from tests.cli.procs import left_alive, start_zplan, wait_for

    project = copy_project(EXAMPLE, tmp_path / "serving")
    port = mlserver.free_port()
    project.replace("main.zp.hcl", SERVED, f"{SERVED}\n  port  = {port}")
    project.ok("apply", "-auto-approve", "-target", "pipeline.training.step.train", timeout=900)
    apply = start_zplan(project.root, "apply", "-auto-approve")
    try:
        wait_for(lambda: _servers_of(project) or apply.poll() is not None, what="the model server to start")
        with contextlib.suppress(AssertionError):  # what the start writes just after it, if anything
            wait_for(lambda: project.path(".zplan/serving/api/server.json").exists(), seconds=2)
        apply.kill()  # while it waits for the model to be ready
        apply.communicate(timeout=30)
        (orphan,) = _servers_of(project)
        wait_for(lambda: mlserver.model_ready(f"http://127.0.0.1:{port}", "api"), what="the server to answer ready")
        api = _resource(_plan(project), API)
        assert api["action"] == "no-op", api
        project.ok("apply", "-auto-approve")
        assert _server(project)["pid"] == orphan and _servers_of(project) == {orphan}
        project.ok("destroy", "-auto-approve")
        assert not left_alive({orphan}, 15) and not mlserver.port_in_use(port)
    finally:
        for pid in _servers_of(project):
            procs.stop(pid, None, 5)


def test_an_attribute_the_server_computes_from_a_secret_is_never_stored_in_clear(tmp_path):
    """name = var.secret: infer_url holds it, and was kept in clear in state and ML Metadata."""
    import sqlite3

    project = copy_project(EXAMPLE, tmp_path / "serving")
    project.replace("main.zp.hcl", SERVED, f"{SERVED}\n  name  = var.model_name")
    project.replace("main.zp.hcl", "output \"infer_url\" {", "output \"infer_url\" {\n  sensitive = true")
    project.replace("main.zp.hcl", "output \"served_accuracy\" {", "output \"served_accuracy\" {\n  sensitive = true")
    project.write("vars.zp.hcl", 'variable "model_name" {\n  type      = string\n  sensitive = true\n}\n')
    env = cli_env(ZPLAN_VAR_model_name="s3cret-model-name")
    try:
        project.ok("apply", "-auto-approve", env=env, timeout=900)
        shown = project.ok("state", "show", API, env=env).out
        stored = [project.read(".zplan/state.json"), project.ok("lineage", API, env=env).out,
                  "\n".join(str(row) for row in sqlite3.connect(project.path(".zplan/metadata.db")).execute(
                      "SELECT string_value FROM ExecutionProperty"))]
    finally:
        project.run("destroy", "-auto-approve", env=env, timeout=120)
    assert '"infer_url": "(sensitive)"' in shown and '"url": "http://127.0.0.1:' in shown
    assert not [text for text in stored if "s3cret-model-name" in text]


# -- bad input: one clear error each -----------------------------------------------------------


def test_a_port_in_use_is_refused_and_state_keeps_what_was_applied(tmp_path):
    project = copy_project(EXAMPLE, tmp_path / "serving")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        project.replace("main.zp.hcl", SERVED, f"{SERVED}\n  port  = {port}")
        result = project.run("apply", "-auto-approve", timeout=600)
    assert result.code == 1 and f"port {port} is already in use" in result.text and "Traceback" not in result.text
    assert project.step_records()["train"]["status"] == "succeeded" and project.state()["resources"] == {}


def test_a_model_the_runtime_cannot_load_is_refused(tmp_path):
    project = copy_project(EXAMPLE, tmp_path / "serving")
    project.replace("main.zp.hcl", SERVED, SERVED.replace("train", "evaluate"))
    result = project.run("apply", "-auto-approve", timeout=600)
    assert result.code == 1 and "Traceback" not in result.text
    assert "the sklearn runtime cannot load this model" in result.text and "'json' materializer" in result.text


CUSTOM = """

class Custom(LogisticRegression):
    \"\"\"Defined in the project: the server's environment cannot import it.\"\"\"


def train_custom(train: pd.DataFrame, c: float, seed: int) -> LogisticRegression:
    return Custom(C=c, max_iter=1000, random_state=seed).fit(train.drop(columns=[LABEL]).to_numpy(), train[LABEL])
"""


def test_a_model_file_the_server_fails_to_load_is_one_clear_error(tmp_path):
    project = copy_project(EXAMPLE, tmp_path / "serving")
    project.write("steps/train.py", project.read("steps/train.py") + CUSTOM)
    project.replace("main.zp.hcl", 'steps/train.py:train"', 'steps/train.py:train_custom"')
    result = project.run("apply", "-auto-approve", timeout=600)
    assert result.code == 1 and project.state()["resources"] == {}
    assert "model server 'api' could not load the model: ModuleNotFoundError: No module named 'steps'" in result.text, result.text
    assert "exited with code" not in result.text and "File \"" not in result.text  # no traceback of the server's
    assert str(project.path(".zplan/serving/api/server.log")) in result.text
    assert not _servers_of(project)


def test_a_model_name_that_is_no_url_path_segment_is_refused_at_plan(tmp_path):
    project = copy_project(EXAMPLE, tmp_path / "serving")
    project.replace("main.zp.hcl", SERVED, f'{SERVED}\n  name  = "wine/v1"')
    result = project.run("plan")  # it was accepted, and the server never answered ready under that name
    assert result.code == 1 and "Traceback" not in result.text
    assert "main.zp.hcl:" in result.text and "name must be letters, digits" in result.text and "'wine/v1'" in result.text


@pytest.mark.parametrize("setting, message", [
    ("port = 18080.5", "port must be a whole number from 1 to 65535, got 18080.5"),
    ("health_timeout = 0", "health_timeout must be a positive number of seconds, got 0"),
    ("health_timeout = -5", "health_timeout must be a positive number of seconds, got -5"),
])
def test_a_port_or_health_timeout_that_cannot_work_is_refused_at_plan(tmp_path, setting, message):
    project = copy_project(EXAMPLE, tmp_path / "serving")
    project.replace("main.zp.hcl", SERVED, f"{SERVED}\n  {setting}")
    result = project.run("plan")  # they were accepted: a server on port 18080, or one never waited for
    assert result.code == 1 and "Traceback" not in result.text
    assert "main.zp.hcl:" in result.text and message in result.text, result.text


def test_a_step_output_that_does_not_exist_is_an_error_at_plan_with_its_line(tmp_path):
    project = copy_project(EXAMPLE, tmp_path / "serving")
    project.replace("main.zp.hcl", SERVED, SERVED.replace("outputs.output", "outputs.model"))
    result = project.run("apply", "-auto-approve")  # a step's outputs are known statically: nothing is applied
    assert result.code == 1 and 'step "train" has no output "model"' in result.text and "its outputs are: output" in result.text
    assert "main.zp.hcl:64:" in result.text
    assert "Traceback" not in result.text
    assert not project.path(".zplan/state.json").exists() or project.state()["resources"] == {}
    result = project.run("plan")
    assert result.code == 1 and 'step "train" has no output "model"' in result.text and "main.zp.hcl:64:" in result.text


UV = shutil.which("uv") or next((str(p) for p in (EXAMPLE.parents[1] / ".uv/bin/uv", Path(sys.executable).with_name("uv")) if p.exists()), None)


def _own_python(folder: Path, with_uv: bool) -> Path:
    """A Python of its own importing zplan's packages (a venv reading them through a .pth file),
    with uv beside it, where scripts/bootstrap links it, or without."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True, capture_output=True)
    site = next(folder.glob("lib/python*/site-packages"))
    (site / "zplan-env.pth").write_text(f"import site; site.addsitedir({sysconfig.get_paths()['purelib']!r})\n")
    if with_uv:
        (folder / "bin" / "uv").symlink_to(UV)
    return folder / "bin" / "python"


def _path_without_uv(tmp_path: Path) -> str:
    bin_dir = tmp_path / "bin"  # a PATH with git and no uv, wherever uv is installed
    bin_dir.mkdir()
    if shutil.which("git"):
        (bin_dir / "git").symlink_to(shutil.which("git"))
    return str(bin_dir)


def test_a_runtime_environment_that_cannot_be_created_is_one_clear_error(tmp_path):
    project = copy_project(EXAMPLE, tmp_path / "serving")
    python = _own_python(tmp_path / "venv", with_uv=False)
    env = cli_env(ZPLAN_RUNTIMES_DIR=str(tmp_path / "runtimes"), PATH=_path_without_uv(tmp_path))
    result = subprocess.run([str(python), "-m", "zplan.cli", "apply", "-auto-approve"], cwd=project.root, env=env,
                            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=600)
    text = result.stdout + result.stderr
    assert result.returncode == 1 and "Traceback" not in text, text
    assert "cannot create the model server's environment: uv is neither on the PATH nor beside" in text, text
    assert not (tmp_path / "runtimes").exists() or not any((tmp_path / "runtimes").glob("*/.zplan-complete"))


@pytest.mark.skipif(UV is None, reason="no uv on this machine")
def test_uv_beside_zplans_python_makes_the_environment_when_the_path_has_none(tmp_path):
    """scripts/bootstrap leaves uv beside zplan's Python when it had to install it: `.venv/bin/zplan
    apply`, run without the venv activated, finds it there."""
    python = _own_python(tmp_path / "venv", with_uv=True)
    pins = tmp_path / "requirements.txt"
    pins.write_text("# nothing to install: the environment alone\n")
    env = cli_env(ZPLAN_RUNTIMES_DIR=str(tmp_path / "runtimes"), PATH=_path_without_uv(tmp_path))
    code = f"from pathlib import Path\nfrom zplan_provider_local.serving import runtime\nprint(runtime.ensure(print, Path({str(pins)!r})))"
    result = subprocess.run([str(python), "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    made = Path(result.stdout.splitlines()[-1])
    assert made.exists() and (made.parents[1] / ".zplan-complete").exists(), result.stdout


@pytest.mark.slow
def test_readme_serving_transcript(tmp_path):
    import shlex

    from tests.cli.test_readme import README, assert_transcript, transcripts

    (steps,) = [t for t in transcripts(README.read_text()) if t and t[0][0] == "cd examples/serving"]
    project = copy_project(EXAMPLE, tmp_path / "serving")
    try:
        for command, expected in steps[1:]:
            argv = shlex.split(command)
            assert argv[0] == "zplan", command
            result = project.ok(*argv[1:], timeout=900)
            assert_transcript(command, expected, (result.out + result.err).splitlines())
    finally:
        project.run("destroy", "-auto-approve", timeout=120)

