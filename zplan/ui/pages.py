"""What each page shows, as plain JSON-able dicts read through ``zplan.api``.

The same dicts are served as JSON under ``/api/...`` and rendered by the HTML templates, so
a page never shows what its JSON lacks. No value here has a secret in it: the API hides
sensitive attributes and redacts logs, and plans come from the JSON plan, already masked.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict
from typing import Any

from zplan import addrs
from zplan.api import Project, UnknownAddress, ZplanAPIError
from zplan.render.console import json_text
from zplan.ui import preview

RUNS_PER_PAGE = 50
HISTORY_CHARS = 2000  # of each run's value of an output, as JSON text
HISTORY_BYTES = 1_000_000  # a larger artifact (a model, a frame) is not loaded for an output's history
LOG_CHARS = 100_000  # of a step's log on its page: the end, where a failure shows
STATUSES = ("running", "succeeded", "failed", "interrupted")
EXECUTION_STATUS = {"complete": "ran", "cached": "cached", "failed": "failed", "cancelled": "skipped"}


def runs(project: Project, pipeline: str | None = None, status: str | None = None, before: int | None = None,
         per_page: int = RUNS_PER_PAGE) -> dict:
    """One page of runs, newest first; ``next_before`` continues to older runs."""
    found = project.runs(per_page + 1, pipeline=pipeline or None, status=status or None, before=before)
    shown = found[:per_page]
    pipelines = sorted({_pipeline_of(n.address) for n in project.graph().nodes if n.kind == "step"})
    return {
        "filters": {"pipeline": pipeline or "", "status": status or "", "before": before},
        "statuses": list(STATUSES), "pipelines": pipelines,
        "runs": [_run_summary(s) for s in shown],
        "next_before": shown[-1].number if len(found) > per_page else None,
    }


def _run_summary(s) -> dict:
    duration = (s.finished - s.started) if s.finished else None
    return {
        "number": s.number, "pipeline": s.pipeline, "stack": s.stack, "status": s.status,
        "started": s.started, "finished": s.finished, "duration": duration,
        "host": s.host, "user": s.applier.user, "ci": s.applier.ci, "ci_url": s.applier.ci_url,
        "git_commit": s.git.commit, "git_branch": s.git.branch, "git_dirty": s.git.dirty,
        "steps_run": s.steps_run, "steps_cached": s.steps_cached, "steps_failed": s.steps_failed,
    }


def run(project: Project, number: int, step: str | None = None) -> dict:
    """A run's step graph (every step of its pipelines; one never executed is "skipped") and,
    when ``step`` is given, that step's details."""
    detail = project.run(number)
    latest = {e.address: e for e in detail.executions}  # a retried step: its last execution counts
    # a run of several pipelines records them joined by commas
    pipelines = {e.pipeline for e in detail.executions} | set(detail.summary.pipeline.split(","))
    graph = project.graph()
    steps = [n.address for n in graph.nodes if n.kind == "step" and _pipeline_of(n.address) in pipelines]
    steps += [a for a in latest if a not in steps]
    nodes = []
    unexecuted = _not_executed(detail.summary)["code"]
    for address in steps:
        execution = latest.get(address)
        status = EXECUTION_STATUS.get(execution.state, "ran") if execution else unexecuted
        nodes.append({"address": address, "step": node_label(address), "status": status,
                      "duration": execution.duration if execution else None})
    edges = [(a, b) for a, b in graph.edges if a in steps and b in steps]
    edges += [e for e in _artifact_edges(detail.executions) if e not in edges]
    page = {"summary": _run_summary(detail.summary), "nodes": nodes, "edges": edges, "step": None}
    if step is not None:
        if step not in steps:
            raise UnknownAddress(f"run {number} has no step {step}", "pick a node of the run's graph")
        page["step"] = step_detail(project, number, latest.get(step), step, detail.summary)
    return page


def node_label(address: str) -> str:
    """A step's or resource's own name, with its key, after the modules it is in (``trainer["dev"].train``):
    the instances of a module differ only there."""
    own = addrs.short_name(address)
    try:
        module = addrs.parse(address).module
    except ValueError:
        return own
    return re.sub(r"(^|[.])module[.]", r"\1", module) + "." + own if module else own


def _pipeline_of(address: str) -> str:
    """The pipeline of a step address, inside a module too (``module.m.pipeline.P.step.S``)."""
    return addrs.parse_output(address).step.pipeline


