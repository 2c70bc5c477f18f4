"""Running steps in worker processes: the task each gets, the snapshots of its data
inputs, and its result with every secret redacted."""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import time
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from zplan.apply.tracker import RunTracker, Snapshot
from zplan.apply.worker import ArtifactArg, ListArg, PathArg, StepResult, StepTask, TaskInput, run_step
from zplan.config.expr import UNKNOWN
from zplan.hashing import StatCache
from zplan.plan import model as m
from zplan.secrets import redact, redact_file


class StepRunner:
    def __init__(self, project, tracker: RunTracker, stat_cache: StatCache, parallelism: int) -> None:
        self.project = project
        self.tracker = tracker
        self.stat_cache = stat_cache
        self.parallelism = parallelism
        self._pool: cf.ProcessPoolExecutor | None = None
        self._store = None

    def start(self, plan: m.StepPlan) -> cf.Future:
        step = self.project.config.step(plan.address)
        settings = self.tracker.stack_settings
        task = StepTask(
            address=plan.address,
            project_dir=str(self.project.root),
            source_file=step.file,
            function=step.function,
            params=plan.params,
            inputs={name: self._task_input(plan.address, spec) for name, spec in plan.inputs.items()},
            declared_outputs=plan.outputs,
            artifact_store_url=str(settings["artifact_store"]),
            run_id=self.tracker.result.run_id or 0,
            log_path=str(self.log_path(plan.address)),
            stack={k: v for k, v in settings.items() if v is not UNKNOWN and k != "metadata_password"},
        )
        self.tracker.started_at[plan.address] = time.time()
        return self._submit(task)

    def _submit(self, task: StepTask) -> cf.Future:
        if self._pool is None:
            ctx = multiprocessing.get_context("forkserver")
            ctx.set_forkserver_preload(["zplan.apply.worker"])
            self._pool = cf.ProcessPoolExecutor(max_workers=self.parallelism, mp_context=ctx)
        try:
            return self._pool.submit(run_step, task)
        except BrokenProcessPool:
            self._pool = None  # a worker died (segfault, os._exit): start a fresh pool
            return self._submit(task)

    def _task_input(self, address: str, spec: m.StepInput) -> TaskInput:
        if isinstance(spec, m.ListInput):
            return ListArg(tuple(self._task_input(address, i) for i in spec.items))
        if isinstance(spec, m.DataInput):
            return PathArg(str(self._snapshot(address, spec)))
        upstream = self.tracker.current[spec.step]
        out = upstream.cached_from.outputs[spec.output]
        return ArtifactArg(out["digest"], out["materializer"])

    def _snapshot(self, address: str, spec: m.DataInput) -> Path:
        """Data inputs are stored as immutable snapshots; the step reads the snapshot."""
        from zplan.artifacts.snapshot import snapshot

        source = self.project.root / spec.path
        stored = snapshot(source, self.artifact_store(), self.stat_cache)
        self.tracker.snapshots[(address, spec.path)] = Snapshot(stored.digest, stored.uri)
        folder = self.artifact_store().get(stored.digest)
        return folder / source.name if source.is_file() and (folder / source.name).exists() else folder

    def artifact_store(self):
        if self._store is None:
            from zplan.artifacts.store import ArtifactStore

            self._store = ArtifactStore.from_url(str(self.tracker.stack_settings["artifact_store"]), self.project.root)
        return self._store

    def log_path(self, address: str) -> Path:
        # Run numbers count per metadata store, so two stacks both have a run 1: the stack keeps them apart.
        return self.project.state_dir / "logs" / self.project.stack_name / f"run-{self.tracker.result.run_id or 0}" / f"{address}.log"

    def result(self, address: str, future: cf.Future) -> StepResult:
        """What the worker sent back, or why there is nothing; secrets redacted everywhere,
        since a step may put one in its exception or print it to its log."""
        exc = future.exception()
        if exc is not None:
            msg = "the worker process died (killed or crashed)" if isinstance(exc, BrokenProcessPool) else f"{type(exc).__name__}: {exc}"
            result = StepResult(address, False, error=msg, started_at=self.tracker.started_at.get(address, time.time()), finished_at=time.time())
        else:
            result = future.result()
        secrets = self.project.secrets
        result.error, result.traceback = redact(result.error, secrets), redact(result.traceback, secrets)
        redact_file(self.log_path(address), secrets)
        return result

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
