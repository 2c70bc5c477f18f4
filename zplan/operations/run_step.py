"""`zplan run-step ADDRESS`: run one step where an external orchestrator put us.

Kubeflow / Vertex tasks call this inside a container. The step's cache key,
artifacts and lineage go to the stack's (remote) stores exactly as in a local
apply, so caching stays zplan's: a task whose key is already recorded returns
at once. The progress view comes in from the command.
"""

from __future__ import annotations

import dataclasses
import os

from zplan import diags
from zplan.apply.remote import TASK_LOCK_TIMEOUT as LOCK_TIMEOUT  # how long a task waits for the state lock, unless told
from zplan.hooks import Hooks
from zplan.operations.opening import ProjectArgs
from zplan.plan import model as m
from zplan.plan.planner import Planner, PlanRequest
from zplan.project import STATE_DIR, Project, ensure_state_dir
from zplan.state.backend import StateNotWritten
from zplan.state.model import State, StepRecord


def run_step(args: ProjectArgs, address: str, hooks: Hooks, planned_vars: dict | None = None,
             planned: dict | None = None, replace: bool = False, lock_timeout: float = LOCK_TIMEOUT,
             pipeline_run: str | None = None) -> bool:
    """``planned_vars``: the variable values the apply planned with (all but the sensitive ones);
    ``planned``: its digests of the step's parts (``zplan.plan.task_check``), which this task's
    own plan of the step must match; ``replace``: the apply reruns the step by -replace;
    ``lock_timeout``: seconds to wait for the state lock, each time the task takes it;
    ``pipeline_run``: the id of the pipeline run this task is in, recorded with the step's result
    so that the tasks downstream read this run's."""
    from zplan.apply.applier import Applier
    from zplan.operations import planning
    from zplan.plan import task_check
    from zplan.plan.steps import environment

    project = _open_as_planned(args, planned_vars or {})
    if project.config.step(address) is None:
        raise diags.fail(f"{address} is not a step of this project", "addresses look like pipeline.NAME.step.STEP")
    ensure_state_dir(project)
    backend = project.state_backend()
    # The lock is held to read and plan, and again to record, never while the step runs: the
    # pipeline's independent tasks run in parallel pods, and would otherwise run one at a time.
    with backend.lock("run-step", timeout=lock_timeout):
        state = _TaskState(_with_kept_result(project, backend, address), pipeline_run)
        planner = Planner(project, state)
        whole = planner.plan(PlanRequest(targets=[address], replace=[address] if replace else []))
        plan = whole.only_step(address)  # upstream steps ran in their own tasks
        if planned is not None:
            sensitive = sorted(n for n, v in project.config.variables.items() if v.sensitive)
            task_check.check(address, planned, task_check.planned_parts(plan.steps[0], project.secrets, environment()), sensitive)
        _check_state_key(project, backend, plan.steps[0])
        upstream = _upstream_results(whole, state, address, pipeline_run)
        # (the applier writes only while it applies, by which time the name is bound)
        # (its recovery reads the state as stored, so that a failed last write names only what this task ran)
        applier = Applier(planner, plan, state, lambda s: _record(project, backend, s, applier, lock_timeout), hooks,
                          parallelism=1, in_task=True, recovery=planning.recovery(project, backend))
        applier.tracker.current.update(upstream)
        _renew_reused(project, planner.apply_inputs().stack_settings, _as_it_starts(applier, plan.steps[0]), upstream)
        if plan.has_changes():
            _metadata_ready(project, planner.apply_inputs().stack_settings)
    ok = applier.apply().ok
    if ok and _tag_reused(state, applier, address):
        _record(project, backend, state, applier, lock_timeout)
    return ok


def _with_kept_result(project: Project, backend, address: str) -> dict | None:
    """The stored state, holding the results of ``address`` a recovery file kept when a task could not
    record them (the state lock held past its wait, a write refused): a retry of the task records
    them, under the lock it plans with, instead of running the step again. A newer record stays."""
    doc = backend.read()
    state = State(doc)
    if not _take_kept(project, state, address):
        return doc
    state.bump()
    backend.write(state.doc)
    return state.doc


