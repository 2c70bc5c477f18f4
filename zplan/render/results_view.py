"""`artifact list`, `artifact export` and `runs diff` as text, Markdown or JSON."""

from __future__ import annotations

import json
import re
import sys
from typing import Any

from zplan.render.console import json_text
from zplan.secrets import SENSITIVE, SHOWN_SENSITIVE, shown_for_people

KIND_TITLES = {"param": "params", "code": "code fingerprints", "data": "input data snapshots", "output": "outputs"}


def artifact_lines(rows: list) -> list[tuple[str, str]]:
    if not rows:
        return [("", "No artifacts recorded yet. Run `zplan apply`.")]
    # columns as wide as their longest value: for_each and module addresses run long
    a = max(34, *(len(r.address) for r in rows))
    o = max(10, *(len(r.output) for r in rows))
    m = max(14, *(len(r.materializer) for r in rows))
    lines = [("bold", f"{'address':{a}}  {'output':{o}}  {'run':>3}  {'digest':12}  {'size':>10}  {'materializer':{m}}  uri")]
    for r in rows:
        lines.append(("", f"{r.address:{a}}  {r.output:{o}}  {r.run if r.run is not None else '-':>3}  {r.digest[:12]:12}  "
                          f"{r.size:>10}  {r.materializer:{m}}  {r.uri}"))
    return lines


def print_artifacts(rows: list) -> None:
    from zplan.render.console import print_lines

    print_lines(artifact_lines(rows))


def print_exported(files: list, dest) -> None:
    from zplan.render.console import print_lines

    print_lines([("", f"exported {f}") for f in files] + [("bold", f"{len(files)} file(s) written to {dest}, verified against the digest.")])


# -- runs diff -------------------------------------------------------------------------------------


def _shown(value: Any, digest: bool = False) -> str:
    if value is None:
        return "(none)"
    if digest:
        return str(value)[:12]
    if value == SENSITIVE:
        return SHOWN_SENSITIVE
    return shown_for_people(json_text(value, sort_keys=True)) if not isinstance(value, str) else value


def _delta(change) -> str:
    return "" if change.delta is None else f"{change.delta:+.6g}"


def _label(change) -> str:
    return f"{change.address} {change.name}".rstrip()


def diff_text(diff) -> list[tuple[str, str]]:
    lines = [("bold", f"Run {diff.run_a} -> run {diff.run_b}")]
    if not diff.changes:
        return lines + [("", "No differences in params, code, input data or outputs.")]
    for kind, title in KIND_TITLES.items():
        changes = [c for c in diff.changes if c.kind == kind]
        if changes:
            lines.append(("bold", f"{title}:"))
            lines += [("update", f"  ~ {_label(c)}: {_shown(c.before, c.digests)} -> {_shown(c.after, c.digests)}" + (f" ({_delta(c)})" if c.delta is not None else ""))
                      for c in changes]
    return lines


def diff_markdown(diff) -> str:
    out = [f"### zplan runs diff: run {diff.run_a} → run {diff.run_b}", ""]
    if not diff.changes:
        return "\n".join(out + ["No differences in params, code, input data or outputs.", ""])
    out += [f"| | step | name | run {diff.run_a} | run {diff.run_b} | delta |", "|---|---|---|---|---|---|"]
    for c in diff.changes:
        cells = [KIND_TITLES[c.kind], _code(c.address), _code(c.name) if c.name else "", _code(_shown(c.before, c.digests)),
                 _code(_shown(c.after, c.digests)), _delta(c)]
        out.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(out + [""])


def _code(text: str) -> str:
    """``text`` as a code span in a table cell: on one line (a newline would end the row), fenced
    by more backticks than it holds in a row, as CommonMark reads it."""
    one_line = text.replace("\r\n", "\n").replace("\n", "\\n")
    ticks = "`" * (max((len(run) for run in re.findall(r"`+", one_line)), default=0) + 1)
    pad = " " if one_line.startswith("`") or one_line.endswith("`") else ""
    return f"{ticks}{pad}{one_line}{pad}{ticks}"


def diff_json(diff) -> str:
    changes = [{"kind": c.kind, "address": c.address, "name": c.name, "before": c.before, "after": c.after, "delta": c.delta}
               for c in diff.changes]
    return json.dumps({"run_a": diff.run_a, "run_b": diff.run_b, "changes": changes}, indent=2, sort_keys=True, default=str)


def print_diff(diff, format: str) -> None:
    from zplan.render.console import print_lines

    if format == "json":
        sys.stdout.write(diff_json(diff) + "\n")
    elif format == "markdown":
        sys.stdout.write(diff_markdown(diff))
    else:
        print_lines(diff_text(diff))
