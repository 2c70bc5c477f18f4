"""Inside a training backend's job: ``zplan run-step ADDRESS -task URL -result URL``.

This mode records nothing itself. The apply that submitted the job holds the state lock
and records the step's metadata and state as for a local step; the job only runs the
task the client wrote to the artifact store (inputs read from the store by digest,
outputs written there) and writes the ``StepResult`` and the step's log back next to it.
So no second process ever asks for the lock or writes the metadata store.
"""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path

from zplan import diags
from zplan.apply.cluster_task import _localized  # a data input as this machine sees it
from zplan.apply.worker import StepTask, run_step
from zplan.backends import exchange


def run_task(task_url: str, result_url: str, project_dir: Path, address: str) -> bool:
    """Run the task at ``task_url`` in ``project_dir``; True when the step succeeded."""
    task = exchange.read(task_url)
    if not isinstance(task, StepTask):
        raise diags.fail(f"no step task at {task_url}", "the job is started by zplan apply, which writes it first")
    if task.address != address:
        raise diags.fail(f"the task at {task_url} is for {task.address}, not {address}")
    with tempfile.TemporaryDirectory(prefix="zplan-job-") as scratch:
        log_path = Path(scratch) / "step.log"
        local = dataclasses.replace(
            task, project_dir=str(project_dir), log_path=str(log_path),
            inputs={name: _localized(spec, task, project_dir) for name, spec in task.inputs.items()})
        result = run_step(local)
        log = log_path.read_text(errors="replace") if log_path.exists() else ""
    exchange.write(result_url, exchange.JobOutcome(result, log))
    return result.ok
