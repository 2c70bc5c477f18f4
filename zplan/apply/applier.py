"""Carrying out a plan: resources through their providers, steps through worker processes.

The plan is immutable; the run is tracked apart (``RunTracker``: outcomes, each
step as re-planned when it started). Each step is re-planned just before it
starts, when its upstream artifacts are known, so a step whose inputs came out
unchanged is taken from the cache even if the plan expected it to run. State is
written after every resource and, for steps, at most once a second and at the end.

The pieces: ``ResourceApplier`` (providers), ``StepRunner`` (worker processes),
``RunRecorder`` (state and ML Metadata), ``remote`` (external orchestrators) and
``outputs``; this module only walks the graph and hands nodes to them.
"""

from __future__ import annotations

import concurrent.futures as cf
import time
from typing import Callable

from zplan.addrs import is_resource
from zplan import diags
from zplan.apply import early_pool
from zplan.apply import outputs as stack_outputs
from zplan.apply.backend_steps import with_backends
from zplan.apply.interrupts import StopRequest, stop_on_signals
from zplan.apply.live_inputs import reference_stamps
from zplan.apply.preflight import preflight
from zplan.apply.recorder import RunRecorder
from zplan.apply.recovery import DamagedInputs
from zplan.apply.resources import ResourceApplier
from zplan.apply.runner import StepRefused, StepRunner
from zplan.apply.state_writes import Recovery, StateWrites
from zplan.apply.strays import left_running_message, left_threads_message
from zplan.apply.tracker import CACHED, STOPPED, ApplyResult, RunTracker
from zplan.apply.warm_imports import StepImports
from zplan.apply.worker import StepResult
from zplan.apply.workers import TaskCancelled
from zplan.config.values import UNKNOWN, contains_unknown
from zplan.graph.walk import FAILED, OK, SKIPPED, done_future, failed_future, walk
from zplan.hooks import Hooks
from zplan.metadata.urls import metadata_password
from zplan.plan import model as m
from zplan.plan.planner import Planner
from zplan.provider import ResourceResult
from zplan.state import collector
from zplan.state.model import State

__all__ = ["Applier", "ApplyResult"]

_NOT_STARTED = "not-started"  # a step's start found the runner unable to run anything


def step_runner(settings) -> type[StepRunner]:
    """Where steps run: worker processes here, or tasks on a Dask cluster."""
    if settings.get("orchestrator") == "dask":
        from zplan.apply.cluster import DaskStepRunner
        return DaskStepRunner
    return StepRunner


