"""Submit a compiled job, wait for it to end, say how it ended.

The clients are Google's ``aiplatform_v1.JobServiceClient`` and boto3's ``sagemaker``
client, made here unless one is given (the tests give stand-ins that run the job's
command on this machine). A submission that fails, or a job that ends in any state
but success, is a ``JobFailed`` naming the job and the backend's own reason.
"""

from __future__ import annotations

import json
import time
from typing import Any, Callable

from zplan.backends.jobs import Job

POLL_SECONDS = 15.0
_VERTEX_ENDED = {"JOB_STATE_SUCCEEDED", "JOB_STATE_FAILED", "JOB_STATE_CANCELLED", "JOB_STATE_EXPIRED"}
_SAGEMAKER_ENDED = {"Completed", "Failed", "Stopped"}


class JobFailed(Exception):
    """The job could not be submitted, or did not succeed."""


def run_job(job: Job, client: Any = None, poll: float = POLL_SECONDS, stopped: Callable[[], bool] = lambda: False) -> str:
    """Submit ``job`` and wait; returns the job's id (resource name or ARN) once it succeeded."""
    if job.backend == "vertex":
        return _vertex(job, client or _vertex_client(job), poll, stopped)
    return _sagemaker(job, client or _sagemaker_client(job), poll, stopped)


def _vertex_client(job: Job) -> Any:
    try:
        from google.cloud import aiplatform_v1
    except ImportError:
        raise JobFailed("google-cloud-aiplatform is not installed (pip install google-cloud-aiplatform)") from None
    location = job.options["location"]
    return aiplatform_v1.JobServiceClient(client_options={"api_endpoint": f"{location}-aiplatform.googleapis.com"})


def _vertex(job: Job, client: Any, poll: float, stopped: Callable[[], bool]) -> str:
    parent = f"projects/{job.options['project']}/locations/{job.options['location']}"
    try:
        created = client.create_custom_job(parent=parent, custom_job=_custom_job(job.spec))
    except Exception as exc:  # noqa: BLE001 - any client failure is the job's failure, said plainly
        raise JobFailed(f"could not create Vertex AI CustomJob {job.name}: {_first_line(exc)}") from None
    name = created.name
    while True:
        current = client.get_custom_job(name=name)
        state = getattr(current.state, "name", str(current.state))
        if state in _VERTEX_ENDED:
            break
        if stopped():
            client.cancel_custom_job(name=name)
            raise JobFailed(f"Vertex AI CustomJob {name} was cancelled: the apply was interrupted")
        time.sleep(poll)
    if state != "JOB_STATE_SUCCEEDED":
        reason = getattr(getattr(current, "error", None), "message", "") or "no reason given"
        raise JobFailed(f"Vertex AI CustomJob {name} ended {state}: {reason}")
    return name


def _custom_job(spec: dict) -> Any:
    """The SDK's message when it is installed (it takes the JSON form), else the JSON itself."""
    try:
        from google.cloud import aiplatform_v1
    except ImportError:
        return spec
    return aiplatform_v1.CustomJob.from_json(json.dumps(spec))


def _sagemaker_client(job: Job) -> Any:
    import boto3

    return boto3.client("sagemaker", region_name=str(job.options["region"]))


def _sagemaker(job: Job, client: Any, poll: float, stopped: Callable[[], bool]) -> str:
    try:
        arn = client.create_training_job(**job.spec)["TrainingJobArn"]
    except Exception as exc:  # noqa: BLE001
        raise JobFailed(f"could not create SageMaker training job {job.name}: {_first_line(exc)}") from None
    while True:
        current = client.describe_training_job(TrainingJobName=job.name)
        status = current["TrainingJobStatus"]
        if status in _SAGEMAKER_ENDED:
            break
        if stopped():
            client.stop_training_job(TrainingJobName=job.name)
            raise JobFailed(f"SageMaker training job {job.name} was stopped: the apply was interrupted")
        time.sleep(poll)
    if status != "Completed":
        raise JobFailed(f"SageMaker training job {job.name} ended {status}: {current.get('FailureReason') or 'no reason given'}")
    return arn


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]
