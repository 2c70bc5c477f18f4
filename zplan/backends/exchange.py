"""The task a job runs and the result it returns, as files in the stack's artifact store.

The job cannot reach this machine: the client writes the pickled task under
``ARTIFACT_STORE/jobs/RUN/KEY/task.pickle``, the job writes ``result.pickle`` (the
``StepResult`` and the step's log) next to it, the client reads it back once the job has
ended. Writes go to a temporary name first, so a half-written result is never read.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from typing import Any

JOBS_FOLDER = "jobs"


@dataclass(frozen=True)
class JobFiles:
    task: str  # URL of the pickled StepTask
    result: str  # URL of the pickled JobOutcome (written by the job)


@dataclass
class JobOutcome:
    result: Any  # zplan.apply.worker.StepResult
    log: str


def job_files(artifact_store_url: str, run_id: int, key: str) -> JobFiles:
    base = f"{artifact_store_url.rstrip('/')}/{JOBS_FOLDER}/run-{run_id}/{key}"
    return JobFiles(f"{base}/task.pickle", f"{base}/result.pickle")


def write(url: str, value: Any) -> None:
    import fsspec

    fs, path = fsspec.core.url_to_fs(url)
    fs.makedirs(path.rpartition("/")[0], exist_ok=True)
    with fs.open(path + ".tmp", "wb") as f:
        f.write(pickle.dumps(value))
    fs.mv(path + ".tmp", path)


def read(url: str) -> Any | None:
    """The value at ``url``, None when nothing is there."""
    import fsspec

    fs, path = fsspec.core.url_to_fs(url)
    if not fs.exists(path):
        return None
    with fs.open(path, "rb") as f:
        return pickle.loads(f.read())


def remove(files: JobFiles) -> None:
    """Drop the task (it holds the step's secrets) and the result once read."""
    import fsspec

    for url in (files.task, files.result):
        fs, path = fsspec.core.url_to_fs(url)
        if fs.exists(path):
            fs.rm(path)
