"""Submit a compiled pipeline spec to Kubeflow Pipelines or Vertex AI Pipelines.

When the orchestrator cannot be reached from here (no host configured, the
Vertex SDK not installed, no Google credentials), nothing fails: the answer
says where the spec is and gives the exact command that submits it, so the
spec can be handed to whoever holds the access.
"""

from __future__ import annotations

import shlex
import threading
import warnings
from pathlib import Path
from typing import Any, Callable, Mapping, TypeVar

from zplan.diags import fail

DEFAULT_EXPERIMENT = "zplan"
# Seconds a submission may take. The KFP client sets no socket timeouts (and retries its
# health check), so a host that accepts connections but never answers would hang apply.
SUBMIT_TIMEOUT = 120
T = TypeVar("T")


def submit(spec_path: Path, orchestrator: str, settings: Mapping[str, Any]) -> str:
    """Submit ``spec_path``; returns what happened (a run id, or how to submit by hand)."""
    spec_path = Path(spec_path)
    if not spec_path.is_file():
        raise fail(f"pipeline spec {spec_path} does not exist", "compile the pipeline first")
    if orchestrator == "kubeflow":
        return _kubeflow(spec_path, settings)
    if orchestrator == "vertex":
        return _vertex(spec_path, settings)
    raise fail(f'orchestrator "{orchestrator}" does not run compiled pipeline specs', 'use "kubeflow" or "vertex"')


def _kubeflow(spec: Path, settings: Mapping[str, Any]) -> str:
    experiment = str(settings.get("experiment") or DEFAULT_EXPERIMENT)
    host = settings.get("host")
    if not host:
        command = ["kfp", "--endpoint", "<KFP_HOST>", "run", "create", "--experiment-name", experiment,
                   "--package-file", str(spec)]
        return (f"Pipeline spec written to {spec}.\n"
                "No Kubeflow host is configured (set host in the stack); submit it with:\n  " + shlex.join(command))
    import kfp

    def create_run() -> Any:
        with warnings.catch_warnings():  # kfp's FutureWarning that it needs KFP 2.x, printed on every client
            warnings.simplefilter("ignore", FutureWarning)
            client = kfp.Client(host=str(host), namespace=str(settings.get("namespace") or "kubeflow"))
        return client.create_run_from_pipeline_package(str(spec), arguments={}, experiment_name=experiment, enable_caching=False)

    try:
        run = _within_deadline(create_run, f"Kubeflow Pipelines at {host}")
    except TimeoutError as exc:
        raise fail(str(exc), f"the spec is at {spec}; check the host and that the API answers (SUBMIT_TIMEOUT = {SUBMIT_TIMEOUT} s)") from None
    except Exception as exc:  # noqa: BLE001 - any client failure is reported, not a traceback
        raise fail(f"could not submit to Kubeflow Pipelines at {host}: {_first_line(exc)}",
                   f"the spec is at {spec}; check the host and that the API is reachable") from None
    return f"Submitted {spec.name} to Kubeflow Pipelines at {host}: run {run.run_id}"


_VERTEX_REQUIRED = ("project", "location", "pipeline_root")


def _vertex(spec: Path, settings: Mapping[str, Any]) -> str:
    missing = [k for k in _VERTEX_REQUIRED if not settings.get(k)]
    if missing:
        raise fail(f"vertex orchestrator: {', '.join(missing)} not set in the stack",
                   'e.g. project = "my-project", location = "europe-west4", pipeline_root = "gs://bucket/pipelines"')
    unavailable = _vertex_unavailable()
    if unavailable:
        return (f"Pipeline spec written to {spec}.\n{unavailable}; submit it with:\n  "
                + shlex.join(["python", "-c", _vertex_snippet(spec, settings)]))
    from google.cloud import aiplatform

    def create_job() -> Any:
        job = aiplatform.PipelineJob(**_vertex_job_args(spec, settings))
        job.submit(service_account=settings.get("service_account"))
        return job

    try:
        job = _within_deadline(create_job, "Vertex AI Pipelines")
    except Exception as exc:  # noqa: BLE001
        raise fail(f"could not submit to Vertex AI Pipelines: {_first_line(exc)}", f"the spec is at {spec}") from None
    return f"Submitted {spec.name} to Vertex AI Pipelines: {job.resource_name}"


def _vertex_unavailable() -> str:
    """Why this machine cannot submit to Vertex, or "" when it can."""
    try:
        from google.cloud import aiplatform  # noqa: F401
    except ImportError:
        return "google-cloud-aiplatform is not installed here"
    try:
        import google.auth

        google.auth.default()
    except Exception:  # noqa: BLE001 - DefaultCredentialsError and transport errors alike
        return "No Google credentials were found (gcloud auth application-default login)"
    return ""


def _vertex_job_args(spec: Path, settings: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "display_name": spec.stem,
        "template_path": str(spec),
        "pipeline_root": str(settings["pipeline_root"]),
        "project": str(settings["project"]),
        "location": str(settings["location"]),
        "enable_caching": False,  # zplan decides what is cached
    }


def _vertex_snippet(spec: Path, settings: Mapping[str, Any]) -> str:
    args = ", ".join(f"{k}={v!r}" for k, v in _vertex_job_args(spec, settings).items())
    account = settings.get("service_account")
    submit_args = f"service_account={account!r}" if account else ""
    return f"from google.cloud import aiplatform; aiplatform.PipelineJob({args}).submit({submit_args})"


def _within_deadline(call: Callable[[], T], what: str) -> T:
    """``call()``, or TimeoutError after SUBMIT_TIMEOUT seconds (the call is left behind in a
    daemon thread, which cannot keep the process alive)."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = call()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            outcome["error"] = exc

    worker = threading.Thread(target=run, name="zplan-submit", daemon=True)
    worker.start()
    worker.join(SUBMIT_TIMEOUT)
    if worker.is_alive():
        raise TimeoutError(f"{what} did not answer within {SUBMIT_TIMEOUT} s")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]
