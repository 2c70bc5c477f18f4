"""Runs, step executions and artifacts recorded in ML Metadata (MLMD).

Mapping: a ``zplan.Run`` context per apply (numbered 1, 2, 3... per store) under
a ``zplan.Pipeline`` context; a ``zplan.Step`` execution per step, its
``last_known_state`` COMPLETE, CACHED or FAILED; ``zplan.Artifact`` and
``zplan.DataSnapshot`` artifacts joined to it by INPUT/OUTPUT events whose path
keys are the input/output names. An artifact recorded again (same uri and
content, as a cached step's outputs are) is the same row.

MLMD is imported only when a store is first used, and nothing is created before
the first write: ``zplan plan`` reads, and must never write.
"""

from __future__ import annotations

import functools
import sqlite3
import sys
from pathlib import Path
from types import SimpleNamespace

from zplan.diags import DiagnosticError, fail
from zplan.metadata import convert as cv
from zplan.metadata.records import (
    ArtifactRecord,
    ArtifactView,
    ExecutionRecord,
    ExecutionView,
    GitInfo,
    LineageNode,
    RunDetail,
    RunSummary,
)
from zplan.metadata.schema import ARTIFACT, PIPELINE, RUN, SNAPSHOT, STEP, TypeIds, lookup, register
from zplan.metadata.urls import MySQLTarget, SqliteTarget, parse_store_url

_SQLITE_READONLY = 1
_SQLITE_READWRITE_OPENCREATE = 3
_MLMD_TABLE = "MLMDEnv"  # present once MLMD has created its schema
_RUN_NUMBER_TRIES = 50
_FIND_ARTIFACT_SCAN = 200


@functools.cache
def _mlmd() -> SimpleNamespace:
    from ml_metadata import errors
    from ml_metadata import metadata_store as ms
    from ml_metadata.proto import metadata_store_pb2 as pb

    return SimpleNamespace(ms=ms, pb=pb, errors=errors)


