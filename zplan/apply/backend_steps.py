"""Steps with ``backend = "vertex" | "sagemaker"``: run as a training job, recorded here.

Whatever runs the other steps (worker processes, a Dask cluster), a backend step is
written as a task to the artifact store, compiled to its job (checked offline first),
submitted and waited for in a thread; its ``StepResult`` comes back through the store and
the apply records it like any other step's, under the lock it already holds.
"""

from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from zplan.apply.runner import StepRunner
from zplan.apply.worker import StepResult, StepTask
from zplan.graph.walk import failed_future
from zplan.apply.workers import TaskCancelled
from zplan.plan import model as m

# Tests replace this with stand-ins for the cloud clients: backend -> client (None: the real one).
CLIENTS: dict[str, Any] = {}
POLL_SECONDS: float | None = None  # None: zplan.backends.submit.POLL_SECONDS


def _job_parts(step, plan: m.StepPlan, secrets: list[str]) -> dict[str, str]:
    """What the job checks before running: the step's code and libraries as planned (a step
    function's: a TFX component's or a script's code is its files), and the Python."""
    from zplan.plan.steps import environment
    from zplan.plan.task_check import JOB_PARTS, planned_parts

    parts = planned_parts(plan, secrets, environment())
    return {k: parts[k] for k in (JOB_PARTS if step.tfx is None and step.script is None else ("python",))}


def with_backends(base: type[StepRunner], config) -> type[StepRunner]:
    """``base`` itself when no step names a backend, else a runner that also runs backend steps."""
    if not any(getattr(step, "backend", None) for p in config.pipelines.values() for step in p.steps.values()):
        return base
    return type(f"Backend{base.__name__}", (BackendSteps, base), {})


class BackendSteps(StepRunner):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._jobs = cf.ThreadPoolExecutor(max_workers=16, thread_name_prefix="zplan-job")
        self._stop = threading.Event()

    def prepare(self) -> None:
        """Before the run is recorded: every backend step's stack settings are there."""
        from zplan.backends.jobs import check_stack

        super().prepare()
        check_stack(self.project.config, self.tracker.stack_settings, self.project.stack_name)

    def start(self, plan: m.StepPlan, imports: tuple[str, ...] = (), after: list[tuple[str, ...]] | None = None) -> cf.Future:
        step = self.project.config.step(plan.address)
        if not getattr(step, "backend", None):
            return super().start(plan, imports, after)
        task = dataclasses.replace(self.task(plan), planned=_job_parts(step, plan, self.project.secrets))
        self.tracker.started_at[plan.address] = time.time()
        if self._stop.is_set():
            return failed_future(TaskCancelled("not started: the apply was interrupted"))
        return self._jobs.submit(self._run_job, step, task, self._timeout(step))

    def _run_job(self, step, task: StepTask, timeout: float | None) -> StepResult:
        from zplan.backends import exchange, jobs

        started = time.time()
        files = exchange.job_files(task.artifact_store_url, task.run_id, f"{_key(task.address)}-{uuid.uuid4().hex[:8]}")
        settings = self.tracker.stack_settings
        job = jobs.compile_job(step.backend, task.address, self.project.stack_name, settings, files,
                               getattr(step, "resources", None), timeout)
        problems = jobs.check(job)
        if problems:
            return StepResult(task.address, False, error=f"the {step.backend} job for this step is not valid: " + "; ".join(problems),
                              started_at=started, finished_at=time.time())
        exchange.write(files.task, task)
        try:
            return self._wait(step, task, job, files, started)
        finally:
            exchange.remove(files)

    def _wait(self, step, task: StepTask, job, files, started: float) -> StepResult:
        from zplan.backends import exchange
        from zplan.backends.submit import POLL_SECONDS as DEFAULT_POLL
        from zplan.backends.submit import JobFailed, run_job

        try:
            job_id = run_job(job, CLIENTS.get(step.backend), POLL_SECONDS if POLL_SECONDS is not None else DEFAULT_POLL,
                             self._stop.is_set)
        except JobFailed as exc:
            outcome = exchange.read(files.result)  # a step that failed inside the job still sent its traceback
            if outcome is not None and not outcome.result.ok:
                return self._received(task, outcome, f"[zplan] {exc}\n")
            return StepResult(task.address, False, error=str(exc), started_at=started, finished_at=time.time())
        outcome = exchange.read(files.result)
        if outcome is None:
            return StepResult(task.address, False, error=f"{job_id} succeeded but wrote no result to {files.result}",
                              started_at=started, finished_at=time.time())
        return self._received(task, outcome, f"[zplan] ran as {step.backend} job {job_id}\n")

    def _received(self, task: StepTask, outcome, note: str) -> StepResult:
        log = Path(task.log_path)
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text(note + outcome.log)
        return outcome.result

    def cancel(self, grace: float | None = None) -> None:
        self._stop.set()  # running jobs are cancelled at their next poll
        super().cancel(grace)

    def close(self, cancel: bool = False) -> None:
        if cancel:
            self._stop.set()
        self._jobs.shutdown(wait=True)
        super().close(cancel)


def _key(address: str) -> str:
    return address.replace("/", "_").replace(":", "_")
