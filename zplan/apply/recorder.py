"""What an apply writes down: step records in state, executions in ML Metadata.

Both are written in batches, at most once a second and at the end, so a
thousand-step apply makes a few commits instead of a thousand. The state file
is rewritten whole, so its cost grows with the project: the next batch waits at
least ten times as long as the last write took, which keeps writing under a
tenth of the apply's time at any size (20,000 steps: a 20 MB state) instead of
growing with the square of the step count. A killed apply loses at most that
window of records; their steps run again next time.

A write to ML Metadata that fails (a full disk) halts the apply as a failed state write does
(``zplan.apply.state_writes``): nothing new starts, running steps finish and are reported, and no
write is tried again until the last one. Meanwhile the step records whose executions ML Metadata
does not hold are kept out of state (state never names an execution it could not record); the last
write puts them in once ML Metadata takes their executions, else they run again next time.
"""

from __future__ import annotations

import datetime as _dt
import time
from pathlib import Path
from typing import Any, Callable

from zplan.apply.tracker import RunTracker
from zplan.diags import DiagnosticError
from zplan.hashing import as_text
from zplan.plan import model as m
from zplan.plan.steps import StepPlanner
from zplan.secrets import digest_record, hide_all, holds_secret, is_sealed
from zplan.state.model import CacheEntry, State, StepRecord

STATE_FLUSH_SECONDS = 1.0
HELPER_MIN_STEPS = 1500  # an apply running this many steps records through a helper process (zplan.metadata.helper)
FLUSH_COST_FACTOR = 10  # wait at least this many times the last write's duration between writes


def flush_due(now: float, last_flush: float, last_cost: float) -> bool:
    """Whether the next batch is due ``now`` (monotonic seconds), the last one having ended
    at ``last_flush`` after taking ``last_cost`` seconds."""
    return now - last_flush >= max(STATE_FLUSH_SECONDS, FLUSH_COST_FACTOR * last_cost)


_opened_early: dict[tuple[str, Path, str | None], tuple] = {}  # (url, root, password) -> (store, GitQuery)


def open_early(settings: dict, project_root: Path) -> None:
    """Open the stack's metadata store for writing, and start asking git, for this process's next run
    (``open_run``): an apply's plan calls this on a thread while it reads a big new data input."""
    from zplan.metadata.urls import metadata_password

    url, password = settings.get("metadata_store"), metadata_password(settings)
    if isinstance(url, str):
        _opened_early[(url, project_root, password)] = _open(url, project_root, password)


def through_helper(project, steps: int) -> bool:
    """Whether an apply running ``steps`` steps of ``project`` records through a helper process: many steps,
    and no TFX step (recorded with TFX's own types too, by ``record_with``, in this process)."""
    return steps >= HELPER_MIN_STEPS and not any(step.tfx for step in project.config.steps())


def _open(url: str, project_root: Path, password: str | None, helper: bool = False) -> tuple:
    """The store opened for writing (made if new; by a helper process, meanwhile), and git asked about the project."""
    from zplan.metadata.git import GitQuery

    git = GitQuery(project_root)  # git walks the work tree while ML Metadata is imported and opened
    try:
        if helper:
            from zplan.metadata.helper import MetadataHelper

            return MetadataHelper(url, project_root, password), git
        from zplan.metadata import MetadataStore

        metadata = MetadataStore.from_url(url, project_root, password)
        metadata.open_for_writing()
    except BaseException:
        git.discard()
        raise
    return metadata, git