def _artifact_edges(executions) -> list[tuple[str, str]]:
    """A consumer's input artifact was a producer's output in the same run: producer -> consumer."""
    made_by = {a.id: e.address for e in executions for a in e.outputs.values()}
    return sorted({(made_by[a.id], e.address) for e in executions for a in e.inputs.values()
                   if a.id in made_by and made_by[a.id] != e.address})


def _not_executed(summary) -> dict:
    """Why a step of the run's pipelines has no execution in it, as far as the run's status tells."""
    if summary.status == "running":  # an apply under way has more to do
        return {"code": "pending", "message": f"not finished yet: run {summary.number} is still being applied (reload to see it)"}
    if summary.status == "interrupted":
        return {"code": "skipped", "message": "not started: the apply was interrupted"}
    return {"code": "skipped", "message": "not executed in this run (an upstream step failed, or it was left out)"}


def step_detail(project: Project, number: int, execution, address: str, summary) -> dict:
    """``summary``: the run's, which says why a step it did not record has no execution."""
    if execution is None:
        reason = _not_executed(summary)
        return {"address": address, "status": reason["code"], "params": {}, "cache_key": None, "code_hash": None,
                "started": None, "duration": None, "error": None, "inputs": [], "outputs": [], "log": "", "log_cut": 0,
                "reasons": [reason]}
    outputs = [_artifact(name, a, project, execution.address, number) for name, a in execution.outputs.items()]
    log = project.log(number, address)  # redacted whole, so cutting it cannot leave part of a secret
    cut = max(0, len(log) - LOG_CHARS)
    return {
        "address": address, "status": EXECUTION_STATUS.get(execution.state, execution.state),
        "params": execution.params, "cache_key": execution.cache_key, "code_hash": execution.code_hash,
        "started": execution.started_at, "duration": execution.duration, "error": execution.error,
        "reasons": _reasons(execution),
        "inputs": [_artifact(name, a) for name, a in execution.inputs.items()],
        "outputs": outputs,
        "log": log[cut:], "log_cut": cut,  # characters left out at the start
    }


def _reasons(execution) -> list[dict]:
    """Why the step ran or was cached: the plan's reasons recorded with the run (already masked);
    for a run recorded before they were kept, what its record alone tells."""
    reasons = [{"code": r.code, "message": r.message} for r in execution.reasons or ()]
    if execution.state == "cached":
        source = f"run {execution.cached_from}" if execution.cached_from else "an earlier run"
        reasons.insert(0, {"code": "cached", "message": f"cached: the cache key matched, outputs reused from {source}"})
    elif execution.reasons is None and execution.state == "complete":
        reasons.append({"code": None, "message": "ran: no earlier result had this cache key (its code, params, inputs "
                                                 "or stack changed), or a rerun was asked for; `zplan runs diff` compares two runs"})
    if execution.state in _OUTCOME:
        reasons.append({"code": execution.state, "message": _OUTCOME[execution.state]})
    return reasons


_OUTCOME = {"failed": "the step raised an error (see its log)", "cancelled": "stopped: the apply was interrupted"}


def _artifact(name: str, view, project: Project | None = None, address: str | None = None, run: int | None = None) -> dict:
    record = view.record
    shown = {"name": name, "id": view.id, "digest": record.digest, "size": record.size,
             "materializer": record.materializer, "type_name": record.type_name, "kind": record.kind,
             "source_path": record.source_path}
    shown["preview"] = preview.of(project, address, name, run, record) if project is not None else None
    return shown


def lineage(project: Project, artifact_id: int, address: str | None = None, run: int | None = None) -> dict:
    """An artifact's lineage as a graph: artifacts, the executions that made them, their inputs,
    down to data snapshots; each execution with its code fingerprint and git commit. ``address``:
    the step whose output it is (another step may have made the same content), ``run``: the run it
    is seen from, whose execution made it or an earlier one (a later run may have made it too)."""
    root = project.lineage(artifact_id, address, run)
    if address is not None and root.produced_by is None:  # a hand-made or stale link: not shown as if nothing made it
        raise UnknownAddress(f"{address} did not make artifact {artifact_id}", "follow a link from a run page")
    nodes: dict[str, dict] = {}
    edges: set[tuple[str, str]] = set()
    for node in root.walk():
        art = f"artifact:{node.artifact.id}"
        record = node.artifact.record
        kind = "snapshot" if record.kind == "snapshot" else "artifact"
        nodes[art] = {"id": art, "kind": kind, "label": record.source_path or _output_name(node) or record.digest[:12],
                      "type_name": record.type_name,
                      "digest": record.digest, "size": record.size, "materializer": record.materializer,
                      "artifact_id": node.artifact.id, "step": node.produced_by.address if node.produced_by else None,
                      "run": node.produced_by.run if node.produced_by else None}
        if node.produced_by is not None:
            e = node.produced_by
            ex = f"execution:{e.id}"
            nodes[ex] = {"id": ex, "kind": "execution", "label": node_label(e.address), "address": e.address, "run": e.run,
                         "status": EXECUTION_STATUS.get(e.state, e.state), "code_hash": e.code_hash,
                         "git_commit": e.git.commit, "params": e.params}
            edges.add((ex, art))
            for child in node.inputs.values():
                edges.add((f"artifact:{child.artifact.id}", ex))
    return {"artifact_id": artifact_id, "output": None, "nodes": list(nodes.values()), "edges": sorted(edges)}


