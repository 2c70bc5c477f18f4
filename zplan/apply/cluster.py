"""Steps as tasks on a Dask cluster (``orchestrator = "dask"``).

The walk is the local one (dependency order; every ready step is submitted and the
scheduler runs as many at once as its workers have room for); only where a step runs
changes. Each task is ``cluster_task.run_on_worker``: the step reads its inputs from and
writes its outputs to the stack's artifact store on the worker, and sends back its
result and log; this client records metadata and state as for a local run.

A worker that dies under a step fails the task (the scheduler is asked for no retries of
its own on clusters zplan starts); the step is then submitted once more, to the workers
still alive, and fails with both attempts' story if that one dies too.
"""

from __future__ import annotations

import concurrent.futures as cf
import threading
import time
import uuid
from pathlib import Path

from zplan import diags
from zplan.apply.cluster_task import RemoteResult, run_on_worker, stop_steps
from zplan.apply.runner import StepRefused, StepRunner, same_data
from zplan.apply.worker import PathArg, StepResult, StepTask, TaskInput
from zplan.graph.walk import failed_future
from zplan.apply.workers import TaskCancelled
from zplan.cluster.connect import check_workers, connect, scheduler_address
from zplan.plan import model as m

ATTEMPTS = 2  # a step whose worker died is retried once, elsewhere


