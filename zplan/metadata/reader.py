"""Reading ML Metadata back: runs, their executions, an artifact's lineage.

Reading never creates anything: with no store yet there is nothing to show.
"""

from __future__ import annotations

import functools

from zplan.addrs import is_resource
from zplan.diags import fail
from zplan.metadata import convert as cv
from zplan.metadata.connection import Connection, _event_names, _guarded, _mlmd
from zplan.metadata.records import RUN_STATUSES, ArtifactView, ExecutionView, GitInfo, LineageNode, RunDetail, RunSummary
from zplan.metadata.schema import RUN, STEP
from zplan.secrets import hide_digests

_FIND_ARTIFACT_SCAN = 200
NOTHING_RECORDED = "run `zplan apply` first"  # the hint for a step with no execution recorded


def _one_of_the_pipelines(name: str) -> str:
    """A filter for the runs of pipeline ``name``: a run of several records them joined by commas
    ("report,training"), and is listed under each."""
    prop = "properties.pipeline.string_value"
    return f"({prop} = '{name}' OR {prop} LIKE '{name},%' OR {prop} LIKE '%,{name}' OR {prop} LIKE '%,{name},%')"


def _matching(address: str) -> str:
    """The filter's test for a step address. An instance key holds double quotes (train["c=0.5"]):
    the literal is quoted with the other kind. A key holding both kinds or a backslash (train["a\\"b"])
    cannot be written as a literal the store reads back the same: those characters match any one
    character there, and the caller keeps the exact address only."""
    quote = "'" if '"' in address else '"'
    if quote not in address and "\\" not in address:
        return f"= {quote}{address}{quote}"
    loose = "".join("_" if c in "'\"\\" else c for c in address)
    return f"LIKE '{loose}'"