def _take_kept(project: Project, state: State, address: str | None = None) -> bool:
    """Put into ``state`` the results of ``address`` (None: of every step) that the project's recovery
    files hold and it lacks; whether there were some."""
    from zplan.apply.state_writes import RECOVERY_NAME
    from zplan.state.checks import parse_document

    taken = False
    for kept_path in (project.state_dir / RECOVERY_NAME, project.root / RECOVERY_NAME):
        try:
            kept = State(parse_document(kept_path.read_bytes(), str(kept_path), ""))
        except (OSError, diags.DiagnosticError):
            continue  # none there (or not one zplan can read): nothing to take
        for key, store in kept.doc["stores"].items():
            steps = [address] if address is not None else sorted({*store["steps"], *(e["address"] for e in store["cache"].values())})
            for step in steps:
                taken = _take_results(state, key, store, step) or taken
    return taken


def _take_results(state: State, key: str, kept: dict, address: str) -> bool:
    """Put into ``state`` the successful results of ``address`` that one store of a recovery file
    holds and it lacks (its latest record, when newer, and cache entries); whether there were some."""
    record = kept["steps"].get(address)
    latest = state.step_record(key, address)
    newer = record is not None and StepRecord.from_doc(record).succeeded and (
        latest is None or (latest.finished_at or "") < (record.get("finished_at") or ""))
    entries = {k: e for k, e in kept["cache"].items() if e.get("address") == address and state.cache_entry(key, k) is None}
    if not (newer or entries):
        return False
    store = state.doc["stores"].setdefault(key, {"steps": {}, "cache": {}})
    if newer:
        store["steps"][address] = record
    store["cache"].update(entries)
    return True


def _tag_reused(state: "_TaskState", applier, address: str) -> bool:
    """A step taken from the cache is this pipeline run's result too: its record is tagged with the
    run (the tasks downstream look for it there when no plan knows its key). True: tagged."""
    from zplan.apply.tracker import CACHED

    key = applier.tracker.store_key
    if not state.pipeline_run or key is None or applier.tracker.result.outcome.get(address) != CACHED:
        return False
    record = state.step_record(key, address)
    if record is None or not record.succeeded or record.pipeline_run == state.pipeline_run:
        return False
    state.put_step(key, address, record)  # (tagged by put_step)
    return True


def _as_it_starts(applier, step: m.StepPlan) -> m.StepPlan:
    """The step as the applier will plan it when it starts, with its upstream results: one whose
    key the plan could not know (an upstream with cache = false) may then be taken from the cache."""
    if step.action != m.RUN or step.cache_key or applier.step_planner is None or applier.tracker.store_key is None:
        return step
    return applier.step_as_it_starts(step.address)


class _TaskState(State):
    """A task's state: it notes what its step run changes (step records and cache entries, the
    stack's outputs, the serial), so that ``_record`` writes just that onto the state as it is
    then, with whatever sibling tasks recorded meanwhile. (A task changes no resource.)"""

    def __init__(self, doc: dict | None = None, pipeline_run: str | None = None) -> None:
        super().__init__(doc)
        self.steps: list[tuple] = []  # put_step's arguments since the last write
        self.outputs_set = False
        self.bumped = False
        self.pipeline_run = pipeline_run

    def put_step(self, key: str, address: str, record) -> None:
        if self.pipeline_run:
            record = dataclasses.replace(record, pipeline_run=self.pipeline_run)
        super().put_step(key, address, record)
        self.steps.append((key, address, record))

    def restore_step(self, key: str, address: str, record: dict | None, cache_key: str | None, entry: dict | None) -> None:
        super().restore_step(key, address, record, cache_key, entry)
        self.steps = [s for s in self.steps if s[1] != address]  # (held out of state: not written either)

    def set_outputs(self, stack: str, outputs: dict[str, dict]) -> None:
        super().set_outputs(stack, outputs)
        self.outputs_set = True

    def bump(self) -> None:
        super().bump()
        self.bumped = True


