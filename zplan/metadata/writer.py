"""Writing to ML Metadata: a run context per apply, step executions, their artifacts.

Mapping: a ``zplan.Run`` context per apply (numbered 1, 2, 3... per store) under
a ``zplan.Pipeline`` context; a ``zplan.Step`` execution per step, its
``last_known_state`` COMPLETE, CACHED or FAILED; ``zplan.Artifact`` and
``zplan.DataSnapshot`` artifacts joined to it by INPUT/OUTPUT events whose path
keys are the input/output names. An artifact recorded again (same uri and
content, as a cached step's outputs are) is the same row.
"""

from __future__ import annotations

from typing import Any, Callable

from zplan.diags import fail
from zplan.hashing import canonical_json
from zplan.metadata import convert as cv
from zplan.metadata.connection import Connection, _guarded, _mlmd
from zplan.metadata.records import Applier, ArtifactRecord, ExecutionRecord, GitInfo
from zplan.metadata.records import RUN_STATUSES
from zplan.metadata.schema import PIPELINE, RUN, TypeIds
from zplan.processes import ProcessId

_RUN_NUMBER_TRIES = 50


class Writer(Connection):
    @_guarded
    def open_for_writing(self) -> None:
        """Import ML Metadata and open the store for writing (made if new) now, rather than at the first write."""
        self._writer()

    @_guarded
    def start_run(self, pipeline: str, stack: str, git: GitInfo, started_at: float, applier: Applier = Applier(),
                  owner: ProcessId | None = None) -> int:
        """A new run, owned by ``owner`` (this process by default; see ``close_stale_runs``), applied by ``applier``."""
        self.close_stale_runs(started_at)
        store, types, m = self._writer()
        owner = owner or ProcessId.current()
        pipeline_id = self._existing_pipeline_id(pipeline)
        for _ in range(_RUN_NUMBER_TRIES):
            number = self._last_run_number() + 1
            ctx = m.pb.Context(type_id=types.run, name=cv.run_name(number))
            cv.set_props(
                ctx,
                {
                    "number": number,
                    "pipeline": pipeline,
                    "stack": stack,
                    "git_commit": git.commit,
                    "git_dirty": git.dirty,
                    "git_branch": git.branch,
                    "status": "running",
                    "started_at": float(started_at),
                    "host": owner.host,
                    "pid": owner.pid,
                    "pid_start": owner.start_ticks,
                    "user": applier.user,
                    "ci": applier.ci,
                    "ci_url": applier.ci_url,
                },
            )
            try:
                if pipeline_id is None:  # a new pipeline: made with its first run, in one transaction
                    pipeline_id, ctx_id = store.put_contexts([m.pb.Context(type_id=types.pipeline, name=pipeline), ctx])
                    self._pipeline_ids[pipeline] = pipeline_id
                else:
                    [ctx_id] = store.put_contexts([ctx])
            except m.errors.AlreadyExistsError:
                # another apply took this number, or made the pipeline, between our read and write
                pipeline_id = self._existing_pipeline_id(pipeline)
                continue
            store.put_parent_contexts([m.pb.ParentContext(child_id=ctx_id, parent_id=pipeline_id)])
            return number
        raise fail(f"metadata store {self.describe()}: could not allocate a run number")

    def record_execution(self, run: int, **fields) -> int:
        """Record one execution (the fields of ``ExecutionRecord``); returns its id."""
        return self.record_executions(run, [ExecutionRecord(**fields)])[0]

    @_guarded
    def record_executions(self, run: int, records: list[ExecutionRecord | dict]) -> list[int]:
        """Record many executions in ONE transaction (``put_lineage_subgraph``); returns their ids.

        A record is an ``ExecutionRecord`` (or a dict of its fields). On SQLite
        every transaction is a sync to disk, so an apply of a thousand steps
        records them in a few batches instead of a thousand commits.
        """
        records = [r if isinstance(r, ExecutionRecord) else ExecutionRecord(**r) for r in records]
        if not records:
            return []
        if len({r.pipeline for r in records}) > 1:
            # contexts apply to a whole batch: one batch per run of same-pipeline records, in order
            import itertools

            ids: list[int] = []
            for _, group in itertools.groupby(records, key=lambda r: r.pipeline):
                ids += self.record_executions(run, list(group))
            return ids
        store, types, m = self._writer()
        run_ctx = self._run_context(run)
        contexts = {run_ctx.id: run_ctx}
        executions, artifacts, edges = [], [], []
        artifact_index: dict[str, int] = {}
        for rec in records:
            pipeline_ctx_id = self._pipeline_context_id(rec.pipeline)
            if pipeline_ctx_id not in contexts:
                [contexts[pipeline_ctx_id]] = store.get_contexts_by_id([pipeline_ctx_id])
            execution = m.pb.Execution(type_id=types.step, last_known_state=cv.state_proto(m.pb, rec.state))
            cv.set_props(
                execution,
                {
                    "address": rec.address,
                    "pipeline": rec.pipeline,
                    "step": rec.step,
                    "cache_key": rec.cache_key,
                    "params": cv.params_json(rec.params),
                    "code_hash": rec.code_hash,
                    "error": rec.error,
                    "started_at": float(rec.started_at),
                    "finished_at": float(rec.finished_at),
                    "metadata": cv.params_json(rec.metadata) if rec.metadata else None,
                    "reasons": cv.reasons_json(rec.reasons),
                    "cached_from": rec.cached_from,
                    "sensitive_outputs": rec.sensitive_outputs or None,
                },
            )
            executions.append(execution)
            pairs = self._artifact_events(m.pb, types, m.pb.Event.INPUT, rec.inputs)
            pairs += self._artifact_events(m.pb, types, m.pb.Event.OUTPUT, rec.outputs)
            for artifact, event in pairs:
                key = artifact.external_id
                if key not in artifact_index:
                    artifact_index[key] = len(artifacts)
                    artifacts.append(artifact)
                elif _described(artifact) and not _described(artifacts[artifact_index[key]]):
                    # a deployment names the model it serves by digest alone; the step that made it
                    # describes it (its type): whichever comes first in the batch, the row is described
                    artifacts[artifact_index[key]] = artifact
                edges.append((len(executions) - 1, artifact_index[key], event))
        _keep_described_rows(store, artifacts, m.errors.NotFoundError)
        # Every execution of the batch belongs to the run and to its pipeline context.
        execution_ids, _, _ = store.put_lineage_subgraph(
            executions,
            artifacts,
            list(contexts.values()),
            edges,
            reuse_context_if_already_exist=True,
            reuse_artifact_if_already_exist_by_external_id=True,
        )
        return execution_ids

    @_guarded
    def record_with(self, write: Callable[[Any, Any], None]) -> None:
        """Let an integration record its own types beside zplan's (``zplan.tfx`` records TFX's):
        ``write(store, pb)`` gets the writable MLMD store and its proto module."""
        store, _, m = self._writer()
        write(store, m.pb)

    @_guarded
    def finish_run(self, run: int, status: str, finished_at: float, skipped: dict[str, list[str]] | None = None) -> None:
        """``skipped``: the steps a failure kept from starting (never executions), each with what failed."""
        if status not in RUN_STATUSES or status == "running":
            raise ValueError(f"run status must be 'succeeded', 'failed' or 'interrupted', not {status!r}")
        store, _, _ = self._writer()
        ctx = self._run_context(run)
        cv.set_props(ctx, {"status": status, "finished_at": float(finished_at), "skipped": canonical_json(skipped) if skipped else None})
        store.put_contexts([ctx])

    @_guarded
    def close_stale_runs(self, now: float) -> list[int]:
        """Mark ``interrupted`` the runs still ``running`` whose applying process is gone
        (killed before it could finish them); returns their numbers. Runs of other hosts
        are left alone: this machine cannot see their processes."""
        if not self._reader():
            return []
        m = _mlmd()
        running = self._store.get_contexts(m.ms.ListOptions(
            filter_query=f"type = '{RUN}' AND properties.status.string_value = 'running'"))
        stale = [ctx for ctx in running if cv.run_owner(ctx) is not None and cv.run_owner(ctx).is_gone()]
        if not stale:
            return []
        self.close()  # the read-only handle goes before a writable one opens
        store, _, _ = self._writer()
        for ctx in stale:
            cv.set_props(ctx, {"status": "interrupted", "finished_at": float(now)})
        store.put_contexts(stale)
        return sorted(int(cv.prop(ctx, "number", 0)) for ctx in stale)

    def _pipeline_context_id(self, pipeline: str) -> int:
        """The pipeline's context, made if the store has none."""
        found = self._existing_pipeline_id(pipeline)
        if found is not None:
            return found
        m = _mlmd()
        try:
            [ctx_id] = self._store.put_contexts([m.pb.Context(type_id=self._types.pipeline, name=pipeline)])
        except m.errors.AlreadyExistsError:  # created concurrently by another apply
            ctx_id = self._store.get_context_by_type_and_name(PIPELINE, pipeline).id
        self._pipeline_ids[pipeline] = ctx_id
        return ctx_id

    def _existing_pipeline_id(self, pipeline: str) -> int | None:
        """The pipeline's context, or None while the store has none (``start_run`` makes it)."""
        if pipeline not in self._pipeline_ids:
            ctx = self._store.get_context_by_type_and_name(PIPELINE, pipeline)
            if ctx is None:
                return None
            self._pipeline_ids[pipeline] = ctx.id
        return self._pipeline_ids[pipeline]

    def _last_run_number(self) -> int:
        m = _mlmd()
        options = m.ms.ListOptions(
            limit=1, order_by=m.ms.OrderByField.ID, is_asc=False, filter_query=f"type = '{RUN}'"
        )
        latest = self._store.get_contexts(options)
        return int(cv.prop(latest[0], "number", 0)) if latest else 0

    @staticmethod
    def _artifact_events(pb, types: TypeIds, event_type: int, named: dict[str, ArtifactRecord]) -> list:
        # MLMD keeps one event per (artifact, execution, type): an artifact bound to two
        # names of the same step gets one event whose path carries both names.
        grouped: dict[str, tuple[ArtifactRecord, list[str]]] = {}
        for name, record in named.items():
            grouped.setdefault(cv.external_id(record), (record, []))[1].append(name)
        pairs = []
        for record, names in grouped.values():
            event = pb.Event(type=event_type)
            for name in names:
                event.path.steps.add().key = name
            pairs.append((cv.artifact_proto(pb, types, record), event))
        return pairs


def _described(artifact) -> bool:
    return bool(cv.prop(artifact, "type_name", ""))


def _keep_described_rows(store, artifacts: list, not_found: type[Exception]) -> None:
    """An artifact recorded again without its description (a deployment names the model it serves
    by digest alone) is given as the row already stored: reusing a row by external id writes the
    properties given, which would blank the type the step that made it recorded."""
    bare = {a.external_id: i for i, a in enumerate(artifacts) if not _described(a)}
    if not bare:
        return
    try:
        stored_rows = store.get_artifacts_by_external_ids(list(bare))
    except not_found:  # none stored yet
        return
    for stored in stored_rows:
        if _described(stored):
            artifacts[bare[stored.external_id]] = stored