class Applier:
    def __init__(
        self,
        planner: Planner,
        plan: m.Plan,
        state: State,
        persist: Callable[[State], None],
        hooks: Hooks | None = None,
        parallelism: int | None = None,
        persist_last: Callable[[State], None] | None = None,
        exact: bool = False,
        in_task: bool = False,
        recovery: Recovery | None = None,
        lock_timeout: float = 0.0,
    ) -> None:
        """``persist`` writes the state as the apply goes; ``persist_last``, if given, writes it
        the last time (a file backend then also keeps its decoded copy for the next plan).
        ``exact`` (a saved plan): a step whose re-plan finds other code or data than the plan
        had is refused, never run with what changed. ``in_task``: this is a task of an external
        orchestrator (``zplan run-step``): its steps run here, whatever the stack's orchestrator.
        ``recovery``: where the state goes when the last write fails (``zplan.apply.state_writes``).
        ``lock_timeout``: the apply's -lock-timeout, which the Kubeflow/Vertex tasks it submits wait too."""
        inputs = planner.apply_inputs()
        self.project = planner.project
        self.plan = plan
        self.state = state
        self.writes = StateWrites(self._after_snapshots(persist), self._after_snapshots(persist_last or persist), recovery,
                                  "destroy" if plan.destroy else "task" if in_task else "apply")
        self.persist = persist = self.writes.write
        self.hooks = hooks or Hooks()
        self.graph = inputs.graph
        self.tracker = RunTracker(plan, inputs.stack_settings, inputs.read_elsewhere)
        self.result = self.tracker.result
        self.resources = ResourceApplier(self.project, state, self.hooks, lambda: persist(state), self.result, self._step_output)
        self.recorder = RunRecorder(state, persist, self.tracker, self.project.secrets, self.project.root)
        self.recorder.before_write = lambda: self.runner.snapshots_durable()  # lineage names snapshots too
        self.resources.on_applied = self._record_deployment
        self.runner = with_backends(step_runner(inputs.stack_settings), self.project.config)(self.project, self.tracker, inputs.stat_cache, early_pool.pool_size(parallelism))
        self._base_step_planner = inputs.step_planner
        self.step_planner = self._run_planner(plan.store_key)
        self._threads = cf.ThreadPoolExecutor(max_workers=4, thread_name_prefix="zplan-resource")
        self._run_open = False
        self._abort: diags.DiagnosticError | None = None  # the runner could not start (a scheduler out of reach)
        self.stop = StopRequest()  # set by Ctrl-C or SIGTERM
        self._exact = exact
        self._in_task = in_task
        self._lock_timeout = lock_timeout
        self._code_files: dict[str, dict[str, list[int]]] = {}  # step -> its code files as its re-plan read them, its reference inputs
        self._damaged_inputs = DamagedInputs(self.graph, lambda: self.step_planner, self.tracker, self.runner.artifact_store, self.hooks)
        self._imports = StepImports(self.plan, self.graph, self.project.config, lambda: self.step_planner.code)  # for the workers

    def _after_snapshots(self, persist: Callable[[State], None]) -> Callable[[State], None]:
        """State is written only once the snapshots it may name are on disk (they sync while steps run)."""
        def durable_first(state: State) -> None:
            self.runner.snapshots_durable()
            persist(state)
        return durable_first

    # -- entry point ------------------------------------------------------------------------------
    def apply(self) -> ApplyResult:
        if not self.plan.has_changes():  # (outputs apply would add, change or remove count: plan.output_changes)
            return self.result  # nothing to do: no run recorded, serial unchanged
        self.resources.preflight(self.plan.resource_changes)
        preflight(self.project.config, self.project.stack_name, self.tracker.stack_settings, self.plan.steps_to_run, self._in_task)
        try:
            self._make_changes()
            if self.result.changed or self.plan.output_changes:
                self.state.bump()
            self.writes.write_last(self.state, self._not_started())
            if self.recorder.metadata_failed is not None:
                raise self._metadata_stopped()
            summary = self.tracker.summary()
            self.hooks.run_finished(summary | stack_outputs.written_alone(self.plan, summary))  # not "nothing to do"
        finally:
            self.runner.closed()  # the workers' helper processes exited while the last records were written
        return self.result

    def _make_changes(self) -> None:
        """Destroy, then walk the graph (resources and steps), until done or stopped by a signal."""
        with stop_on_signals(self.stop, self._stop_steps, self._kill_steps):
            try:
                self.resources.apply_destroys(self.plan.resources, self._stopping)
                if self.plan.destroy:
                    if not self._stopping():  # outputs go with the last resource
                        self.state.set_outputs(self.project.stack_name, {})
                else:
                    self._walk()
                    if not self._stopping():  # an old object goes only once its replacement is settled
                        self.resources.destroy_deposed()
                    stack_outputs.record_outputs(self.project, self.state, self.tracker.store_key, self.resources.value, self.resources.names)
            finally:
                self.result.interrupted = self.stop.signum
                self._close()

    # -- the walk -----------------------------------------------------------------------------------
    def _walk(self) -> None:
        from zplan.stack.flavors import is_remote

        nodes = [r.address for r in self.plan.resources if r.action not in (m.NOOP, m.DELETE)]
        remote = is_remote(self.tracker.stack_settings) and not self._in_task
        if not remote:
            nodes += [s.address for s in self.plan.steps]
        else:
            nodes = [n for n in nodes if not self._waits_for_remote_steps(n)]

        def start(node: str) -> cf.Future:
            if is_resource(node):
                return self._threads.submit(self.resources.run, self.plan.resource(node))
            return self._start_step(node)

        def finish(node: str, status: str, future: cf.Future | None) -> None:
            if not is_resource(node):
                return self._finish_step(node, status, future)
            if status == SKIPPED:
                self.tracker.outcome(node, SKIPPED)
                self.hooks.step_skipped(node, self._skip_reason("a dependency failed"))
                return
            res = future.result() if future.exception() is None else ResourceResult(node, None, str(future.exception()))
            self.resources.finish(self.plan.resource(node), res)

        stopping = lambda: self._stopping() or self._abort is not None  # noqa: E731
        # (records waiting for a write, not yet due as their step ended, are written while the next steps run)
        walk(self.graph, start, finish, nodes=nodes, stopping=stopping, idle=self.recorder.flush_when_due)
        again = self._damaged_inputs.next_round()
        if again and not stopping():  # steps held back on a damaged input, with the steps that made it
            walk(self.graph, start, finish, nodes=again, stopping=stopping, idle=self.recorder.flush_when_due)
        self.runner.close()  # no step starts after the walk: the workers end while the records are written
        self.recorder.flush(force=True)
        if self._abort is not None:
            raise self._abort
        if remote and self.result.ok and self.plan.steps_to_run and not stopping():
            from zplan.apply.remote import submit_pipelines

            self._settle_stack()
            submit_pipelines(self.project, self.plan, self.tracker.stack_settings, self.tracker, self.hooks, self._lock_timeout)

    def _waits_for_remote_steps(self, address: str) -> bool:
        """A resource reading the output of a step the remote orchestrator has yet to run
        cannot be applied now: it is skipped, saying to apply again once the pipeline has run."""
        rerunning = sorted(a for a in self.graph.ancestors(address) if (s := self.plan.step(a)) is not None and s.action == m.RUN)
        if not rerunning:
            return False
        self.tracker.outcome(address, SKIPPED)
        self.hooks.step_skipped(address, f"it reads the output of {rerunning[0]}, which runs on the remote orchestrator: "
                                         "apply again once the pipeline has run there")
        return True

    def _open_run(self) -> None:
        """Open the run when the first step starts: by then the resources a stack names (a bucket, a database) exist."""
        if self._run_open:
            return
        with collector.paused():  # ML Metadata's and protobuf's modules imported: long-lived, no garbage
            self._settle_stack()
            self.runner.prepare()  # before the run is recorded: a cluster out of reach leaves no run behind
            pipelines = sorted({s.pipeline for s in self.plan.steps})
            self.result.run_id = self.recorder.open_run(self.project, pipelines, metadata_password(self.tracker.stack_settings),
                                                        len(self.plan.steps_to_run))
        self._run_open = True
        self.hooks.run_started(self.result.run_id, len(self.plan.steps), len(self.plan.resource_changes))

    def _settle_stack(self) -> None:
        """Evaluate the stack again with applied resources, when planning could not."""
        if self.tracker.store_key is not None and not contains_unknown(self.tracker.stack_settings):
            return
        from zplan.stack import select
        from zplan.state.model import store_key

        settings = select.settings(self.project.config, self.project.stack_name, self.project.scope(self.resources.value, self.resources.names).eval)
        unknown = [k for k in ("artifact_store", "metadata_store") if settings.get(k) is UNKNOWN]
        if unknown:
            raise diags.fail(f"stack {self.project.stack_name}: {', '.join(unknown)} still unknown after its resources were applied")
        self.tracker.settle(settings, store_key(str(settings["artifact_store"]), str(settings["metadata_store"])))
        self.step_planner = self._run_planner(self.tracker.store_key)

    def _run_planner(self, store_key: str | None):
        """The step planner of this run: its own view of each step, and the resources it changed."""
        if self._base_step_planner is None:
            return None
        return self._base_step_planner.for_run(store_key, self.tracker.current, self.resources.changed.get)

    def _record_deployment(self, rp: m.ResourcePlan, attributes: dict, started_monotonic: float) -> None:
        """ML Metadata: a resource that received step outputs consumed those artifacts."""
        from zplan.graph.build import pipeline_of

        resource = self.project.config.resources[rp.address]
        refs = {n: e for n, e in resource.attributes.items() if any(r.parts[0] == "step" for r in e.references())}
        if not refs or not self._run_open:
            return
        inputs = self.resources.desired(rp)
        models = {n: inputs[n] for n in refs if isinstance(inputs.get(n), dict) and "digest" in inputs[n]}
        pipeline = pipeline_of(next(iter(refs.values())), self.project.config) or ""
        elapsed = time.monotonic() - started_monotonic
        self.recorder.deployment(rp.address, pipeline, str(rp.action), models, attributes, time.time() - elapsed, time.time())

    def _step_output(self, ref) -> object:
        """A step output as a resource sees it during the run: the artifact the step produced
        (or the cached one), UNKNOWN when it did not succeed."""
        from zplan.plan.resources import artifact_reference

        current = self.tracker.current.get(ref.address)
        if current is not None:
            out = current.cached_from.outputs.get(ref.output) if current.action == m.CACHED and current.cached_from else None
        else:  # outside the -target selection: as recorded
            record = self.state.step_record(self.tracker.store_key, ref.address) if self.tracker.store_key else None
            out = record.outputs.get(ref.output) if record is not None and record.succeeded else None
        if out is None and current is not None and current.action == m.CACHED and current.cached_from:
            outputs = ", ".join(current.cached_from.outputs) or "none"
            raise diags.fail(f'step "{ref.step}" has no output "{ref.output}"', f"its outputs are: {outputs}")
        return artifact_reference(out) if out is not None else UNKNOWN

    # -- steps ----------------------------------------------------------------------------------------
    def _start_step(self, address: str) -> cf.Future:
        try:
            self._open_run()
        except diags.DiagnosticError as exc:
            self._abort = exc
            return done_future(_NOT_STARTED)
        original = self.plan.step(address)
        with self.step_planner.code.watching() as code_files:  # (and the inputs it reads in place, stamped before it hashes them)
            code_files.update(reference_stamps(self.project.root, original.inputs))
            current = self.step_as_it_starts(address)
        if current.action == m.CACHED:
            return done_future(CACHED)
        drift = m.changed_since_planned(original, current) if self._exact else None
        if drift is not None:
            return failed_future(StepRefused(f"{drift} since the plan was made: the saved plan no longer says what would run; "
                                             "run `zplan plan` again and review it"))
        self._code_files[address] = code_files
        self.hooks.step_started(address)
        self._report_shortfall(address)
        try:
            return self.runner.start(current, self._imports.of(address), self._imports.after(address))
        except StepRefused as exc:  # (its data changed as it started)
            return failed_future(exc)

    def step_as_it_starts(self, address: str) -> m.StepPlan:
        """The step planned again with what its upstream steps gave in this run (cached, maybe, where
        the plan could not know its key)."""
        original = self.plan.step(address)
        forced = original.action == m.RUN and any(r.code == m.REPLACE_REQUESTED for r in original.reasons)
        return self.step_planner.plan(self.project.config.step(address), self.project.scope(self.resources.value, self.resources.names), forced)

    def _report_shortfall(self, address: str) -> None:
        step = self.project.config.step(address)
        if step.backend or self.tracker.stack_settings.get("orchestrator") == "dask":
            return  # a cluster or a training job places the step by its resources
        from zplan.apply.capacity import shortfall

        lacking = shortfall(step.resources)
        if lacking:
            self.hooks.notice(f"{address} asks for {lacking}: running it on this machine anyway")

    def _finish_step(self, address: str, status: str, future: cf.Future | None) -> None:
        if status == SKIPPED and self._damaged_inputs.waits_for_retry(address):
            return  # runs in the second round
        if status == SKIPPED:
            self.tracker.outcome(address, SKIPPED)
            self._record_skip(address)
            self.hooks.step_skipped(address, self._skip_reason("an upstream step failed"))
            return
        if future is not None and future.exception() is None and future.result() == _NOT_STARTED:
            self.tracker.outcome(address, SKIPPED)
            self.hooks.step_skipped(address, f"not started: {self._abort.diagnostics[0].summary}" if self._abort else "not started")
            return
        current = self.tracker.current[address]
        if future is not None and future.exception() is None and future.result() == CACHED:
            return self._step_cached(current)
        result = self.runner.result(address, future)
        if isinstance(future.exception(), TaskCancelled):
            self._step_stopped(current, result)
        elif not self._damaged_inputs.hold(current, result):
            self._step_ran(current, result)

    def _record_skip(self, address: str) -> None:
        """Which failures upstream kept the step from starting, for the run's record (`runs show`)."""
        failed = sorted(a for a in self.graph.ancestors(address) if self.tracker.result.outcome.get(a) == FAILED)
        if failed:
            self.tracker.skipped[address] = failed

    def _stopping(self) -> bool:
        """Interrupted, or a state or ML Metadata write failed: nothing more starts that could not be recorded."""
        return self.stop.requested or self.writes.failed is not None or self.recorder.metadata_failed is not None

    def _skip_reason(self, otherwise: str) -> str:
        if self.stop.requested:
            return f"not started: the apply was interrupted ({self.stop.name})"
        if self.writes.failed is not None:
            return "not started: the apply stopped, as state could not be written"
        return "not started: the apply stopped, as ML Metadata could not be written" if self.recorder.metadata_failed is not None else otherwise

    def _metadata_stopped(self) -> diags.DiagnosticError:
        """An ML Metadata write failed, which stopped the apply: what did not run, and what ran but
        is not recorded (held out of state: those steps run again next time)."""
        failure = self.recorder.metadata_failed.diagnostics[0]
        held = self.recorder.held()
        not_started = self._not_started()
        what = [f"these ran but are not recorded: {', '.join(held)}"] if held else []
        what += [f"{', '.join(not_started)} did not run"] if not_started else []
        return diags.fail(f"{failure.summary}; the apply stopped there" + (f": {'; '.join(what)}" if what else ""),
                          f"{failure.detail or 'run the apply again once it can be written'}; what is not recorded runs again then")

    def _not_started(self) -> list[str]:
        """Resources and steps planned to change that this apply left alone (skipped)."""
        return sorted(a for a, o in self.result.outcome.items() if o == SKIPPED)

    def _step_stopped(self, current: m.StepPlan, result: StepResult) -> None:
        """Stopped by an interrupted apply: no step record (its last one stays true), an execution
        marked cancelled for the run's history."""
        self.tracker.outcome(current.address, STOPPED)
        self.recorder.execution(current, "cancelled", {}, result.error, result.started_at, result.finished_at)
        self.hooks.step_stopped(current.address, result.finished_at - result.started_at, f"the apply was interrupted by {self.stop.name}")

    def _step_cached(self, current: m.StepPlan) -> None:
        address, entry = current.address, current.cached_from
        self.tracker.outcome(address, CACHED)
        reason = "cached" if self.plan.step(address).action == m.CACHED else "cached: upstream output unchanged"
        self.hooks.step_cached(address, reason)
        self.recorder.execution(current, "cached", entry.outputs, None, time.time(), time.time())
        record = self.state.step_record(self.tracker.store_key, address)
        if record is None or not record.succeeded or record.cache_key != current.cache_key:
            # the latest record is another execution (a failure, other params): outputs and reasons read it
            self.recorder.step_done(self.step_planner, current, "succeeded", entry.outputs, None, entry.run, entry.finished_at, entry.reads)

    def _step_ran(self, current: m.StepPlan, result: StepResult) -> None:
        address, log = current.address, self.runner.log_path(current.address)
        moved = self.step_planner.code.changed(self._code_files.pop(address, {}))
        if result.ok and not moved:
            moved = self._mark_materializer_code(address, result)
        if result.ok and moved:  # its result may come from either version: kept under neither's key
            result.ok, result.outputs, result.error = False, {}, (
                f"{', '.join(moved)} changed while the step ran, so its result may come from the files before or after "
                "the edit; apply again to run it with them as they are now")
        # The execution first: the write that puts the step's record in state writes it too (executions,
        # then state), so a killed apply never leaves state naming a run ML Metadata has no execution for.
        self.recorder.execution(current, "complete" if result.ok else "failed", result.outputs, result.error, result.started_at, result.finished_at,
                                result.metadata, dict(result.reads))
        if result.ok:
            self.tracker.outcome(address, OK)
            self._damaged_inputs.stored_again(result)
            self.recorder.step_done(self.step_planner, current, "succeeded", result.outputs, None, self.result.run_id, reads=dict(result.reads))
            # downstream steps read this step's artifacts from the run's view of it
            entry = self.state.cache_entry(self.tracker.store_key, current.cache_key) or self.recorder.held_entry(address)
            self.tracker.current[address] = _as_cached(current, entry)
        else:
            self.tracker.outcome(address, FAILED)
            self.recorder.step_done(self.step_planner, current, "failed", {}, result.error, self.result.run_id)
        self.hooks.step_finished(
            address, result.ok, result.finished_at - result.started_at, result.error, result.traceback, str(log) if log.exists() else None
        )
        if result.left_running:
            self.hooks.notice(f"{address}: {left_running_message(result.left_running)}")
        if result.left_threads:
            self.hooks.notice(f"{address}: {left_threads_message(result.left_threads)}")

    def _mark_materializer_code(self, address: str, result: StepResult) -> list[str]:
        """Each output written by a materializer of the project's own code gets the digest of that
        code (a plan compares it); the files of that code edited since the step started, which
        could have written the output either way, are returned."""
        with self.step_planner.code.watching() as files:
            result.outputs = self.step_planner.with_materializer_code(result.outputs)
        started = self.tracker.started_at.get(address)
        return [] if started is None else [rel for rel, (_, *stamps) in files.items() if max(stamps) >= started * 1e9]

    # -- Ctrl-C and SIGTERM (called on a thread of their own) ----------------------------------------
    def _stop_steps(self) -> None:
        self.hooks.notice(f"{self.stop.name}: stopping. No new steps start; running steps are asked to stop "
                          f"(killed after {self.runner.grace:g}s). Press Ctrl-C again to kill them now.")
        self.runner.cancel()

    def _kill_steps(self) -> None:
        self.hooks.notice("Killing running steps now.")
        self.runner.cancel(grace=0.0)

    def _close(self) -> None:
        self.runner.close()  # its helper processes exit meanwhile: ``apply`` waits for them last
        self._threads.shutdown(wait=True)
        self.result.state_not_written = self.writes.failed is not None
        self.recorder.close_run()


def _as_cached(plan: m.StepPlan, entry) -> m.StepPlan:
    from dataclasses import replace

    return replace(plan, action=m.CACHED, cached_from=entry)