def output_lineage(project: Project, name: str) -> dict:
    """The lineage of each step output project output ``name`` holds, as one graph: tracing only the
    first (of a map over a for_each step's instances) would pass its history off as the whole value's."""
    graphs = [lineage(project, a.id, a.produced_by.address) for a in project.output_artifacts(name)]
    nodes = {n["id"]: n for graph in graphs for n in graph["nodes"]}
    edges = sorted({tuple(e) for graph in graphs for e in graph["edges"]})
    return {"artifact_id": graphs[0]["artifact_id"], "output": name, "nodes": list(nodes.values()), "edges": edges}


def _output_name(node) -> str | None:
    """``step.output`` for an artifact its producer recorded under that output name."""
    if node.produced_by is None:
        return None
    names = [n for n, a in node.produced_by.outputs.items() if a.id == node.artifact.id]
    own = node_label(node.produced_by.address)
    return f"{own}.{names[0]}" if names else own


def resources(project: Project) -> dict:
    """Recorded resources, sensitive attributes hidden, with what the current plan says of each
    (drift found when reading them back shows as its reasons)."""
    planned, planned_error = {}, None
    try:
        planned = {r["address"]: r for r in project.plan()["resources"]}
    except ZplanAPIError as exc:  # a plan that cannot be made must not hide what is recorded
        planned_error = located(exc, project.root)
    shown = []
    for r in project.resources():
        change = planned.get(r.address)
        drift = [x["message"] for x in (change or {}).get("reasons", ()) if x.get("code") in ("drifted", "deleted_outside_zplan")]
        shown.append({**asdict(r), "action": change["action"] if change else None, "drift": drift})
    return {"resources": shown, "plan_error": planned_error}


def outputs(project: Project, name: str | None = None) -> dict:
    """Every output's latest value, a sensitive one as "(sensitive)" (``traced``: it has a history and a lineage);
    with ``name``, its value run after run. A long value is cut, the latest as each run's."""
    latest, clear = project.outputs(masked=True), project.outputs().keys()
    # a sensitive output is listed, as `zplan output` lists it, with no history or lineage to follow
    shown = [{"name": k, **_as_shown(v), "traced": k in clear and project.output_is_traced(k), "sensitive": k not in clear}
             for k, v in latest.items()]
    page: dict[str, Any] = {"outputs": shown, "name": name, "history": []}
    if name is not None:
        page["history"] = [{"run": p.run, "started": p.started, "status": p.status, **_as_shown(p.value), "note": p.note}
                           for p in project.output_history(name, max_bytes=HISTORY_BYTES)]
    return page


def _as_shown(value: Any) -> dict:
    """{"value", "cut"}: an output's value as plain JSON, a model or a frame as its text (an output may
    be any step output, not only a metric); a long one as the start of its JSON text, ``cut`` saying so
    (the page shows that text as it is, not as a JSON string of it)."""
    try:
        text = json_text(value, default=str, allow_nan=False)
    except ValueError:  # NaN or infinite, which JSON cannot hold
        text = json_text(str(value))
    if len(text) > HISTORY_CHARS:
        return {"value": text[:HISTORY_CHARS] + " …", "cut": True}
    return {"value": json.loads(text), "cut": False}


def located(exc: ZplanAPIError, root) -> str:
    """The error's summary after the file:line (in the project) of the configuration mistake it is, if it is one."""
    where = exc.diagnostics[0].range if exc.diagnostics else None
    return f"{where.relative_to(root)}: {exc.summary}" if where is not None else exc.summary