class DaskStepRunner(StepRunner):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._client = None
        self._bundle = None  # the project's files as last uploaded to the workers (a cluster.bundle.Bundle)
        self._bundle_lock = threading.Lock()
        self._waiters = cf.ThreadPoolExecutor(max_workers=64, thread_name_prefix="zplan-dask")
        self._running: dict[str, object] = {}  # address -> the Dask future of its current attempt
        self._stopping: set[str] = set()  # task keys asked to stop (a second Ctrl-C kills them at once)

    @staticmethod
    def start_early() -> None:
        """Nothing: steps run on the cluster, not in this machine's workers."""

    def prepare(self) -> None:
        if self._client is not None:
            return
        address = scheduler_address(self.tracker.stack_settings)
        if address is None:
            raise diags.fail('orchestrator "dask" needs orchestrator_options = { scheduler = "tcp://HOST:8786" }')
        self._client = connect(address, self._connect_timeout())
        check_workers(self._client, address)
        if not self._shared_project():
            from zplan.cluster.bundle import make_bundle

            self._bundle = self._upload(make_bundle(self.project.root))

    def _shipped(self, task: StepTask, plan: m.StepPlan) -> str | None:
        """The digest of a bundle holding the step's code files and reference inputs (read in place) as its
        re-plan at start read them: the one made as the run started, or, when one was edited since, a new
        one (an edit after the re-plan is caught when the step ends, as for a local step). None when the
        project folder is shared."""
        from zplan.apply.live_inputs import reference_stamps
        from zplan.cluster.bundle import make_bundle, outdated

        files = set(task.script.copies) if task.script is not None else {key.rpartition(":")[0] for key in plan.code_parts}
        files |= {rel for rel in reference_stamps(self.project.root, plan.inputs) if (self.project.root / rel).is_file()}
        with self._bundle_lock:
            if self._bundle is not None and outdated(self._bundle, self.project.root, files):
                self._bundle = self._upload(make_bundle(self.project.root))
            return self._bundle.digest if self._bundle is not None else None

    def _upload(self, bundle):
        import tempfile

        from zplan.cluster.bundle import file_name

        name = file_name(bundle.digest)
        have = self._client.run(lambda dask_worker: (Path(dask_worker.local_directory) / name).is_file())
        if have and all(have.values()):
            return bundle  # uploaded by an earlier apply (and registered for workers that join later)
        with tempfile.TemporaryDirectory(prefix="zplan-bundle-") as folder:
            path = Path(folder) / name
            path.write_bytes(bundle.data)
            self._client.upload_file(str(path), load=False)
        return bundle

    def _connect_timeout(self) -> float:
        from zplan.cluster.connect import CONNECT_TIMEOUT_SECONDS
        from zplan.durations import timeout_seconds

        options = self.tracker.stack_settings.get("orchestrator_options") or {}
        value = options.get("connect_timeout") if isinstance(options, dict) else None
        return timeout_seconds(value) if value is not None else CONNECT_TIMEOUT_SECONDS

    def _shared_project(self) -> bool:
        from zplan.cluster.connect import shared_project_dir

        return shared_project_dir(self.tracker.stack_settings)  # its value was checked at plan time

    def start(self, plan: m.StepPlan, imports: tuple[str, ...] = (), after: list[tuple[str, ...]] | None = None) -> cf.Future:
        """(``imports`` and ``after`` are for a local pool's workers: a cluster's scheduler places tasks itself.)"""
        self.prepare()
        step = self.project.config.step(plan.address)
        task = self.task(plan)
        self.tracker.started_at[plan.address] = time.time()
        try:
            bundle = self._shipped(task, plan)
        except diags.DiagnosticError as exc:  # (the project grew past the bundle's limit)
            return failed_future(StepRefused(f"{exc.diagnostics[0].summary} ({exc.diagnostics[0].detail})"))
        with self._lock:
            if self._cancelled:
                return failed_future(TaskCancelled("not started: the apply was interrupted"))
            return self._waiters.submit(self._run, task, bundle, self._timeout(step), step)

    def _run(self, task: StepTask, bundle: str | None, timeout: float | None, step) -> StepResult:
        from distributed import KilledWorker

        try:
            placement = self._placement(step)
        except diags.DiagnosticError as exc:
            d = exc.diagnostics[0]
            return StepResult(task.address, False, error=f"{d.summary} ({d.detail})", started_at=time.time(), finished_at=time.time())
        deaths: list[str] = []
        for attempt in range(ATTEMPTS):
            with self._lock:
                if self._cancelled:
                    raise TaskCancelled("stopped: the apply was interrupted")
                future = self._client.submit(run_on_worker, task, bundle, timeout, pure=False,
                                             key=f"zplan-step-{task.address}-{uuid.uuid4().hex[:8]}",
                                             **placement)
                self._running[task.address] = future
            try:
                remote: RemoteResult = future.result()
            except KilledWorker as exc:
                deaths.append(f"attempt {attempt + 1}: the Dask worker running it died ({exc})")
                continue
            except cf.CancelledError:
                raise TaskCancelled("stopped: the apply was interrupted") from None
            finally:
                self._running.pop(task.address, None)
            return self._received(task, remote, deaths)
        return StepResult(task.address, False, error="; ".join(deaths) + " — not retried again",
                          started_at=self.tracker.started_at.get(task.address, time.time()), finished_at=time.time())

    def _received(self, task: StepTask, remote: RemoteResult, deaths: list[str]) -> StepResult:
        log = Path(task.log_path)
        log.parent.mkdir(parents=True, exist_ok=True)
        note = "".join(f"[zplan] {d}; retried on another worker\n" for d in deaths)
        log.write_text(note + remote.log)
        return remote.result

    def _placement(self, step) -> dict:
        from zplan.apply.cluster_resources import placement

        return placement(getattr(step, "resources", None), self._client, str(step.addr))

    def _task_input(self, address: str, spec: m.StepInput, local_worker: bool = False) -> TaskInput:
        """Paths relative to what the worker has: the snapshot's folder (by digest) or the project."""
        if isinstance(spec, m.DataInput) and not spec.reference:
            from zplan.apply.tracker import Snapshot
            from zplan.artifacts.snapshot import snapshot

            source = self.project.root / spec.path
            stored = snapshot(source, self.artifact_store(), self.stat_cache)
            same_data(spec, stored.digest, source.name if source.is_file() else None)  # (as on this machine)
            self.tracker.snapshots[(address, spec.path)] = Snapshot(stored.digest, stored.uri)
            return PathArg(source.name if source.is_file() else "", stored.digest)
        if isinstance(spec, m.DataInput):
            return PathArg(spec.path)
        return super()._task_input(address, spec, local_worker)

    def cancel(self, grace: float | None = None) -> None:
        with self._lock:
            self._cancelled = True
            running = list(self._running.values())
            self._stopping.update(f.key for f in running)
            stopping = sorted(self._stopping)
        if stopping and self._client is not None:
            if running:
                self._client.cancel(running, force=True)
            self._stop_on_workers(stopping, self.grace if grace is None else grace)

    def _stop_on_workers(self, keys: list[str], grace: float) -> None:
        """A cancelled future's task keeps running on its worker: stop the steps' processes there."""
        try:
            self._client.run(stop_steps, keys, grace, on_error="ignore")
        except Exception:  # noqa: BLE001 - a worker gone or out of reach: its step went with it, or dies with it
            pass

    def close(self, cancel: bool = False) -> None:
        if cancel:
            self.cancel()
        self._waiters.shutdown(wait=True)
        if self._client is not None:
            self._client.close()
            self._client = None
