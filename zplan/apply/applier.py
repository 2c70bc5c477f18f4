"""Carrying out a plan: resources through their providers, steps through worker processes.

The plan is immutable; this module tracks the run (pending -> running -> done /
failed / skipped). Each step is re-planned just before it starts, when its
upstream artifacts are known, so a step whose inputs came out unchanged is taken
from the cache even if the plan expected it to run. State is written after every
resource and, for steps, at most once a second and at the end.
"""

from __future__ import annotations

import concurrent.futures as cf
import datetime as _dt
import multiprocessing
import os
import time
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from zplan import diags
from zplan.apply.hooks import Hooks
from zplan.apply.recovery import DamagedInputs
from zplan.apply.worker import StepResult, StepTask, run_step
from zplan.config.values import UNKNOWN
from zplan.config.scope import StepOutputRef
from zplan.graph.walk import FAILED, OK, SKIPPED, done_future, walk
from zplan.plan import model as m
from zplan.plan.planner import Planner
from zplan.plan.steps import mask_secrets
from zplan.apply.resources import ResourceApplier
from zplan.provider import ResourceResult
from zplan.state import secrets as sealed
from zplan.state.model import State

STATE_FLUSH_SECONDS = 1.0


@dataclass
class ApplyResult:
    run_id: int | None = None
    outcome: dict[str, str] = field(default_factory=dict)  # address -> ok | failed | skipped | cached
    changed: bool = False

    @property
    def failed(self) -> list[str]:
        return [a for a, o in self.outcome.items() if o == FAILED]

    @property
    def ok(self) -> bool:
        return not self.failed