def _record(project: Project, backend, state: _TaskState, applier, lock_timeout: float) -> None:
    """Write what the task changed onto the state as it is now, under the lock: the document is
    written whole, and one read before a sibling task recorded would drop what that task wrote."""
    from zplan.state.backend import StateLockedError

    if not (state.steps or state.bumped or state.outputs_set):
        return  # nothing new since the last write: the lock stays free for the siblings
    try:
        with backend.lock("run-step", timeout=lock_timeout):
            outputs_set = _onto_stored(project, backend, state, applier)
            try:
                backend.write(state.doc)
            except Exception:  # kept for the next write (the apply's last), which reads the state afresh
                state.outputs_set = outputs_set
                raise
            state.steps, state.bumped, state.outputs_set = [], False, False
    except StateLockedError as locked:
        # A failed write, as a full disk's: the apply stops, its last write waits again, and what that
        # cannot record goes to the recovery file, made from the state as stored now (no lock is
        # needed to read it), so that putting it in place drops nothing a sibling task recorded.
        pending = state.outputs_set
        try:
            _onto_stored(project, backend, state, applier)
        except Exception:  # (unreadable now: the recovery file holds the state as the task last read it)
            pass
        state.outputs_set = pending  # (recorded again by the next write, from the state as it is then)
        _take_kept(project, state)  # what a sibling task kept there, which this file replaces, is kept too
        raise _LockedOut(locked, sorted({address for _, address, _ in state.steps})) from None


def _onto_stored(project: Project, backend, state: _TaskState, applier) -> bool:
    """Put what the task changed onto the state as stored now, which ``state`` becomes; whether the
    stack's outputs were to be recorded (they are evaluated again, with the siblings' records too)."""
    from zplan.apply import outputs as stack_outputs

    now = State(backend.read())
    for key, address, record in state.steps:
        now.put_step(key, address, record)
    if state.bumped:
        now.bump()
    state.doc = now.doc  # the task goes on from what is written
    outputs_set, state.outputs_set = state.outputs_set, False
    if outputs_set:
        stack_outputs.record_outputs(project, state, applier.tracker.store_key, applier.resources.value, applier.resources.names)
    return outputs_set


class _LockedOut(StateNotWritten):
    """The state lock was held (by an apply or gc of the user's) past the task's wait to record its
    step: the step's outputs are stored, its record is kept for a retry of the task to take."""

    def __init__(self, locked, addresses: list[str]) -> None:
        self.path, self.addresses = None, addresses
        holder = locked.holder
        gone = f" (or, if it is gone for good, `zplan force-unlock {holder.id}`)" if holder is not None else ""
        self._say(f"cannot record the state: {locked} (waited {locked.waited:g}s)",
                  f"wait until that command has ended{gone}", "the stored state was left as it was")

    def put_back(self, kept, push: str, command: str = "task") -> str:
        steps = ", ".join(self.addresses) or "its step"
        return (f"once the lock is free, run this task again (`zplan run-step` with the same arguments): it takes the record of "
                f"{steps} from there instead of running it again; or put the file in place with `{push}` (refused if state was written since)")


def _check_state_key(project: Project, backend, step: m.StepPlan) -> None:
    """A task that will seal a sensitive value (its step's outputs, a sensitive output block) into
    the shared state needs the key the other machines use: a key made in the pod would be lost
    with it, and nothing it sealed could be opened again."""
    from zplan.state.backend import FileBackend
    from zplan.state.secrets import KEY_ENV, KEY_FILE

    seals = step.action == m.RUN and (step.sensitive_outputs or any(o.sensitive for o in project.config.outputs.values()))
    if not seals or isinstance(backend, FileBackend) or os.environ.get(KEY_ENV) or (project.state_dir / KEY_FILE).exists():
        return
    raise diags.fail(f"{step.address} records sensitive values, and this task has no state key to seal them with",
                     f"set {KEY_ENV} in the task's environment to the key the applying machine uses "
                     f"(its ${KEY_ENV}, or the content of its .zplan/{KEY_FILE})")


