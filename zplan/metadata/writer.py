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
from zplan.metadata import direct, template
from zplan.metadata.connection import _MLMD_TABLE, Connection, _guarded, _mlmd, _sqlite_has_table
from zplan.metadata.records import Applier, ArtifactRecord, ExecutionRecord, GitInfo
from zplan.metadata.records import RUN_STATUSES
from zplan.metadata.schema import PIPELINE, RUN, TypeIds
from zplan.metadata.urls import SqliteTarget
from zplan.processes import ProcessId

_RUN_NUMBER_TRIES = 50


class Writer(Connection):
    _direct: TypeIds | None | bool = None  # zplan's types when written with plain SQL, False when not (``_direct_types``)

    @_guarded
    def open_for_writing(self) -> None:
        """Open the store for writing (made if new) now, rather than at the first write."""
        if not self._direct_types():
            self._writer()

    @_guarded
    def start_run(self, pipeline: str, stack: str, git: GitInfo, started_at: float, applier: Applier = Applier(),
                  owner: ProcessId | None = None) -> int:
        """A new run, owned by ``owner`` (this process by default; see ``close_stale_runs``), applied by ``applier``."""
        self.close_stale_runs(started_at)
        owner = owner or ProcessId.current()
        props = {
            "pipeline": pipeline, "stack": stack, "git_commit": git.commit, "git_dirty": git.dirty,
            "git_branch": git.branch, "status": "running", "started_at": float(started_at),
            "host": owner.host, "pid": owner.pid, "pid_start": owner.start_ticks,
            "user": applier.user, "ci": applier.ci, "ci_url": applier.ci_url,
        }
        types = self._direct_types()
        if types:
            return self._start_run_direct(types, pipeline, props)
        store, types, m = self._writer()
        pipeline_id = self._existing_pipeline_id(pipeline)
        for _ in range(_RUN_NUMBER_TRIES):
            number = self._last_run_number() + 1
            ctx = m.pb.Context(type_id=types.run, name=cv.run_name(number))
            cv.set_props(ctx, {"number": number, **props})
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

    def _start_run_direct(self, types: TypeIds, pipeline: str, props: dict) -> int:
        with direct.transaction(self.target.path) as conn:  # (taken at once: no other apply writes meanwhile)
            at = direct.now_ms()
            pipeline_id = direct.context_id(conn, types.pipeline, pipeline)
            if pipeline_id is None:
                pipeline_id = direct.put_context(conn, types.pipeline, pipeline, {}, at)
            number = direct.last_run_number(conn, types.run) + 1
            ctx_id = direct.put_context(conn, types.run, cv.run_name(number), {"number": number, **props}, at)
            direct.put_parent_context(conn, ctx_id, pipeline_id)
        self._pipeline_ids[pipeline] = pipeline_id
        return number

    def record_execution(self, run: int, **fields) -> int:
        """Record one execution (the fields of ``ExecutionRecord``); returns its id."""
        return self.record_executions(run, [ExecutionRecord(**fields)])[0]

    @_guarded
    def record_executions(self, run: int, records: list[ExecutionRecord | dict]) -> list[int]:
        """Record many executions in ONE transaction; returns their ids.

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
        types = self._direct_types()
        if types:
            return self._record_direct(types, run, records)
        store, types, m = self._writer()
        run_ctx = self._run_context(run)
        pipeline_ctx_id = self._pipeline_context_id(records[0].pipeline)
        contexts = {run_ctx.id: run_ctx}
        if pipeline_ctx_id not in contexts:
            [contexts[pipeline_ctx_id]] = store.get_contexts_by_id([pipeline_ctx_id])
        executions, artifacts, edges = _lineage(records, types)
        executions = [cv.with_props(m.pb.Execution(type_id=types.step, last_known_state=cv.state_proto(m.pb, state)), props)
                      for state, props in executions]
        artifacts = [cv.with_props(m.pb.Artifact(type_id=type_id, uri=uri, external_id=key, state=m.pb.Artifact.LIVE), props)
                     for type_id, uri, key, props in artifacts]
        edges = [(e, a, _event(m.pb, kind, names)) for e, a, kind, names in edges]
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

    def _record_direct(self, types: TypeIds, run: int, records: list[ExecutionRecord]) -> list[int]:
        executions, artifacts, edges = _lineage(records, types)
        executions = [(types.step, direct.EXECUTION_STATES[state], props) for state, props in executions]
        with direct.transaction(self.target.path) as conn:
            run_id = direct.context_id(conn, types.run, cv.run_name(run))
            if run_id is None:
                raise self._no_run(run)
            pipeline_id = direct.context_id(conn, types.pipeline, records[0].pipeline)
            if pipeline_id is None:
                pipeline_id = direct.put_context(conn, types.pipeline, records[0].pipeline, {}, direct.now_ms())
            return direct.put_lineage(conn, executions, artifacts, list(dict.fromkeys((run_id, pipeline_id))), edges)

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
        props = {"status": status, "finished_at": float(finished_at), "skipped": canonical_json(skipped) if skipped else None}
        types = self._direct_types()
        if types:
            with direct.transaction(self.target.path) as conn:
                ctx_id = direct.context_id(conn, types.run, cv.run_name(run))
                if ctx_id is None:
                    raise self._no_run(run)
                direct.update_context(conn, ctx_id, props, direct.now_ms())
            return
        store, _, _ = self._writer()
        ctx = self._run_context(run)
        cv.set_props(ctx, props)
        store.put_contexts([ctx])

    @_guarded
    def close_stale_runs(self, now: float) -> list[int]:
        """Mark ``interrupted`` the runs still ``running`` whose applying process is gone
        (killed before it could finish them); returns their numbers. Runs of other hosts
        are left alone: this machine cannot see their processes."""
        # (a reading command registers no types; a store already written here is there)
        types = self._direct_types(register=False) if self._direct or self._exists() else None
        if types:
            return self._close_stale_direct(types, now)
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

    def _close_stale_direct(self, types: TypeIds, now: float) -> list[int]:
        with direct.transaction(self.target.path) as conn:
            closed = []
            for ctx_id in direct.contexts_with(conn, types.run, "status", "running"):
                props = direct.context_properties(conn, ctx_id)
                pid = props.get("pid")
                if pid and ProcessId(props.get("host", ""), int(pid), int(props.get("pid_start", 0))).is_gone():
                    direct.update_context(conn, ctx_id, {"status": "interrupted", "finished_at": float(now)}, direct.now_ms())
                    closed.append(int(props.get("number", 0)))
        return sorted(closed)

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

    def _direct_types(self, register: bool = True) -> TypeIds | None:
        """zplan's types when this store is written with plain SQL (``zplan.metadata.direct``): a SQLite
        store at the schema version it knows, zplan's types registered. A new store is placed from the
        kept empty one, or made by ML Metadata, whose handle is then closed; types it lacks are
        registered by ML Metadata first (``register``). None for any other store: ML Metadata writes it."""
        if self._direct is None:
            if not register:
                return direct.usable_types(self.target.path) if isinstance(self.target, SqliteTarget) else None
            self._direct = self._find_direct_types() or False
        return self._direct or None

    def _find_direct_types(self) -> TypeIds | None:
        if not isinstance(self.target, SqliteTarget):
            return None
        path = self.target.path
        version = template.mlmd_version()
        if version is None:
            return None
        if not path.exists():
            template.place(path, version)
        if not _sqlite_has_table(path, _MLMD_TABLE):
            self._writer()  # made (or its schema made) by ML Metadata
            self.close()
        types = direct.usable_types(path)
        if types is None:
            self._writer()  # (ML Metadata registers what is missing, if it can)
            self.close()
            types = direct.usable_types(path)
        return types

def _lineage(records: list[ExecutionRecord], types: TypeIds) -> tuple[list, list, list]:
    """A batch as plain rows: executions ``(state, properties)``, artifacts ``(type id, uri, external id,
    properties)`` each once, and events ``(execution index, artifact index, event type, path keys)``."""
    executions, artifacts, edges = [], [], []
    index: dict[str, int] = {}
    for rec in records:
        executions.append((rec.state, cv.execution_props(rec)))
        for kind, named in ((direct.EVENT_INPUT, rec.inputs), (direct.EVENT_OUTPUT, rec.outputs)):
            # MLMD keeps one event per (artifact, execution, type): an artifact bound to two
            # names of the same step gets one event whose path carries both names.
            grouped: dict[str, tuple[ArtifactRecord, list[str]]] = {}
            for name, record in named.items():
                grouped.setdefault(cv.external_id(record), (record, []))[1].append(name)
            for key, (record, names) in grouped.items():
                artifact = (types.artifact_for(record.kind), record.uri, key, cv.artifact_props(record))
                if key not in index:
                    index[key] = len(artifacts)
                    artifacts.append(artifact)
                elif artifact[3]["type_name"] and not artifacts[index[key]][3]["type_name"]:
                    # a deployment names the model it serves by digest alone; the step that made it
                    # describes it (its type): whichever comes first in the batch, the row is described
                    artifacts[index[key]] = artifact
                edges.append((len(executions) - 1, index[key], kind, names))
    return executions, artifacts, edges


def _event(pb, kind: int, names: list[str]):
    event = pb.Event(type=kind)
    for name in names:
        event.path.steps.add().key = name
    return event


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
