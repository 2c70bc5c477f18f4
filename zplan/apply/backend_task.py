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
from zplan.apply.worker import StepResult, StepTask, run_step
from zplan.backends import exchange


def run_task(task_url: str, result_url: str, project_dir: Path, address: str) -> bool:
    """Run the task at ``task_url`` in ``project_dir``; True when the step succeeded."""
    task = exchange.read(task_url)
    if not isinstance(task, StepTask):
        raise diags.fail(f"no step task at {task_url}", "the job is started by zplan apply, which writes it first")
    if task.address != address:
        raise diags.fail(f"the task at {task_url} is for {task.address}, not {address}")
    refused = _image_problem(task, project_dir) if task.planned is not None else None
    if refused is not None:  # told to the apply, which shows it as the step's error
        exchange.write(result_url, exchange.JobOutcome(StepResult(address, False, error=refused), ""))
        return False
    with tempfile.TemporaryDirectory(prefix="zplan-job-") as scratch:
        log_path = Path(scratch) / "step.log"
        local = dataclasses.replace(
            task, project_dir=str(project_dir), log_path=str(log_path),
            inputs={name: _localized(spec, task, project_dir) for name, spec in task.inputs.items()})
        result = run_step(local)
        log = log_path.read_text(errors="replace") if log_path.exists() else ""
    exchange.write(result_url, exchange.JobOutcome(result, log))
    return result.ok


def _image_problem(task: StepTask, project_dir: Path) -> str | None:
    """Why this image must not run the task (other code than the apply planned: an image built
    before the last edit), or None."""
    from zplan.plan import task_check
    from zplan.plan.steps import environment

    env = environment()
    try:
        here = {"python": env["python"]}
        if "code" in task.planned:
            here = task_check.job_parts(project_dir, task.source_file, task.function, env)
        task_check.check(task.address, task.planned, here)
    except diags.DiagnosticError as exc:
        first = exc.diagnostics[0]
        return f"{first.summary}: {first.detail}" if first.detail else first.summary
    return None
