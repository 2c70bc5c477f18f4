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