def _renew_reused(project: Project, settings, step: m.StepPlan, upstream: dict[str, m.StepPlan]) -> None:
    """Renew the time of each artifact the task takes from the cache (its step's outputs when it is
    cached, else the upstream outputs it reads), under the lock it planned with: the lock is free
    while the task runs and records, and a gc then keeps what was stored within its grace, where an
    old cache hit no kept run names would be deleted under the task and the steps downstream."""
    from zplan.artifacts.base import ArtifactStore
    from zplan.config.values import contains_unknown

    if contains_unknown(settings.get("artifact_store")):
        return  # (the apply says why when it opens the run)
    if step.action == m.CACHED and step.cached_from is not None:
        reused = list(step.cached_from.outputs.values())
    else:
        reused = [upstream[i.step].cached_from.outputs.get(i.output) for i in m.upstream_inputs(step.inputs) if i.step in upstream]
    store = ArtifactStore.from_url(str(settings["artifact_store"]), project.root)
    for digest in sorted({out["digest"] for out in reused if out}):
        store.renew(digest)  # (one gone meanwhile is the step's to report, as any missing input)


def _metadata_ready(project: Project, settings) -> None:
    """Make ML Metadata's tables and zplan's types now, under the lock: tasks that run side by side
    would otherwise all find a new store empty, and all but one fail to make them."""
    from zplan.config.values import contains_unknown
    from zplan.metadata import MetadataStore
    from zplan.metadata.urls import metadata_password

    if contains_unknown(settings.get("metadata_store")):
        return  # (the apply says why when it opens the run)
    store = MetadataStore.from_url(str(settings["metadata_store"]), project.root, metadata_password(settings))
    try:
        store.open_for_writing()
    finally:
        store.close()


def _upstream_results(whole: m.Plan, state: State, address: str, pipeline_run: str | None) -> dict[str, m.StepPlan]:
    """The steps ``address`` reads, each as its own task left it: its latest successful result (a
    step with cache = false plans to run again here, but ran, for this pipeline run, in its task)."""
    from dataclasses import replace

    found = {}
    for upstream in whole.step(address).depends_on:
        step = whole.step(upstream)
        if step is not None and step.action == m.CACHED:
            found[upstream] = step
            continue
        entry = _recorded_result(whole, state, upstream, step, pipeline_run)
        if entry is None:
            raise diags.fail(f"{address} reads {upstream}, which has no successful result recorded"
                             + (" for what this pipeline run planned (its params, code and inputs)" if step is not None and step.cache_key
                                else f" in this pipeline run ({pipeline_run})" if pipeline_run else ""),
                             "its task runs before this one in the pipeline: check why it failed or did not run")
        found[upstream] = replace(step, action=m.CACHED, cached_from=entry, reasons=[]) if step is not None else None
    return {k: v for k, v in found.items() if v is not None}


def _recorded_result(whole: m.Plan, state: State, upstream: str, step: m.StepPlan | None, pipeline_run: str | None):
    """The result its task recorded for the step as this pipeline run planned it: by its cache key
    when the plan knows it (the latest record may be another pipeline run's, with other params,
    recorded since), else (its key depends on a result only its run knew) the one its task recorded
    in this pipeline run; a task told no run (an older spec) takes the latest successful record."""
    from zplan.state.model import CacheEntry

    if not whole.store_key:
        return None
    if step is not None and step.cache_key:
        return state.cache_entry(whole.store_key, step.cache_key)
    if pipeline_run:
        return state.pipeline_run_result(whole.store_key, upstream, pipeline_run)
    record = state.step_record(whole.store_key, upstream)
    return CacheEntry(upstream, record.outputs, record.run, record.finished_at, reads=record.reads) if record is not None and record.succeeded else None


def _open_as_planned(args: ProjectArgs, planned_vars: dict) -> Project:
    """The project with the apply's variable values winning over every other source (each
    converted to its variable's type as a vars file's value is); the sensitive ones come from
    the task's own sources (ZPLAN_VAR_NAME)."""
    from zplan.config import loader, variables
    from zplan.stack import select

    root = args.root.resolve()
    config = loader.load(root)
    unknown = sorted(set(planned_vars) - set(config.variables))
    if unknown:
        raise diags.fail(f'the apply planned with variable "{unknown[0]}", which this image\'s configuration does not declare',
                         "the container image is out of date: rebuild it with `zplan build-image` (and push it), then apply again")
    values = variables.resolve(config, args.vars, given=planned_vars)
    return Project(root, config, values, select.selected_name(config, root / STATE_DIR, args.stack), args.registry)
