"""Submitting a compiled spec: real clients where reachable, exact instructions where not."""

from __future__ import annotations

import shlex
import socket

import pytest

from zplan.diags import DiagnosticError
from zplan.kubeflow.compile import StepTask, compile_pipeline
from zplan.kubeflow.submit import submit


@pytest.fixture
def spec(tmp_path):
    return compile_pipeline("training", [StepTask("pipeline.training.step.a", "a")], "img:1", "gcp", tmp_path / "t.yaml")


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens once the socket is closed


def test_kubeflow_without_a_host_says_how_to_submit(spec):
    message = submit(spec, "kubeflow", {"experiment": "nightly"})
    assert f"Pipeline spec written to {spec}" in message
    command = shlex.split(message.splitlines()[-1])
    assert command[:3] == ["kfp", "--endpoint", "<KFP_HOST>"]
    assert command[3:] == ["run", "create", "--experiment-name", "nightly", "--package-file", str(spec)]


def test_unreachable_kubeflow_host_is_a_clean_error(spec):
    host = f"http://127.0.0.1:{closed_port()}"
    with pytest.raises(DiagnosticError) as info:
        submit(spec, "kubeflow", {"host": host})
    text = str(info.value)
    assert f"could not submit to Kubeflow Pipelines at {host}" in text and str(spec) in text


def test_vertex_needs_its_settings(spec):
    with pytest.raises(DiagnosticError, match="location, pipeline_root not set"):
        submit(spec, "vertex", {"project": "acme-ml"})


def test_vertex_without_sdk_or_credentials_gives_the_exact_command(spec, monkeypatch):
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(spec.parent / "missing.json"))
    settings = {"project": "acme-ml", "location": "europe-west4", "pipeline_root": "gs://acme-ml/pipelines"}
    message = submit(spec, "vertex", settings)
    assert f"Pipeline spec written to {spec}" in message
    argv = shlex.split(message.splitlines()[-1])
    assert argv[:2] == ["python", "-c"]
    snippet = argv[2]
    assert "aiplatform.PipelineJob(" in snippet and f"template_path={str(spec)!r}" in snippet
    assert "pipeline_root='gs://acme-ml/pipelines'" in snippet and "enable_caching=False" in snippet
    compile(snippet, "<snippet>", "exec")  # the printed command is valid Python


def test_other_orchestrators_and_missing_specs(spec, tmp_path):
    with pytest.raises(DiagnosticError, match='orchestrator "local" does not run compiled pipeline specs'):
        submit(spec, "local", {})
    with pytest.raises(DiagnosticError, match="does not exist"):
        submit(tmp_path / "nope.yaml", "kubeflow", {})


def test_a_kubeflow_host_that_never_answers_is_a_clean_error_in_bounded_time(spec, monkeypatch):
    from tests.network import outcome_within, silent_server
    from zplan.kubeflow import submit as submitting

    monkeypatch.setattr(submitting, "SUBMIT_TIMEOUT", 2)
    with silent_server() as port:
        host = f"http://127.0.0.1:{port}"
        took, error = outcome_within(20, lambda: submit(spec, "kubeflow", {"host": host}))
    assert isinstance(error, DiagnosticError), error
    assert f"Kubeflow Pipelines at {host} did not answer within 2 s" in str(error) and str(spec) in str(error)
    assert took < 10


class _KfpApi:
    """A stand-in for the Kubeflow Pipelines API on 127.0.0.1 (health, experiments, runs): the real kfp
    client talks to it, and the runs it creates are kept to be read back."""

    def __init__(self) -> None:
        import json
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        runs = self.runs = []

        class Handler(BaseHTTPRequestHandler):
            def _answer(self, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):  # noqa: N802
                experiment = {"experiment_id": "e-1", "display_name": "zplan"}
                self._answer({"multi_user": False} if "healthz" in self.path else {"experiments": [experiment], "total_size": 1})

            def do_POST(self):  # noqa: N802
                runs.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self._answer({"run_id": "run-7", "display_name": runs[-1].get("display_name", "")})

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.port = self.server.server_address[1]


def _apply_submission(tmp_path, host: str):
    """What apply's submission of a one-step pipeline says, the stack's host given by a sensitive variable."""
    from zplan.apply.remote import submit_pipelines
    from zplan.apply.tracker import RunTracker
    from zplan.hooks import Recorder
    from zplan.operations.opening import ProjectArgs, open_project
    from zplan.plan.planner import Planner, PlanRequest
    from zplan.state.model import State

    root = tmp_path / "project"
    root.mkdir(parents=True)
    (root / "steps.py").write_text("def fit():\n    return 1\n")
    (root / "main.zp.hcl").write_text(
        f'variable "kfp_host" {{\n  default   = "{host}"\n  sensitive = true\n}}\n'
        'stack "kf" {\n  orchestrator = "kubeflow"\n  orchestrator_options = { host = var.kfp_host }\n'
        '  container_image = "img:1"\n  artifact_store = "s3://b/a"\n  metadata_store = "mysql://zplan@db/zplan"\n}\n'
        'pipeline "p" {\n  step "fit" {\n    source = "steps.py:fit"\n  }\n}\n')
    project = open_project(ProjectArgs(root))
    planner = Planner(project, State())
    plan = planner.plan(PlanRequest())
    hooks = Recorder()
    submit_pipelines(project, plan, planner.apply_inputs().stack_settings, RunTracker(plan, {}), hooks)
    return [e for e in hooks.events if e[0] == "notice"]


def test_a_host_holding_a_secret_is_never_shown(tmp_path, recwarn):
    """The host's URL came from a sensitive variable (a token in it) and was printed in clear, in the
    submission's notice and in its error."""
    api = _KfpApi()
    try:
        [notice] = _apply_submission(tmp_path / "up", f"http://robot:tok-S3CRET-42@127.0.0.1:{api.port}")
    finally:
        api.server.shutdown()
    # kfp's FutureWarning ("This client only works with Kubeflow Pipeline v2.0.0-beta.2 and later") was
    # printed in the middle of every apply's output
    assert not [w for w in recwarn if issubclass(w.category, FutureWarning) and "kfp" in w.filename]
    assert "tok-S3CRET-42" not in str(notice) and "(sensitive)" in str(notice) and "run run-7" in str(notice)
    [run] = api.runs  # the request kfp sent: the compiled spec, KFP's caching off
    assert list(run["pipeline_spec"]["root"]["dag"]["tasks"]) == ["fit"]
    with pytest.raises(DiagnosticError) as err:
        _apply_submission(tmp_path / "down", f"http://robot:tok-S3CRET-42@127.0.0.1:{closed_port()}")
    assert "tok-S3CRET-42" not in str(err.value) and "could not submit to Kubeflow Pipelines at (sensitive)" in str(err.value)