class Applier:
    def __init__(
        self,
        planner: Planner,
        plan: m.Plan,
        state: State,
        persist: Callable[[State], None],
        hooks: Hooks | None = None,
        parallelism: int | None = None,
    ) -> None:
        self.planner = planner
        self.project = planner.project
        self.plan = plan
        self.state = state
        self.persist = persist
        self.hooks = hooks or Hooks()
        self.parallelism = max(1, parallelism or os.cpu_count() or 1)
        self.result = ApplyResult()
        self._pool: cf.ProcessPoolExecutor | None = None
        self._threads = cf.ThreadPoolExecutor(max_workers=4, thread_name_prefix="zplan-resource")
        self._metadata = None
        self._last_flush = 0.0
        self._started: dict[str, float] = {}
        self._current: dict[str, m.StepPlan] = {}  # each step as re-planned when it started
        self.store_key = plan.store_key  # None until the stack's resources exist
        self._pending_executions: list[dict] = []  # recorded in ML Metadata in batches
        self.resources = ResourceApplier(self.project, state, self.hooks, lambda: self.persist(self.state), self.result)
        self._damaged_inputs = DamagedInputs(planner.graph, lambda: planner.step_planner, self._artifact_store, self.hooks)

    # -- entry points ---------------------------------------------------------------------------
    def apply(self) -> ApplyResult:
        if not self.plan.has_changes() and not self._outputs_changed():
            return self.result  # nothing to do: no run recorded, serial unchanged
        self.resources.preflight(self.plan.resource_changes)
        try:
            self.resources.apply_destroys(self.plan.resources)
            if self.plan.destroy:
                self.state.set_outputs(self.project.stack_name, {})
            else:
                self._walk()
                self.resources.destroy_deposed()
                self._record_outputs()
        finally:
            self._close()
        if self.result.changed or self._outputs_changed():
            self.state.bump()
        self.persist(self.state)
        self.hooks.run_finished(self._summary())
        return self.result

    # -- the walk -----------------------------------------------------------------------------------
    def _walk(self) -> None:
        from zplan.stack.flavors import is_remote

        graph = self.planner.graph
        nodes = [r.address for r in self.plan.resources if r.action not in (m.NOOP, m.DELETE)]
        remote = is_remote(self.planner.stack_settings)
        if not remote:
            nodes += [s.address for s in self.plan.steps]
        def start(node: str) -> cf.Future:
            if node.startswith("resource."):
                return self._threads.submit(self.resources.run, self.plan.resource(node))
            return self._start_step(node)

        def finish(node: str, status: str, future: cf.Future | None) -> None:
            if node.startswith("resource."):
                if status == SKIPPED:
                    self.result.outcome[node] = SKIPPED
                    self.hooks.step_skipped(node, "a dependency failed")
                    return
                res = future.result() if future.exception() is None else ResourceResult(node, None, str(future.exception()))
                self.resources.finish(self.plan.resource(node), res)
            else:
                self._finish_step(node, status, future)

        walk(graph, start, finish, nodes=nodes)
        again = self._damaged_inputs.next_round()
        if again:  # steps held back on a damaged input, with the steps that made it
            walk(graph, start, finish, nodes=again)
        self._flush(force=True)
        if remote and self.result.ok and any(s.action == m.RUN for s in self.plan.steps):
            self._dispatch_remote()

    def _dispatch_remote(self) -> None:
        """Kubeflow / Vertex stacks: compile each pipeline to a spec of `zplan run-step`
        tasks and submit it (or say how to); the steps record into the stack's stores."""
        from zplan.kubeflow.compile import StepTask, compile_pipeline
        from zplan.kubeflow.submit import submit

        self._settle_stack()
        settings = self.planner.stack_settings
        for pipeline in sorted({s.pipeline for s in self.plan.steps}):
            steps = [s for s in self.plan.steps if s.pipeline == pipeline]
            tasks = [StepTask(s.address, s.step, [d.rsplit(".", 1)[1] for d in s.depends_on]) for s in steps]
            spec = compile_pipeline(pipeline, tasks, str(settings.get("container_image") or ""), self.project.stack_name,
                                    self.project.state_dir / "compiled" / f"{pipeline}.yaml")
            options = settings.get("orchestrator_options")
            self.hooks.notice(f"pipeline {pipeline}: {submit(spec, str(settings['orchestrator']), options if isinstance(options, dict) else {})}")
            for s in steps:
                self.result.outcome[s.address] = "submitted"

    def _ensure_run(self) -> None:
        """Open the run when the first step starts: by then the resources a stack
        names (a bucket, a database) exist, so its settings are known."""
        if self._metadata is not None:
            return
        self._settle_stack()
        from zplan.metadata import MetadataStore, git_info

        settings = self.planner.stack_settings
        self._metadata = MetadataStore.from_url(str(settings["metadata_store"]), self.project.root, _password(settings))
        pipelines = sorted({s.pipeline for s in self.plan.steps})
        self.result.run_id = self._metadata.start_run(",".join(pipelines), self.project.stack_name, git_info(self.project.root), time.time())
        self.hooks.run_started(self.result.run_id, len(self.plan.steps), len(self.plan.resource_changes))

    def _settle_stack(self) -> None:
        """Evaluate the stack again with applied resources, when planning could not."""
        if self.store_key is not None:
            return
        from zplan.stack import select
        from zplan.state.model import store_key

        settings = select.settings(self.project.config, self.project.stack_name, self.project.scope(self.resources.value).eval)
        unknown = [k for k in ("artifact_store", "metadata_store") if settings.get(k) is UNKNOWN]
        if unknown:
            raise diags.fail(f"stack {self.project.stack_name}: {', '.join(unknown)} still unknown after its resources were applied")
        self.planner.stack_settings = settings
        self.store_key = self.planner.step_planner.store_key = store_key(str(settings["artifact_store"]), str(settings["metadata_store"]))

    # -- steps ----------------------------------------------------------------------------------------
    def _start_step(self, address: str) -> cf.Future:
        self._ensure_run()
        step_planner = self.planner.step_planner
        step = self.project.config.step(address)
        original = self.plan.step(address)
        forced = original.action == m.RUN and any(r.code == m.REPLACE_REQUESTED for r in original.reasons)
        current = step_planner.plan(step, self.project.scope(self.resources.value), forced)
        self._current[address] = current
        if current.action == m.CACHED:
            return done_future("cached")
        self.hooks.step_started(address)
        self._started[address] = time.time()
        task = StepTask(
            address=address,
            project_dir=str(self.project.root),
            source_file=step.file,
            function=step.function,
            params=current.params,
            inputs={name: self._task_input(spec) for name, spec in current.inputs.items()},
            declared_outputs=current.outputs,
            artifact_store_url=str(self.planner.stack_settings["artifact_store"]),
            run_id=self.result.run_id or 0,
            log_path=str(self._log_path(address)),
            stack={k: v for k, v in _jsonable(self.planner.stack_settings).items() if k != "metadata_password"},
        )
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

    def _task_input(self, spec: dict) -> dict:
        if spec["kind"] == "list":
            return {"kind": "list", "items": [self._task_input(i) for i in spec["items"]]}
        if spec["kind"] == "data" and spec.get("snapshot") == "reference":
            return {"kind": "path", "path": str(self.project.root / spec["path"])}  # opted out: the live file
        if spec["kind"] == "data":
            path = self._snapshot(spec)
            return {"kind": "path", "path": str(path), "digest": spec["stored"]["digest"]}
        upstream = self.planner.step_planner.planned[spec["step"]]
        out = upstream.cached_from["outputs"][spec["output"]]
        return {"kind": "artifact", "digest": out["digest"], "materializer": out["materializer"]}

    def _snapshot(self, spec: dict) -> Path:
        """Data inputs are stored as immutable snapshots; the step reads the snapshot."""
        from zplan.artifacts.snapshot import snapshot

        source = self.project.root / spec["path"]
        stored = snapshot(source, self._artifact_store(), self.planner.stat_cache)
        spec["stored"] = {"digest": stored.digest, "uri": stored.uri}
        folder = self._artifact_store().get(stored.digest)
        return folder / source.name if source.is_file() and (folder / source.name).exists() else folder

    def _artifact_store(self):
        if not hasattr(self, "_store"):
            from zplan.artifacts.store import ArtifactStore

            self._store = ArtifactStore.from_url(str(self.planner.stack_settings["artifact_store"]), self.project.root)
        return self._store

    def _log_path(self, address: str) -> Path:
        # Run numbers count per metadata store, so two stacks both have a run 1: the stack keeps them apart.
        return self.project.state_dir / "logs" / self.project.stack_name / f"run-{self.result.run_id or 0}" / f"{address}.log"

    def _finish_step(self, address: str, status: str, future: cf.Future | None) -> None:
        planner = self.planner.step_planner
        if status == SKIPPED and self._damaged_inputs.waits_for_retry(address):
            return  # runs in the second round
        if status == SKIPPED:
            self.result.outcome[address] = SKIPPED
            self.hooks.step_skipped(address, "an upstream step failed")
            return
        current = self._current[address]
        if future is not None and future.exception() is None and future.result() == "cached":
            self.result.outcome[address] = "cached"
            reason = "cached" if self.plan.step(address).action == m.CACHED else "cached: upstream output unchanged"
            self.hooks.step_cached(address, reason)
            self._record_execution(current, "cached", current.cached_from["outputs"], None, time.time(), time.time())
            record = self.state.step_record(self.store_key, address) or {}
            if record.get("status") != "succeeded" or record.get("cache_key") != current.cache_key:
                # the latest record is another execution (a failure, other params): outputs and reasons read it
                self._remember(current, "succeeded", current.cached_from["outputs"], None, current.cached_from.get("run"), current.cached_from.get("finished_at"))
            return
        result: StepResult
        if future.exception() is not None:
            exc = future.exception()
            msg = "the worker process died (killed or crashed)" if isinstance(exc, BrokenProcessPool) else f"{type(exc).__name__}: {exc}"
            result = StepResult(address, False, error=msg, started_at=self._started.get(address, time.time()), finished_at=time.time())
        else:
            result = future.result()
        if self._damaged_inputs.hold(current, result):
            return
        # A step may put a secret in its exception; the message is printed and recorded.
        result.error, result.traceback = _redact(result.error, self.project.secrets), _redact(result.traceback, self.project.secrets)
        log = self._log_path(address)
        _redact_file(log, self.project.secrets)  # what the step printed, too
        if result.ok:
            self.result.outcome[address] = OK
            self._damaged_inputs.stored_again(result)
            self._remember(current, "succeeded", result.outputs, None, self.result.run_id)
            current.action, current.cached_from = m.CACHED, self.state.cache_entry(self.store_key, current.cache_key)
            planner.planned[address] = current
        else:
            self.result.outcome[address] = FAILED
            self._remember(current, "failed", {}, result.error, self.result.run_id)
        self._record_execution(current, "complete" if result.ok else "failed", result.outputs, result.error, result.started_at, result.finished_at)
        self.hooks.step_finished(
            address, result.ok, result.finished_at - result.started_at, result.error, result.traceback, str(log) if log.exists() else None
        )

    def _remember(self, plan: m.StepPlan, status: str, outputs: dict, error: str | None, run: int | None, finished_at: str | None = None) -> None:
        store = self.state.store(self.store_key)
        fingerprint = self.planner.step_planner.fingerprint(plan)
        now = finished_at or _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
        record = {"status": status, "cache_key": plan.cache_key, "fingerprint": fingerprint, "outputs": outputs, "run": run, "finished_at": now}
        if error:
            record["error"] = error
        store["steps"][plan.address] = record
        if status == "succeeded" and plan.cache_key:
            store["cache"][plan.cache_key] = {"address": plan.address, "outputs": outputs, "run": run, "finished_at": now}
        self.result.changed = True
        self._flush()

    def _record_execution(self, plan: m.StepPlan, state: str, outputs: dict, error: str | None, started: float, finished: float) -> None:
        if self._metadata is None:
            return
        from zplan.metadata import ArtifactRecord

        def art(rec: dict, kind: str = "output", source: str | None = None) -> ArtifactRecord:
            return ArtifactRecord(
                digest=rec["digest"], uri=rec["uri"], materializer=rec.get("materializer", "snapshot"),
                materializer_version=rec.get("materializer_version", ""), type_name=rec.get("type", ""),
                kind=kind, source_path=source, size=rec.get("size", 0),
            )

        inputs = {}
        for name, spec in plan.inputs.items():
            for i, item in enumerate(spec["items"] if spec["kind"] == "list" else [spec]):
                key = name if spec["kind"] != "list" else f"{name}[{i}]"
                if item["kind"] == "data" and "stored" in item:
                    inputs[key] = art(item["stored"], "snapshot", item["path"])
                elif item["kind"] == "data" and item.get("snapshot") == "reference":
                    inputs[key] = art(_reference(self.project.root / item["path"], item["digest"]), "snapshot", item["path"])
                elif item["kind"] == "step":
                    up = self.planner.step_planner.planned.get(item["step"])
                    rec = (up.cached_from or {}).get("outputs", {}).get(item["output"]) if up else None
                    if rec:
                        inputs[key] = art(rec)
        self._pending_executions.append(dict(
            address=plan.address, pipeline=plan.pipeline, step=plan.step,
            cache_key=plan.cache_key or "", params=mask_secrets(plan.params, self.project.secrets),
            code_hash=plan.code_hash, state=state, started_at=started, finished_at=finished, error=error,
            inputs=inputs, outputs={k: art(v) for k, v in outputs.items()},
        ))
        self._flush()

    def _flush(self, force: bool = False) -> None:
        """Write state and the pending metadata in batches: at most once a second, and at the end."""
        now = time.monotonic()
        if force or now - self._last_flush >= STATE_FLUSH_SECONDS:
            if self._pending_executions and self._metadata is not None:
                self._metadata.record_executions(self.result.run_id, self._pending_executions)
                self._pending_executions = []
            self.persist(self.state)
            self._last_flush = now

    # -- outputs and wrap-up ----------------------------------------------------------------------------
    def _outputs_changed(self) -> bool:
        return any(
            o["known"] and self._recorded_outputs().get(n, {}).get("value") != o["value"] for n, o in self.plan.outputs.items()
        ) if not self.plan.destroy else bool(self._recorded_outputs())

    def _recorded_outputs(self) -> dict:
        return self.state.outputs_of(self.project.stack_name)

    def _record_outputs(self) -> None:
        scope = self.project.scope(self.resources.value)
        outputs = {}
        for name, output in self.project.config.outputs.items():
            from zplan.plan.planner import _pipeline_of

            value = scope.eval(output.expr, pipeline=_pipeline_of(output.expr, self.project.config))
            if isinstance(value, StepOutputRef):
                rec = self.state.step_record(self.store_key, value.address) or {} if self.store_key else {}
                out = rec.get("outputs", {}).get(value.output, {}) if rec.get("status") == "succeeded" else {}
                value = out.get("value", out.get("uri"))
            if value is UNKNOWN or value is None:
                continue
            stored = sealed.seal(value, self.project.state_dir) if output.sensitive else value
            outputs[name] = {"value": stored, "sensitive": output.sensitive}
        self.state.set_outputs(self.project.stack_name, outputs)

    def _summary(self) -> dict:
        counts: dict[str, int] = {}
        for outcome in self.result.outcome.values():
            counts[outcome] = counts.get(outcome, 0) + 1
        return {"run": self.result.run_id, **counts}

    def _close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        self._threads.shutdown(wait=True)
        if self._metadata is not None:
            if self._pending_executions:
                self._metadata.record_executions(self.result.run_id, self._pending_executions)
                self._pending_executions = []
            self._metadata.finish_run(self.result.run_id, "failed" if self.result.failed else "succeeded", time.time())
            self._metadata.close()


def _reference(path: Path, digest: str) -> dict:
    """Lineage of an input read in place (``snapshot = "reference"``): its digest at plan time
    and its live location; the materializer name says it was not snapshotted."""
    return {"digest": digest, "uri": path.as_uri(), "materializer": "reference (not snapshotted)"}


def _password(settings: dict) -> str | None:
    value = settings.get("metadata_password")
    return value if isinstance(value, str) else None


def _redact_file(path: Path, secrets: list[str]) -> None:
    if not secrets or not path.exists():
        return
    data = path.read_bytes()
    cleaned = data
    for secret in secrets:
        if secret:
            cleaned = cleaned.replace(secret.encode(), b"(sensitive)")
    if cleaned != data:
        from zplan.fsutil import atomic_write_bytes

        atomic_write_bytes(path, cleaned)


def _redact(text: str | None, secrets: list[str]) -> str | None:
    for secret in secrets:
        if text and secret:
            text = text.replace(secret, "(sensitive)")
    return text


def _jsonable(settings: dict) -> dict:
    return {k: v for k, v in settings.items() if v is not UNKNOWN}