def _guarded(method):
    """Turn MLMD's status errors (server gone, disk full...) into a diagnostic naming the store."""

    @functools.wraps(method)
    def wrapper(self: "MetadataStore", *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except DiagnosticError:
            raise
        except Exception as exc:
            errors = sys.modules.get("ml_metadata.errors")
            if errors is None or not isinstance(exc, errors.StatusError):
                raise
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise fail(f"metadata store {self.describe()}: {first}") from exc

    return wrapper


class MetadataStore:
    def __init__(self, target: SqliteTarget | MySQLTarget) -> None:
        self.target = target
        self._store = None  # the MLMD handle, opened on first use
        self._writable = False
        self._types: TypeIds | None = None
        self._pipeline_ids: dict[str, int] = {}

    @staticmethod
    def from_url(url: str, project_dir: Path, password: str | None = None) -> "MetadataStore":
        return MetadataStore(parse_store_url(url, Path(project_dir), password))

    def describe(self) -> str:
        return self.target.describe()

    def close(self) -> None:
        self._store = None  # MLMD closes its connection when the handle is dropped
        self._types = None
        self._writable = False
        self._pipeline_ids.clear()

    def __enter__(self) -> "MetadataStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- writing --------------------------------------------------------------

    @_guarded
    def start_run(self, pipeline: str, stack: str, git: GitInfo, started_at: float) -> int:
        store, types, m = self._writer()
        pipeline_id = self._pipeline_context_id(pipeline)
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
                },
            )
            try:
                [ctx_id] = store.put_contexts([ctx])
            except m.errors.AlreadyExistsError:
                continue  # another apply took this number between our read and write
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
                edges.append((len(executions) - 1, artifact_index[key], event))
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
    def finish_run(self, run: int, status: str, finished_at: float) -> None:
        if status not in ("succeeded", "failed"):
            raise ValueError(f"run status must be 'succeeded' or 'failed', not {status!r}")
        store, _, _ = self._writer()
        ctx = self._run_context(run)
        cv.set_props(ctx, {"status": status, "finished_at": float(finished_at)})
        store.put_contexts([ctx])

    # -- reading --------------------------------------------------------------

    @_guarded
    def runs(self, limit: int = 20) -> list[RunSummary]:
        """The newest ``limit`` runs, newest first."""
        if not self._reader():
            return []
        m = _mlmd()
        options = m.ms.ListOptions(
            limit=limit, order_by=m.ms.OrderByField.ID, is_asc=False, filter_query=f"type = '{RUN}'"
        )
        contexts = self._store.get_contexts(options)
        summaries = [self._summary(ctx) for ctx in contexts]
        return sorted(summaries, key=lambda s: s.number, reverse=True)

    @_guarded
    def run_detail(self, run: int) -> RunDetail:
        if not self._reader():
            raise self._no_run(run)
        ctx = self._run_context(run)
        executions = sorted(self._store.get_executions_by_context(ctx.id), key=lambda e: e.id)
        views = self._execution_views(executions, run_ctx=ctx)
        return RunDetail(self._summary(ctx, executions), views)

    @_guarded
    def lineage(self, artifact_uri_or_id: str | int) -> LineageNode:
        """The artifact, its producing execution, and recursively that execution's inputs,
        down to data snapshots (or artifacts with no recorded producer)."""
        artifact_id = self._resolve_artifact(artifact_uri_or_id)
        return self._lineage_node(artifact_id, {}, frozenset())

    @_guarded
    def find_artifact(self, address: str, output: str) -> int | None:
        """The artifact id of ``output`` from the newest complete or cached execution of ``address``."""
        if not self._reader():
            return None
        if '"' in address or "\\" in address:
            raise ValueError(f"not a step address: {address!r}")
        m = _mlmd()
        options = m.ms.ListOptions(
            limit=_FIND_ARTIFACT_SCAN,
            order_by=m.ms.OrderByField.ID,
            is_asc=False,
            filter_query=f'type = "{STEP}" AND properties.address.string_value = "{address}"',
        )
        done = (m.pb.Execution.COMPLETE, m.pb.Execution.CACHED)
        executions = [e for e in self._store.get_executions(options) if e.last_known_state in done]
        if not executions:
            return None
        events = self._store.get_events_by_execution_ids([e.id for e in executions])
        for execution in sorted(executions, key=lambda e: e.id, reverse=True):
            for event in events:
                if (
                    event.execution_id == execution.id
                    and event.type == m.pb.Event.OUTPUT
                    and output in _event_names(event)
                ):
                    return event.artifact_id
        return None

    # -- opening --------------------------------------------------------------

    def _writer(self):
        """The MLMD handle opened for writing (creating the database and types if needed)."""
        m = _mlmd()
        if self._store is None or not self._writable:
            self._store = self._connect(m, create=True)
            self._writable = True
            self._types = register(self._store, m.pb)
        return self._store, self._types, m

    def _reader(self) -> bool:
        """Open for reading if there is anything to read; never creates a file or database."""
        if self._store is not None:
            if self._types is None:  # a store written by someone else since we looked
                self._types = lookup(self._store, _mlmd().errors)
            return self._types is not None
        if not self._exists():
            return False
        m = _mlmd()
        self._store = self._connect(m, create=False)
        self._types = lookup(self._store, m.errors)
        return self._types is not None

    def _exists(self) -> bool:
        if isinstance(self.target, SqliteTarget):
            return _sqlite_has_table(self.target.path, _MLMD_TABLE)
        conn = self.target.connect(with_database=False)
        try:
            with conn.cursor() as cur:
                cur.execute(
                    "SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s",
                    (self.target.database, _MLMD_TABLE),
                )
                return cur.fetchone() is not None
        finally:
            conn.close()

    def _connect(self, m: SimpleNamespace, create: bool):
        config = m.pb.ConnectionConfig()
        target = self.target
        if isinstance(target, SqliteTarget):
            if create:
                target.path.parent.mkdir(parents=True, exist_ok=True)
            config.sqlite.filename_uri = str(target.path)
            config.sqlite.connection_mode = _SQLITE_READWRITE_OPENCREATE if create else _SQLITE_READONLY
        else:
            if create:
                target.ensure_database()
            config.mysql.database = target.database
            config.mysql.user = target.user
            config.mysql.password = target.password
            if target.socket:
                config.mysql.socket = target.socket
            else:
                config.mysql.host = target.host
                config.mysql.port = target.port
        try:
            return m.ms.MetadataStore(config)
        except (m.errors.StatusError, RuntimeError) as exc:  # MLMD raises RuntimeError while opening
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise fail(f"cannot open the metadata store {self.describe()}: {first}") from None

    # -- helpers --------------------------------------------------------------

    def _pipeline_context_id(self, pipeline: str) -> int:
        if pipeline in self._pipeline_ids:
            return self._pipeline_ids[pipeline]
        m = _mlmd()
        ctx = self._store.get_context_by_type_and_name(PIPELINE, pipeline)
        if ctx is None:
            try:
                [ctx_id] = self._store.put_contexts([m.pb.Context(type_id=self._types.pipeline, name=pipeline)])
            except m.errors.AlreadyExistsError:  # created concurrently by another apply
                ctx_id = self._store.get_context_by_type_and_name(PIPELINE, pipeline).id
        else:
            ctx_id = ctx.id
        self._pipeline_ids[pipeline] = ctx_id
        return ctx_id

    def _last_run_number(self) -> int:
        m = _mlmd()
        options = m.ms.ListOptions(
            limit=1, order_by=m.ms.OrderByField.ID, is_asc=False, filter_query=f"type = '{RUN}'"
        )
        latest = self._store.get_contexts(options)
        return int(cv.prop(latest[0], "number", 0)) if latest else 0

    def _run_context(self, run: int):
        ctx = self._store.get_context_by_type_and_name(RUN, cv.run_name(run))
        if ctx is None:
            raise self._no_run(run)
        return ctx

    def _no_run(self, run: int) -> DiagnosticError:
        return fail(f"no run {run} in the metadata store {self.describe()}", "`zplan runs` lists the recorded runs")

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

    def _type_names(self) -> dict[int, str]:
        return {self._types.artifact: ARTIFACT, self._types.snapshot: SNAPSHOT}

    def _summary(self, ctx, executions=None) -> RunSummary:
        m = _mlmd()
        if executions is None:
            executions = self._store.get_executions_by_context(ctx.id)
        states = [e.last_known_state for e in executions]
        return RunSummary(
            number=int(cv.prop(ctx, "number", 0)),
            pipeline=cv.prop(ctx, "pipeline", ""),
            stack=cv.prop(ctx, "stack", ""),
            status=cv.prop(ctx, "status", "running"),
            started=cv.prop(ctx, "started_at", 0.0),
            finished=cv.prop(ctx, "finished_at"),
            steps_run=states.count(m.pb.Execution.COMPLETE),
            steps_cached=states.count(m.pb.Execution.CACHED),
            steps_failed=states.count(m.pb.Execution.FAILED),
            git=cv.run_git(ctx),
        )

    def _execution_views(self, executions, run_ctx=None) -> list[ExecutionView]:
        if not executions:
            return []
        m = _mlmd()
        events = self._store.get_events_by_execution_ids([e.id for e in executions])
        artifact_ids = sorted({ev.artifact_id for ev in events})
        type_names = self._type_names()
        artifacts = {
            a.id: cv.artifact_view(a, type_names) for a in self._store.get_artifacts_by_id(artifact_ids)
        }
        views = []
        for execution in executions:
            ins: dict[str, ArtifactView] = {}
            outs: dict[str, ArtifactView] = {}
            for ev in events:
                if ev.execution_id != execution.id or ev.artifact_id not in artifacts:
                    continue
                side = ins if ev.type == m.pb.Event.INPUT else outs if ev.type == m.pb.Event.OUTPUT else None
                if side is not None:
                    for name in _event_names(ev):
                        side[name] = artifacts[ev.artifact_id]
            ctx = run_ctx if run_ctx is not None else self._run_of(execution.id)
            views.append(self._execution_view(m, execution, ctx, ins, outs))
        return views

    @staticmethod
    def _execution_view(m, execution, run_ctx, ins, outs) -> ExecutionView:
        p = functools.partial(cv.prop, execution)
        return ExecutionView(
            id=execution.id,
            address=p("address", ""),
            pipeline=p("pipeline", ""),
            step=p("step", ""),
            state=cv.state_name(m.pb, execution.last_known_state),
            cache_key=p("cache_key", ""),
            params=cv.params_value(p("params")),
            code_hash=p("code_hash", ""),
            started_at=p("started_at", 0.0),
            finished_at=p("finished_at", 0.0),
            error=p("error"),
            run=int(cv.prop(run_ctx, "number", 0)) if run_ctx is not None else None,
            git=cv.run_git(run_ctx) if run_ctx is not None else GitInfo(None, None, None),
            inputs=dict(sorted(ins.items())),
            outputs=dict(sorted(outs.items())),
        )

    def _run_of(self, execution_id: int):
        for ctx in self._store.get_contexts_by_execution(execution_id):
            if ctx.type_id == self._types.run:
                return ctx
        return None

    def _resolve_artifact(self, key: str | int) -> int:
        if self._reader():
            if isinstance(key, int):
                if self._store.get_artifacts_by_id([key]):
                    return key
            else:
                found = self._store.get_artifacts_by_uri(key)
                if found:
                    return max(a.id for a in found)  # the newest, if a uri was reused
        raise fail(f"no artifact {key!r} in the metadata store {self.describe()}")

    def _producer(self, artifact_id: int):
        """The execution that made the artifact: the first one that really ran (COMPLETE),
        else the first that output it at all (a cached one, when the original is gone)."""
        m = _mlmd()
        events = self._store.get_events_by_artifact_ids([artifact_id])
        ids = sorted({ev.execution_id for ev in events if ev.type == m.pb.Event.OUTPUT})
        if not ids:
            return None
        executions = sorted(self._store.get_executions_by_id(ids), key=lambda e: e.id)
        complete = [e for e in executions if e.last_known_state == m.pb.Execution.COMPLETE]
        return (complete or executions)[0]

    def _lineage_node(self, artifact_id: int, memo: dict[int, LineageNode], trail: frozenset) -> LineageNode:
        if artifact_id in memo:
            return memo[artifact_id]
        [artifact] = self._store.get_artifacts_by_id([artifact_id])
        view = cv.artifact_view(artifact, self._type_names())
        producer = None if artifact_id in trail else self._producer(artifact_id)
        if producer is None:
            node = LineageNode(view, None)
        else:
            [execution] = self._execution_views([producer])
            trail = trail | {artifact_id}
            inputs = {name: self._lineage_node(a.id, memo, trail) for name, a in execution.inputs.items()}
            node = LineageNode(view, execution, inputs)
        memo[artifact_id] = node
        return node


def _sqlite_has_table(path: Path, table: str) -> bool:
    """Look without MLMD, read-only: MLMD itself would create its schema in an empty file."""
    if not path.is_file():
        return False
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error:
        return False
    try:
        row = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)).fetchone()
        return row is not None
    except sqlite3.DatabaseError:
        return False  # not an SQLite file: nothing zplan wrote
    finally:
        conn.close()


def _event_names(event) -> list[str]:
    return [s.key for s in event.path.steps if s.WhichOneof("value") == "key"]
