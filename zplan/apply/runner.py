"""Running steps in worker processes: the task each gets, the snapshots of its data
inputs, and its result with every secret redacted (its log is redacted as it is written)."""

from __future__ import annotations

import concurrent.futures as cf
import os
import threading
import time
from pathlib import Path

from zplan.apply import early_pool
from zplan.apply.step_log import log_file_name
from zplan.apply.tracker import RunTracker, Snapshot
from zplan.apply.warm_imports import ImportJob, import_early, needs_of
from zplan.apply.worker import ArtifactArg, ListArg, PathArg, SnapshotArg, StepResult, StepTask, TaskInput, run_step
from zplan.apply.worker_launch import WORKER_PRELOAD
from zplan.apply.workers import STOP_GRACE_SECONDS, TaskCancelled, TaskTimedOut, WorkerDied, WorkerPool
from zplan.config.values import UNKNOWN
from zplan.durations import timeout_seconds
from zplan.graph.walk import failed_future
from zplan.hashing import StatCache
from zplan.plan import model as m
from zplan.secrets import mask_record, redact


class StepRefused(Exception):
    """The step was not run: what it would run differs from what it was planned with (the
    message says what, and what to do)."""


class StepRunner:
    grace = STOP_GRACE_SECONDS  # between asking a step to stop (SIGTERM) and killing it

    def __init__(self, project, tracker: RunTracker, stat_cache: StatCache, parallelism: int) -> None:
        self.project = project
        self.tracker = tracker
        self.stat_cache = stat_cache
        self.parallelism = parallelism
        self._pool: WorkerPool | None = None
        self._closing: WorkerPool | None = None  # closed, its helper processes still exiting
        self._store = None
        self._lock = threading.Lock()  # a stop (from another thread) and a start never interleave
        self._cancelled = False
        self._read_outputs: dict[str, set[str]] | None = None  # step -> its outputs another step reads
        self._log_folder: tuple[int, Path] | None = None  # (run id, its log folder)
        self._written: set[str] = set()  # outputs a worker of this machine stored in this apply, hashing them as it wrote
        self._first_imports: tuple[str, ...] | None = None  # the first early import asked for (``early_pool.remember``)

    @staticmethod
    def start_early() -> None:
        """Start the workers' forkserver before there is a run (``prepare`` does it later): an apply's plan
        calls this as it starts to read a big new data input, so the server boots while the plan reads,
        and the pool finds it running. Stopped at exit if no pool ends it (the data may be cached after all)."""
        import atexit

        from zplan.apply.worker_launch import start_forkserver, stop_helper_processes

        start_forkserver(WORKER_PRELOAD)
        atexit.register(stop_helper_processes)

    def prepare(self) -> None:
        """Called once before the run opens: a runner that needs a connection makes it here.
        When a step will surely run here, the worker pool's forkserver starts now and boots
        while the run is recorded (ML Metadata opened), instead of after it."""
        if any(self._surely_runs_here(p) for p in self.tracker.current.values()):
            with self._lock:
                self._worker_pool().warm()

    def start(self, plan: m.StepPlan, imports: tuple[str, ...] = (), after: list[tuple[str, ...]] | None = None) -> cf.Future:
        """``imports``: the libraries the step's worker imports; ``after``: those of the steps that may start once it
        ends, which idle workers import meanwhile (``zplan.apply.warm_imports``)."""
        step = self.project.config.step(plan.address)
        task = self.task(plan, local_worker=True)
        task.sync_outputs = False  # a worker of this machine: its outputs are synced here, off its path (``result``)
        self.tracker.started_at[plan.address] = time.time()
        with self._lock:
            if self._cancelled:
                return failed_future(TaskCancelled("not started: the apply was interrupted"))
            future = self._worker_pool().submit(run_step, task, timeout=self._timeout(step), needs=needs_of(imports))
            for later in after or ():
                self._worker_pool().import_early(import_early, ImportJob(str(self.project.root), later), needs_of(later))
                if self._first_imports is None:
                    self._first_imports = later
            return future

    def _worker_pool(self) -> WorkerPool:
        if self._pool is None:
            self._pool = early_pool.take(self.parallelism) or WorkerPool(self.parallelism, preload=WORKER_PRELOAD)
        return self._pool

    def _surely_runs_here(self, plan: m.StepPlan) -> bool:
        """Planned to run, in a worker of this machine, and reading no other step's output (so
        its re-plan at start cannot find it cached because an upstream output came out the same)."""
        return (plan.action == m.RUN and not m.upstream_inputs(plan.inputs)
                and not getattr(self.project.config.step(plan.address), "backend", None))

    def task(self, plan: m.StepPlan, local_worker: bool = False) -> StepTask:
        """What a worker needs to run the step: addresses, params, digests; never data. A
        ``local_worker`` (of this machine) stores the step's data snapshots itself."""
        step = self.project.config.step(plan.address)
        settings = self.tracker.stack_settings
        return StepTask(
            address=plan.address,
            project_dir=str(self.project.root),
            source_file=step.file,
            function=step.function,
            params=plan.params,
            inputs={name: self._task_input(plan.address, spec, local_worker) for name, spec in plan.inputs.items()},
            declared_outputs=plan.outputs,
            artifact_store_url=str(settings["artifact_store"]),
            run_id=self.tracker.result.run_id or 0,
            log_path=str(self.log_path(plan.address)),
            stack={k: v for k, v in settings.items() if v is not UNKNOWN and k != "metadata_password"},
            secrets=self.project.secrets,
            script=_script_task(self.project.config, step, plan),
            tfx=step.tfx,
            handed_on=self._handed_on(plan.address),
        )

    def _handed_on(self, address: str) -> tuple[str, ...]:
        """The outputs of ``address`` that another step reads, in this apply or left out of it."""
        if self._read_outputs is None:
            self._read_outputs = {step: set(outputs) for step, outputs in self.tracker.read_elsewhere.items()}
            for planned in self.tracker.current.values():
                for spec in m.upstream_inputs(planned.inputs):
                    self._read_outputs.setdefault(spec.step, set()).add(spec.output)
        return tuple(sorted(self._read_outputs.get(address, ())))

    def cancel(self, grace: float | None = None) -> None:
        """Stop running steps (SIGTERM, SIGKILL after ``grace`` s) and start no more; returns at once."""
        with self._lock:
            self._cancelled = True
            if self._pool is not None:
                self._pool.cancel(grace)

    def _timeout(self, step) -> float | None:
        """The step's own timeout, else the stack's step_timeout (checked when the stack was planned)."""
        if step.timeout is not None:
            return step.timeout
        default = self.tracker.stack_settings.get("step_timeout")
        return timeout_seconds(default) if default is not None and default is not UNKNOWN else None

    def _task_input(self, address: str, spec: m.StepInput, local_worker: bool = False) -> TaskInput:
        if isinstance(spec, m.ListInput):
            return ListArg(tuple(self._task_input(address, i, local_worker) for i in spec.items), spec.keys)
        if isinstance(spec, m.DataInput) and spec.reference:
            return PathArg(str(self.project.root / spec.path))  # opted out of snapshots: the live file
        if isinstance(spec, m.DataInput) and local_worker and self.artifact_store().worker_snapshots:
            return self._scanned(spec)
        if isinstance(spec, m.DataInput):
            return self._snapshot(address, spec)
        upstream = self.tracker.current[spec.step]
        out = upstream.cached_from.outputs[spec.output]
        # (one this apply wrote: its stamps suffice, as for a snapshot it wrote; one found stored is rehashed)
        return ArtifactArg(out["digest"], out["materializer"], out.get("materializer_module", ""), checked=out["digest"] in self._written)

    def _snapshot(self, address: str, spec: m.DataInput) -> PathArg:
        """Data inputs are stored as immutable snapshots; the step reads the snapshot.

        The snapshot is published at once and synced to disk by a background thread while the
        step runs (``snapshots_durable`` waits for it before anything naming it is recorded).
        A snapshot this process has just written was checked against its digest as it was
        stored, so the step's worker checks its stamps instead of hashing it again."""
        from zplan.artifacts.snapshot import snapshot

        source = self.project.root / spec.path
        store = self.artifact_store()
        stored = snapshot(source, store, self.stat_cache, sync_later=True)
        same_data(spec, stored.digest, source.name if source.is_file() else None)
        self.tracker.snapshots[(address, spec.path)] = Snapshot(stored.digest, stored.uri)
        folder = stored.folder or store.get(stored.digest)
        path = folder / source.name
        return PathArg(str(path if source.is_file() and os.path.isfile(path) else folder), stored.digest, checked=stored.written)

    def _scanned(self, spec: m.DataInput) -> SnapshotArg:
        """A data input for the step's worker to store as its snapshot: scanned here (through the
        stat cache: a file seen before is not read again), copied there, off the apply's path, where
        steps run side by side. Its files are synced here when the result arrives (``result``)."""
        from zplan.artifacts.snapshot import scanned_source

        source = self.project.root / spec.path
        entries, digest = scanned_source(source, self.artifact_store(), self.stat_cache)
        is_file = len(entries) == 1 and entries[0].path == source.absolute()  # (a folder's files lie inside it)
        same_data(spec, digest, source.name if is_file else None)
        return SnapshotArg(spec.path, tuple(entries), digest, is_file=is_file)

    def snapshots_durable(self) -> None:
        """Returns once every snapshot taken so far, and every step output received so far, is
        on disk: called before state or lineage that names one is written, so a crash never
        leaves a record of an unsynced artifact."""
        if self._store is not None:
            self._store.wait_synced()

    def artifact_store(self):
        if self._store is None:
            from zplan.artifacts.store import ArtifactStore

            self._store = ArtifactStore.from_url(str(self.tracker.stack_settings["artifact_store"]), self.project.root)
        return self._store

    def log_path(self, address: str) -> Path:
        # Run numbers count per metadata store, so two stacks both have a run 1: the stack keeps them apart.
        run = self.tracker.result.run_id or 0
        if self._log_folder is None or self._log_folder[0] != run:
            self._log_folder = (run, self.project.state_dir / "logs" / self.project.stack_name / f"run-{run}")
        return self._log_folder[1] / log_file_name(address)

    def result(self, address: str, future: cf.Future) -> StepResult:
        """What the worker sent back, or why there is nothing; secrets redacted everywhere,
        since a step may put one in its exception, print it to its log or log it as metadata."""
        exc = future.exception()
        if exc is not None:
            msg = str(exc) if isinstance(exc, (WorkerDied, TaskTimedOut, TaskCancelled, StepRefused)) else f"{type(exc).__name__}: {exc}"
            result = StepResult(address, False, error=msg, started_at=self.tracker.started_at.get(address, time.time()), finished_at=time.time())
        else:
            result = future.result()
            self._sync_outputs(result)
            self._record_snapshots(address, result)
        secrets = self.project.secrets
        result.error, result.traceback = redact(result.error, secrets), redact(result.traceback, secrets)
        result.left_running = tuple(redact(process, secrets) for process in result.left_running)
        result.left_threads = tuple(redact(thread, secrets) for thread in result.left_threads)
        result.metadata = mask_record(result.metadata, secrets)
        return result

    def _sync_outputs(self, result: StepResult) -> None:
        """The worker published its outputs without syncing them: queued on the store's sync
        thread before the result is recorded (``snapshots_durable`` waits for them)."""
        if result.unsynced:
            store = self.artifact_store()
            for digest, files in result.unsynced.items():
                store.sync_stored(digest, files)
            self._written.update(result.written)  # (not an output found already stored: its stamps were all it checked)

    def _record_snapshots(self, address: str, result: StepResult) -> None:
        """The snapshots the worker stored, for the step's lineage (synced with its outputs)."""
        for path, digest in result.snapshots.items():
            self.tracker.snapshots[(address, path)] = Snapshot(digest, self.artifact_store().uri(digest))

    def close(self, cancel: bool = False) -> None:
        """Wait for running steps to finish, or with ``cancel`` stop them (an interrupted apply).
        The worker pool's helper processes are told to stop; ``closed`` waits for their exit."""
        if self._pool is not None:
            self._pool.shutdown(cancel=cancel, wait=False)
            self._closing, self._pool = self._pool, None
        if self._first_imports is not None and not cancel:
            early_pool.remember(self.project.state_dir / "cache", self._first_imports)

    def closed(self) -> None:
        """Until the helper processes of the pool ``close`` ended have exited."""
        if self._closing is not None:
            self._closing.wait_closed()
            self._closing = None


def same_data(spec: m.DataInput, digest: str, file_name: str | None) -> None:
    """The bytes stored for a data input (a file: under ``file_name``) are those the step's
    cache key was computed from: an edit between the step's re-plan and its snapshot would
    otherwise be run under the key of the bytes before it."""
    from zplan.hashing import combine

    planned = combine([(file_name, spec.digest)]) if file_name else spec.digest  # (the plan hashes a file's bytes alone)
    if digest != planned:
        raise StepRefused(f"input data {spec.path} changed as the step started; apply again to run it with the data as it is now")


def _script_task(config, step, plan: m.StepPlan):
    """What a script step's worker runs (None for a function step)."""
    if step.script is None:
        return None
    from zplan.apply.script_run import ScriptTask
    from zplan.plan.script_steps import COMMAND_PARAM, placements

    code_files = {key.rpartition(":")[0] for key in plan.code_parts}  # the script and the project modules it imports
    params_files = {key.partition(":")[0] for key in plan.params if key != COMMAND_PARAM}
    return ScriptTask(plan.params[COMMAND_PARAM], placements(config, plan.inputs), step.script.outs, step.script.metrics,
                      sorted(code_files | params_files), {k: v for k, v in plan.params.items() if k != COMMAND_PARAM})