class Reader(Connection):
    @_guarded
    def runs(self, limit: int = 20, pipeline: str | None = None, status: str | None = None,
             before: int | None = None) -> list[RunSummary]:
        """The newest ``limit`` runs, newest first; only those of ``pipeline``, with ``status``,
        numbered below ``before`` when given (the store filters and pages: 10,000 runs stay fast)."""
        if not self._reader():
            return []
        for prop, value in (("pipeline", pipeline), ("status", status)):
            if value is not None and ("'" in value or "\\" in value):
                raise ValueError(f"not a {prop} name: {value!r}")
        if status is not None and status not in RUN_STATUSES:  # a typo would list no run, as if none had that status
            raise ValueError(f"not a run status: {status!r}; one of {', '.join(RUN_STATUSES)}")
        if before is not None and before >= 2**63:  # past the store's integers (which it refuses): every run is below it
            before = None
        summaries: list[RunSummary] = []
        while len(summaries) < limit:
            contexts = self._run_contexts(limit, pipeline, status, before)
            found = [self._summary(ctx) for ctx in contexts]
            summaries += [s for s in found if (pipeline is None or pipeline in s.pipeline.split(",")) and status in (None, s.status)]
            if len(contexts) < limit:
                break
            before = min(s.number for s in found)  # the store's match was loose ("_" matches any character)
        return sorted(summaries, key=lambda s: s.number, reverse=True)[:limit]

    def _run_contexts(self, limit: int, pipeline: str | None, status: str | None, before: int | None) -> list:
        m = _mlmd()
        query = [f"type = '{RUN}'"]
        if pipeline is not None:
            query.append(_one_of_the_pipelines(pipeline))
        if status is not None:  # a killed apply's run, still recorded running, reads as interrupted
            shown = [status, "running"] if status == "interrupted" else [status]
            query.append("(" + " OR ".join(f"properties.status.string_value = '{s}'" for s in shown) + ")")
        if before is not None:
            query.append(f"properties.number.int_value < {int(before)}")
        options = m.ms.ListOptions(
            limit=limit, order_by=m.ms.OrderByField.ID, is_asc=False, filter_query=" AND ".join(query)
        )
        return self._store.get_contexts(options)

    @_guarded
    def run_detail(self, run: int) -> RunDetail:
        if not self._reader():
            raise self._no_run(run)
        ctx = self._run_context(run)
        executions = sorted(self._store.get_executions_by_context(ctx.id), key=lambda e: e.id)
        views = self._execution_views(executions, run_ctx=ctx)
        return RunDetail(self._summary(ctx, executions), views, cv.run_skipped(ctx))

    @_guarded
    def lineage(self, artifact_uri_or_id: str | int, address: str | None = None, run: int | None = None) -> LineageNode:
        """The artifact, its producing execution, and recursively that execution's inputs,
        down to data snapshots (or artifacts with no recorded producer). ``address``: the step
        asked about, whose execution made it; an artifact is shared by every step that produced
        the same content (an accuracy of 1.0), and another step's execution is not its history.
        Nor is another run's: the producer is the newest execution, of ``run`` or an earlier one when
        given, or the one a cached execution reused; each input's, the newest that made it before its reader."""
        artifact_id = self._resolve_artifact(artifact_uri_or_id)
        return self._lineage_node(artifact_id, {}, frozenset(), address, run)

    @_guarded
    def find_artifact(self, address: str, output: str) -> int | None:
        """The artifact id of ``output`` from the newest complete or cached execution of ``address``."""
        for _, name, artifact_id in self._step_outputs(address):
            if name == output:
                return artifact_id
        return None

    @_guarded
    def newest_execution(self, address: str) -> ExecutionView | None:
        """The newest complete or cached execution of ``address`` that recorded outputs, in any run."""
        found = self._step_outputs(address)
        return self._execution_views(self._store.get_executions_by_id([found[0][0]]))[0] if found else None

    @_guarded
    def missing_output_hint(self, address: str) -> str:
        """What to ask for when ``find_artifact`` found nothing: the outputs the newest execution of
        ``address`` did record (a step of several outputs has no ``output``), or to apply first."""
        outputs = self._step_outputs(address)
        if not outputs:
            return NOTHING_RECORDED
        names = sorted({name for execution_id, name, _ in outputs if execution_id == outputs[0][0]})
        return f"its recorded outputs: {', '.join(names)} (ask for one: {address}.outputs.{names[0]})"

    def _step_outputs(self, address: str) -> list[tuple[int, str, int]]:
        """(execution id, output name, artifact id) of the complete or cached executions of ``address``, newest first."""
        if not self._reader():
            return []
        m = _mlmd()
        options = m.ms.ListOptions(
            limit=_FIND_ARTIFACT_SCAN,
            order_by=m.ms.OrderByField.ID,
            is_asc=False,
            filter_query=f'type = "{STEP}" AND properties.address.string_value {_matching(address)}',
        )
        done = (m.pb.Execution.COMPLETE, m.pb.Execution.CACHED)
        executions = [e for e in self._store.get_executions(options) if e.last_known_state in done
                      and e.properties["address"].string_value == address]
        if not executions:
            return []
        events = self._store.get_events_by_execution_ids([e.id for e in executions])
        found = [(event.execution_id, name, event.artifact_id) for event in events
                 if event.type == m.pb.Event.OUTPUT for name in _event_names(event)]
        return sorted(found, key=lambda f: f[0], reverse=True)

    def _summary(self, ctx, executions=None) -> RunSummary:
        m = _mlmd()
        if executions is None:
            executions = self._store.get_executions_by_context(ctx.id)
        # a deployment (a resource given a step's model) is recorded as an execution too: not a step
        states = [e.last_known_state for e in executions if not is_resource(cv.prop(e, "address", ""))]
        return RunSummary(
            number=int(cv.prop(ctx, "number", 0)),
            pipeline=cv.prop(ctx, "pipeline", ""),
            stack=cv.prop(ctx, "stack", ""),
            status=cv.run_status(ctx),
            started=cv.prop(ctx, "started_at", 0.0),
            finished=cv.prop(ctx, "finished_at"),
            steps_run=states.count(m.pb.Execution.COMPLETE),
            steps_cached=states.count(m.pb.Execution.CACHED),
            steps_failed=states.count(m.pb.Execution.FAILED),
            git=cv.run_git(ctx),
            host=cv.prop(ctx, "host"),
            applier=cv.run_applier(ctx),
        )

    def _execution_views(self, executions, run_ctx=None) -> list[ExecutionView]:
        if not executions:
            return []
        m = _mlmd()
        events = self._store.get_events_by_execution_ids([e.id for e in executions])
        artifact_ids = sorted({ev.artifact_id for ev in events})
        type_names = self._type_names()
        artifacts = {
            a.id: cv.artifact_view(a, type_names, self.project_dir) for a in self._store.get_artifacts_by_id(artifact_ids)
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
        params = cv.params_value(p("params"))
        return ExecutionView(
            id=execution.id,
            address=p("address", ""),
            pipeline=p("pipeline", ""),
            step=p("step", ""),
            state=cv.state_name(m.pb, execution.last_known_state),
            cache_key=p("cache_key", ""),
            params=hide_digests(params),
            code_hash=p("code_hash", ""),
            started_at=p("started_at", 0.0),
            finished_at=p("finished_at", 0.0),
            error=p("error"),
            run=int(cv.prop(run_ctx, "number", 0)) if run_ctx is not None else None,
            git=cv.run_git(run_ctx) if run_ctx is not None else GitInfo(None, None, None),
            inputs=dict(sorted(ins.items())),
            outputs=dict(sorted(outs.items())),
            metadata=cv.params_value(p("metadata")),
            reasons=cv.reasons_value(p("reasons")),
            cached_from=p("cached_from"),
            # (recorded before the flag was kept: a sensitive param is recorded as its digest)
            sensitive_outputs=bool(p("sensitive_outputs")) or cv.holds_digest(params),
            recorded_params=params,
        )

    def _run_of(self, execution_id: int):
        for ctx in self._store.get_contexts_by_execution(execution_id):
            if ctx.type_id == self._types.run:
                return ctx
        return None

    def _resolve_artifact(self, key: str | int) -> int:
        if self._reader():
            if isinstance(key, int):
                if 0 < key < 2**63 and self._store.get_artifacts_by_id([key]):  # (ids are 64-bit: a larger one is none)
                    return key
            else:
                found = self._store.get_artifacts_by_uri(key)
                if found:
                    return max(a.id for a in found)  # the newest, if a uri was reused
        raise fail(f"no artifact {key!r} in the metadata store {self.describe()}")

    def _producer(self, artifact_id: int, address: str | None = None, run: int | None = None, before: int | None = None):
        """The execution that made the artifact (of step ``address`` when given): the newest one, of run
        ``run`` or an earlier one, before execution ``before`` (the reader of an input) when given; for a
        cached one, the execution whose outputs it reused (itself when that one is gone). Runs that made the
        same content share one artifact, and the first one's history is not the newest's."""
        m = _mlmd()
        events = self._store.get_events_by_artifact_ids([artifact_id])
        ids = sorted({ev.execution_id for ev in events if ev.type == m.pb.Event.OUTPUT})
        executions = sorted(self._store.get_executions_by_id(ids), key=lambda e: e.id) if ids else []
        executions = [e for e in executions if (address is None or cv.prop(e, "address") == address) and (before is None or e.id < before)]
        done = [e for e in executions if e.last_known_state in (m.pb.Execution.COMPLETE, m.pb.Execution.CACHED)]
        executions = done or executions  # (an execution that failed is no one's history while another made it)
        in_run = self._executions_of_run(run) if run is not None else set()  # where it mostly is: no look-up per execution
        made = next((e for e in reversed(executions) if e.id in in_run), None) or next(
            (e for e in reversed(executions) if run is None or (self._run_number(e) or 0) <= run), None)
        if made is None or made.last_known_state != m.pb.Execution.CACHED:
            return made
        origin = cv.prop(made, "cached_from")
        reused = [e for e in executions if e.id < made.id and e.last_known_state == m.pb.Execution.COMPLETE]
        of_origin = self._executions_of_run(origin) if origin is not None else {e.id for e in reused}
        reused = [e for e in reused if e.id in of_origin]
        return reused[-1] if reused else made

    def _run_number(self, execution) -> int | None:
        ctx = self._run_of(execution.id)
        return int(cv.prop(ctx, "number", 0)) if ctx is not None else None

    def _executions_of_run(self, run: int) -> set[int]:
        ctx = self._store.get_context_by_type_and_name(RUN, cv.run_name(run))
        return {e.id for e in self._store.get_executions_by_context(ctx.id)} if ctx is not None else set()

    def _lineage_node(self, artifact_id: int, memo: dict[int, LineageNode], trail: frozenset,
                      address: str | None = None, run: int | None = None, before: int | None = None) -> LineageNode:
        if artifact_id in memo:
            return memo[artifact_id]
        [artifact] = self._store.get_artifacts_by_id([artifact_id])
        view = cv.artifact_view(artifact, self._type_names(), self.project_dir)
        producer = None if artifact_id in trail else self._producer(artifact_id, address, run, before)
        if producer is None:
            node = LineageNode(view, None)
        else:
            [execution] = self._execution_views([producer])
            trail = trail | {artifact_id}
            inputs = {name: self._lineage_node(a.id, memo, trail, before=producer.id) for name, a in execution.inputs.items()}
            node = LineageNode(view, execution, inputs)
        memo[artifact_id] = node
        return node
