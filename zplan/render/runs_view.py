"""`zplan runs`, `runs show` and `lineage` as lines of text."""

from __future__ import annotations

import datetime as _dt

from zplan.metadata import LineageNode, RunDetail, RunSummary
from zplan.render.console import json_text
from zplan.secrets import shown_for_people


def _when(ts: float | None) -> str:
    if not ts:
        return "-"
    return _dt.datetime.fromtimestamp(ts, _dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def _git(g) -> str:
    if not g or not g.commit:
        return "no git"
    return g.commit[:10] + ("+dirty" if g.dirty else "")


def _applier(r: RunSummary) -> str:
    """", by alice (GitHub Actions URL)"; nothing for a run recorded before appliers were kept."""
    who, ci, url = r.applier.user, r.applier.ci, r.applier.ci_url
    if not (who or ci):
        return ""
    return f", by {who or 'an unknown user'}" + (f" ({ci}{' ' + url if url else ''})" if ci else "")


def runs_lines(runs: list[RunSummary]) -> list[tuple[str, str]]:
    if not runs:
        return [("", "No runs recorded yet. Run `zplan apply`.")]
    lines = [("bold", f"{'run':>4}  {'started (UTC)':19}  {'status':9}  {'ran':>4} {'cached':>6} {'failed':>6}  {'took':>7}  stack / pipeline / commit")]
    for r in runs:
        took = f"{(r.finished - r.started):.1f}s" if r.finished else "-"
        style = "delete" if r.status == "failed" else ""
        lines.append((style, f"{r.number:>4}  {_when(r.started)}  {r.status:9}  {r.steps_run:>4} {r.steps_cached:>6} {r.steps_failed:>6}  {took:>7}  {r.stack} / {r.pipeline} / {_git(r.git)}"))
    return lines


def run_lines(detail: RunDetail) -> list[tuple[str, str]]:
    r = detail.summary
    lines = [("bold", f"Run {r.number}: {r.status}, stack {r.stack}, pipeline {r.pipeline}, started {_when(r.started)}, git {_git(r.git)}"
                      f"{_applier(r)}")]
    for e in detail.executions:
        style = {"failed": "delete", "cached": "cached"}.get(e.state, "")
        lines.append((style, f"  {e.address}  {e.state}  {e.duration:.2f}s  key {e.cache_key[:12]}"))
        if e.cached_from:
            lines.append(("dim", f"      why cached: outputs reused from run {e.cached_from}"))
        for reason in e.reasons or ():
            lines.append(("dim", f"      why {reason.message}"))
        if e.params:
            lines.append(("dim", f"      params {shown_for_people(json_text(e.params, sort_keys=True))}"))
        if e.metadata:  # what the step recorded with zplan.log_metadata()
            lines.append(("dim", f"      metadata {shown_for_people(json_text(e.metadata, sort_keys=True))}"))
        for name, a in e.inputs.items():
            lines.append(("dim", f"      in  {name}: {a.uri} (artifact {a.id})"))
        for name, a in e.outputs.items():
            lines.append(("dim", f"      out {name}: {a.uri} (artifact {a.id})"))
        if e.error:
            lines.append(("delete", f"      error: {e.error}"))
    for address, failed in sorted(detail.skipped.items()):
        lines.append(("dim", f"  {address}  skipped (not started: upstream {', '.join(failed)} failed)"))
    return lines


def lineage_lines(node: LineageNode) -> list[tuple[str, str]]:
    lines: list[tuple[str, str]] = []
    _lineage(node, "", "", lines, set())
    return lines


def _lineage(node: LineageNode, name: str, indent: str, lines: list, seen: set) -> None:
    a = node.artifact
    label = f"{name}: " if name else ""
    rec = a.record
    if a.id in seen:  # a diamond in the graph: print each artifact's history once
        lines.append(("dim", f"{indent}{label}artifact {a.id} (lineage shown above)"))
        return
    seen.add(a.id)
    if rec.kind == "snapshot" and rec.materializer.startswith("reference (read undeclared"):  # (zplan.apply.file_reads)
        lines.append(("create", f"{indent}{label}file read undeclared {rec.source_path} (not snapshotted: "
                                f"it may have changed since; {rec.digest[:12]} when the step read it, {a.uri})"))
    elif rec.kind == "snapshot" and rec.materializer.startswith("reference"):
        lines.append(("create", f"{indent}{label}data reference {rec.source_path} (read in place, not snapshotted: "
                                f"it may have changed since; {rec.digest[:12]} when planned, {a.uri})"))
    elif rec.kind == "snapshot":
        lines.append(("create", f"{indent}{label}data snapshot {rec.source_path} (artifact {a.id}, {rec.digest[:12]}, {a.uri})"))
    else:
        lines.append(("bold", f"{indent}{label}artifact {a.id} {rec.type_name} via {rec.materializer} ({rec.digest[:12]}, {a.uri})"))
    e = node.produced_by
    if e is not None:
        lines.append(("", f"{indent}  <- {e.address} (run {e.run}, {e.state}, code {e.code_hash[:12]}, git {_git(e.git)})"))
        if e.params:
            lines.append(("dim", f"{indent}     params {shown_for_people(json_text(e.params, sort_keys=True))}"))
    for child_name, child in node.inputs.items():
        _lineage(child, child_name, indent + "     ", lines, seen)


def resource_lineage_lines(lineage) -> list[tuple[str, str]]:
    """A deployed resource, then the lineage of each artifact it serves."""
    attrs = lineage.attributes
    where = next((attrs[k] for k in ("infer_url", "url", "id") if isinstance(attrs.get(k), str) and attrs[k]), "")  # a sealed one is no text
    lines = [("bold", f"{lineage.address} ({lineage.type}{', ' + where if where else ''})")]
    seen: set = set()
    for name, node in lineage.artifacts.items():
        _lineage(node, name, "  ", lines, seen)
    return lines


def print_runs(runs: list[RunSummary]) -> None:
    from zplan.render.console import print_lines

    print_lines(runs_lines(runs))


def print_run(detail: RunDetail) -> None:
    from zplan.render.console import print_lines

    print_lines(run_lines(detail))


def output_lineage_lines(lineage) -> list[tuple[str, str]]:
    """An output holding several step outputs, then the lineage of each."""
    lines = [("bold", f"output {lineage.name} ({len(lineage.artifacts)} step outputs)")]
    seen: set = set()
    for name, node in lineage.artifacts.items():
        _lineage(node, name, "  ", lines, seen)
    return lines


def print_lineage(node) -> None:
    """A LineageNode, an output's or a resource's lineage (``zplan lineage resource.T.N``)."""
    from zplan.render.console import print_lines

    if isinstance(node, LineageNode):
        print_lines(lineage_lines(node))
    elif hasattr(node, "address"):
        print_lines(resource_lineage_lines(node))
    else:
        print_lines(output_lineage_lines(node))