class RunRecorder:
    def __init__(self, state: State, persist: Callable[[State], None], tracker: RunTracker, secrets: list[str], project_root: Path) -> None:
        self.state = state
        self.project_root = project_root
        self.persist = persist
        self.tracker = tracker
        self.secrets = secrets
        self.metadata = None  # a MetadataStore once the run is opened
        self._pending: list = []  # ExecutionRecords not yet written
        self._tfx_pending: list = []  # zplan.tfx.lineage.TfxExecution: TFX steps, recorded with TFX's types too
        self._last_flush = 0.0
        self.before_write: Callable[[], None] = lambda: None  # waits for what the records name to be on disk
        self._flush_cost = 0.0  # seconds the last write took
        self._waiting_since: float | None = None  # when the walk, idle, first saw records waiting for a write
        self.metadata_failed: DiagnosticError | None = None  # the first ML Metadata write that failed
        # address -> (store key, its step record and cache entry before this apply's unwritten one), and
        # the unwritten ones held out of state while ML Metadata cannot take their executions
        self._unwritten: dict[str, tuple[str, dict | None, str | None, dict | None]] = {}
        self._held: dict[str, StepRecord] = {}

    # -- the run --------------------------------------------------------------------------------
    def open_run(self, project, pipelines: list[str], password: str | None, steps: int = 0) -> int:
        """``steps``: how many the apply runs (``through_helper``)."""
        from zplan.metadata import applier

        url = str(self.tracker.stack_settings["metadata_store"])
        metadata, git = _opened_early.pop((url, project.root, password), None) or _open(url, project.root, password, through_helper(project, steps))
        try:
            run = metadata.start_run(",".join(pipelines), project.stack_name, git.result(), time.time(), applier())
        except BaseException:
            metadata.close()  # (a helper ends)
            raise
        finally:
            git.discard()
        self.metadata = metadata  # only once the run is there: ``close_run`` finishes it
        return run

    def close_run(self) -> None:
        if self.metadata is None:
            return
        result = self.tracker.result
        if self.metadata_failed is None:
            self._write_executions()
            self.metadata.finish_run(result.run_id, result.status, time.time(), self.tracker.skipped)
        else:  # recorded as failed where the store takes it now, else left for the next apply to close
            try:
                self.metadata.finish_run(result.run_id, "failed", time.time(), self.tracker.skipped)
            except DiagnosticError:
                pass
        self.metadata.close()

    # -- step records -----------------------------------------------------------------------------
    def step_done(self, planner: StepPlanner, plan: m.StepPlan, status: str, outputs: dict, error: str | None,
                  run: int | None, finished_at: str | None = None, reads: dict | None = None) -> None:
        """The step's latest execution (and, when it succeeded, a cache entry for its key); ``reads``:
        the project files its code read undeclared (``zplan.apply.file_reads``)."""
        now = finished_at or _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
        if plan.sensitive_outputs or self._hold_secret(outputs):  # (a step declared free of secrets may still return one)
            outputs = self._sealed_values(outputs)
        record = StepRecord(status, plan.cache_key, planner.fingerprint(plan), outputs, run, now, error or None, reads=self._sealed_reads(reads or {}))
        self._note_unwritten(plan.address, record)
        self.state.put_step(self.tracker.store_key, plan.address, record)
        self.tracker.result.changed = True
        # Written now when a write is due, before the steps its end made ready start (a write that fails stops the
        # apply: none of them runs); otherwise by the walk while they run (``flush_when_due``), or the run's last.
        self.flush()

    def _sealed_reads(self, reads: dict) -> dict:
        """The files a step read undeclared as state keeps them: sealed, all of them, when a path holds a
        secret's text (a file named after a tenant's key), which the plan unseals to look at them."""
        if is_sealed(reads) or not any(holds_secret(rel, self.secrets) for rel in reads):
            return reads
        from zplan.state import secrets as sealed

        return sealed.seal(reads, self.project_root / ".zplan")

    def _hold_secret(self, outputs: dict) -> bool:
        """Whether a small value state keeps of ``outputs`` (or its meta) holds a known secret's text."""
        return any(isinstance(out, dict) and (holds_secret(out.get("value"), self.secrets) or holds_secret(out.get("meta"), self.secrets))
                   for out in outputs.values())

    def _sealed_or_secret(self, outputs: dict) -> bool:
        """Whether ``outputs`` hold a known secret's text, or were sealed for it when made (a cached step's)."""
        return self._hold_secret(outputs) or any(isinstance(out, dict) and is_sealed(out.get("value")) for out in outputs.values())

    def _sealed_values(self, outputs: dict) -> dict:
        """A sensitive step's small values, which state keeps for `zplan output` (and a number's
        materializer keeps in its meta), sealed like any secret; so are all the facts a user's
        materializer returned, which zplan cannot tell free of the secret."""
        from zplan.artifacts.materializers import is_builtin_name
        from zplan.state import secrets as sealed

        state_dir = self.project_root / ".zplan"

        def seal_value(record: dict, key: str = "value") -> dict:
            value = record.get(key)
            return {**record, key: sealed.seal(value, state_dir)} if key in record and not is_sealed(value) else record

        def seal_meta(out: dict) -> dict:
            meta = out["meta"]
            if is_builtin_name(out.get("materializer")):
                return seal_value(meta)
            for key in meta:
                meta = seal_value(meta, key)
            return meta

        return {name: {**seal_value(out), **({"meta": seal_meta(out)} if isinstance(out.get("meta"), dict) else {})}
                for name, out in outputs.items()}

    def execution(self, plan: m.StepPlan, state: str, outputs: dict, error: str | None, started: float, finished: float,
                  metadata: dict | None = None, reads: dict | None = None) -> None:
        """An execution for ML Metadata, with its input and output artifacts (lineage), the files its code
        read undeclared among its inputs; written with the next state write (``step_done``, ``flush_when_due``,
        or the run's end): never after the state naming it."""
        if self.metadata is None:
            return
        from zplan.metadata import ExecutionRecord

        self._pending.append(ExecutionRecord(
            address=plan.address, pipeline=plan.pipeline, step=plan.step,
            cache_key=plan.cache_key or "", params=digest_record(plan.params, self.secrets),
            code_hash=plan.code_hash, state=state, started_at=started, finished_at=finished, error=error,
            inputs={**self._inputs(plan), **self._read(reads or {})}, outputs={k: _artifact(v) for k, v in outputs.items()},
            # what a step given a secret logs (a prefix, a transform of it) is hidden as its outputs are
            metadata=hide_all(metadata or {}) if plan.sensitive_outputs else metadata or {},
            reasons=self._reasons(plan), cached_from=plan.cached_from.run if state == "cached" and plan.cached_from else None,
            # a reader without the secret's value (the dashboard) cannot tell that the outputs hold it: say so
            sensitive_outputs=plan.sensitive_outputs or self._sealed_or_secret(outputs),
        ))
        if plan.tfx is not None:
            self._tfx_pending.append(self._tfx_execution(plan, state, outputs))

    def _reasons(self, plan: m.StepPlan) -> tuple:
        """The plan's reasons for the step, masked as the JSON plan masks them."""
        from zplan.metadata import StepReason
        from zplan.plan.jsonplan import reasons_json

        return tuple(StepReason(r["code"], r["message"]) for r in reasons_json(plan.reasons, self.secrets))

    def _tfx_execution(self, plan: m.StepPlan, state: str, outputs: dict):
        from zplan.tfx.lineage import TfxExecution

        inputs = {}
        for name, spec in plan.inputs.items():
            up = self.tracker.current.get(spec.step) if isinstance(spec, m.StepOutputInput) else None
            if up is not None and up.cached_from is not None and spec.output in up.cached_from.outputs:
                inputs[name] = up.cached_from.outputs[spec.output]
        return TfxExecution(plan.address, plan.pipeline, plan.step, plan.tfx, state, plan.cache_key or "",
                            digest_record(plan.params, self.secrets), inputs, dict(outputs))

    def _inputs(self, plan: m.StepPlan) -> dict:
        inputs = {}
        for name, spec in plan.inputs.items():
            items = spec.items if isinstance(spec, m.ListInput) else (spec,)
            for i, item in enumerate(items):
                key = f"{name}[{i}]" if isinstance(spec, m.ListInput) else name
                if isinstance(item, m.DataInput) and item.reference:
                    inputs[key] = _artifact(_reference(self.project_root / item.path, item.digest), "snapshot", item.path)
                elif isinstance(item, m.DataInput):
                    snap = self.tracker.snapshots.get((plan.address, item.path))
                    if snap is not None:
                        inputs[key] = _artifact({"digest": snap.digest, "uri": snap.uri}, "snapshot", item.path)
                else:
                    up = self.tracker.current.get(item.step)
                    rec = up.cached_from.outputs.get(item.output) if up is not None and up.cached_from else None
                    if rec:
                        inputs[key] = _artifact(rec)
        return inputs

    def _read(self, reads: dict[str, str | None]) -> dict:
        """The files a step's code read undeclared, as inputs read in place (``read:PATH``; folders' listings aside)."""
        return {f"read:{as_text(rel)}": _artifact({"digest": digest, "uri": (self.project_root / rel).as_uri(), "materializer": READ_UNDECLARED},
                                                "snapshot", as_text(rel)) for rel, digest in reads.items()
                if digest is not None and not rel.endswith("/") and not holds_secret(rel, self.secrets)}  # (one named by a secret: in state alone, sealed)

    def deployment(self, address: str, pipeline: str, action: str, models: dict[str, dict], attributes: dict,
                   started: float, finished: float) -> None:
        """A resource given step outputs (a model to serve) as an execution consuming those
        artifacts, so lineage runs from the data to the deployment."""
        if self.metadata is None or not models:
            return
        from zplan.metadata import ArtifactRecord, ExecutionRecord

        where = {k: attributes[k] for k in ("url", "infer_url", "endpoint", "id") if attributes.get(k) is not None}
        self._pending.append(ExecutionRecord(
            address=address, pipeline=pipeline, step="", cache_key="", params={"action": action, **where},
            code_hash="", state="complete", started_at=started, finished_at=finished, error=None,
            inputs={name: ArtifactRecord(ref["digest"], ref["uri"], ref.get("materializer", ""), "", "") for name, ref in models.items()},
        ))
        self.flush()

    def held(self) -> list[str]:
        """The steps whose records are held out of state, ML Metadata not holding their executions."""
        return sorted(self._held)

    def held_entry(self, address: str) -> CacheEntry | None:
        """The cache entry of a step record held out of state (``metadata_failed``)."""
        record = self._held.get(address)
        return None if record is None or not record.succeeded else CacheEntry(address, record.outputs, record.run, record.finished_at, reads=record.reads)

    # -- writing ------------------------------------------------------------------------------------
    def flush_when_due(self) -> float | None:
        """The walk's work while steps run, when records wait for a write that was not due as their steps ended:
        once they have waited a write's interval too, a write (a long step then holds them back no longer than
        that). Returns the seconds until it should be asked again (None: nothing waits)."""
        if self.metadata_failed is not None or not (self._unwritten or self._pending or self._tfx_pending):
            self._waiting_since = None
            return None
        now = time.monotonic()
        if self._waiting_since is None:
            self._waiting_since = now  # (not before: a step ending meanwhile writes them when the write is due)
        due = max(self._last_flush + max(STATE_FLUSH_SECONDS, FLUSH_COST_FACTOR * self._flush_cost),
                  self._waiting_since + STATE_FLUSH_SECONDS)
        if now < due:
            return due - now
        self.flush(force=True)
        return self.flush_when_due()

    def flush(self, force: bool = False) -> None:
        """Write state and the pending executions: when due (``flush_due``), and at the end (``force``:
        the last write, tried again after an ML Metadata write failed)."""
        if self.metadata_failed is not None and not force:
            self._hold_back()  # no write until the last: meanwhile what it would name stays out of state
            return
        now = time.monotonic()
        if force or flush_due(now, self._last_flush, self._flush_cost):
            if self._executions_written():
                self._unwritten.clear()
                self.persist(self.state)
            self._last_flush = time.monotonic()
            self._flush_cost = self._last_flush - now
            self._waiting_since = None

    def _executions_written(self) -> bool:
        """Write the pending executions; False when ML Metadata failed, the step records naming them
        then held out of state."""
        for address, record in self._held.items():  # the last write: in again, written with their executions
            self.state.put_step(self.tracker.store_key, address, record)
        self._held = {}
        if (self._pending or self._tfx_pending) and self.metadata is not None:
            self.before_write()
        try:
            self._write_metadata()
        except DiagnosticError as exc:  # (the connection names the store and what to do)
            self.metadata_failed = self.metadata_failed or exc
            self._hold_back()
            return False
        return True

    def _note_unwritten(self, address: str, record: StepRecord) -> None:
        """Remember what state held for the step before its first record since the last write."""
        if address in self._unwritten:
            self._held.pop(address, None)  # (ran again: this record replaces the one held)
            return
        store = self.state.doc["stores"].get(self.tracker.store_key, {})
        before = store.get("steps", {}).get(address)
        cached = store.get("cache", {}).get(record.cache_key) if record.succeeded and record.cache_key else None
        self._unwritten[address] = (self.tracker.store_key, before, record.cache_key if record.succeeded else None, cached)

    def _hold_back(self) -> None:
        """Take the step records written since the last write out of state, as it was before them."""
        for address, (key, before, cache_key, cached) in self._unwritten.items():
            if address not in self._held:
                self._held[address] = self.state.step_record(key, address)
                self.state.restore_step(key, address, before, cache_key, cached)

    def _write_executions(self) -> None:
        if (self._pending or self._tfx_pending) and self.metadata is not None:
            self.before_write()
        self._write_metadata()

    def _write_metadata(self) -> None:
        if self._pending and self.metadata is not None:
            self.metadata.record_executions(self.tracker.result.run_id, self._pending)
            self._pending = []
        if self._tfx_pending and self.metadata is not None:
            from zplan.tfx.lineage import record

            run, executions = self.tracker.result.run_id, self._tfx_pending
            self.metadata.record_with(lambda store, pb: record(store, pb, run, executions))
            self._tfx_pending = []


READ_UNDECLARED = "reference (read undeclared, not snapshotted)"  # the materializer lineage gives a file its code read


def _reference(path: Path, digest: str) -> dict:
    """Lineage of an input read in place (``snapshot = "reference"``): its digest at plan time
    and its live location; the materializer name says it was not snapshotted."""
    return {"digest": digest, "uri": path.as_uri(), "materializer": "reference (not snapshotted)"}


def _artifact(rec: dict[str, Any], kind: str = "output", source: str | None = None):
    from zplan.metadata import ArtifactRecord

    return ArtifactRecord(
        digest=rec["digest"], uri=rec["uri"], materializer=rec.get("materializer", "snapshot"),
        materializer_version=rec.get("materializer_version", ""), type_name=rec.get("type", ""),
        kind=kind, source_path=source, size=rec.get("size", 0),
    )
