"""The plan as Markdown for a pull-request comment, split to fit GitHub's comment limit.

A summary table, then one collapsible ``<details>`` per change. A change is
never cut in two: when a part would pass ``limit`` characters, a new numbered
part starts.
"""

from __future__ import annotations

from zplan.render.graph_view import markdown_block
from zplan.render.plan_text import SYMBOLS, VERBS, _cached_text, _outputs, _resource, checkout_text, followed_notes, left_alone_text, summary_line, targeting_note, why

GITHUB_LIMIT = 65_000
COMMAND_PARAM = ":command"  # a script step's command among its params (zplan.plan.script_steps)


def render_parts(doc: dict, limit: int = GITHUB_LIMIT, verbose: bool = False) -> list[str]:
    header = _header(doc)
    sections = [_moved(moved) for moved in doc.get("moved", ())]
    sections += [_section(c, verbose) for c in _changes(doc, verbose)]
    if outputs := _output_changes(doc):
        sections.append(outputs)
    checkouts = doc.get("checkouts") or []
    if checkouts:  # the project folder changes too
        rows = "\n".join(f"| `{_cell(c['path'])}` | {_cell(_escape(checkout_text(c)))} |" for c in checkouts)
        sections.append(f"<details><summary>{len(checkouts)} out(s) to check out again</summary>\n\n| out | |\n|---|---|\n{rows}\n\n</details>\n")
    others = doc.get("other_stacks") or []
    if others:  # as the text plan lists them: recorded here, yet neither changed nor destroyed
        rows = "\n".join(f"| `{_cell(o['address'])}` | {_cell(_escape(left_alone_text(o)))} |" for o in others)
        sections.append(f"<details><summary>{len(others)} resource(s) of another stack left alone</summary>\n\n| resource | |\n|---|---|\n{rows}\n\n</details>\n")
    cached = [s for s in doc["steps"] if s["action"] == "cached"]
    if cached:
        restored = set(doc.get("restored", ()))
        rows = "\n".join(f"| `{_cell(s['address'])}` | {_cell(_cached_text(s, restored))} |" for s in cached)
        sections.append(f"<details><summary>{len(cached)} cached step(s)</summary>\n\n| step | |\n|---|---|\n{rows}\n\n</details>\n")
    parts: list[list[str]] = [[]]
    sizes = [0]
    budget = limit - len(header) - 40  # room for the "part i of n" line
    graph = markdown_block(doc)  # the changes as a Mermaid graph, drawn by GitHub; only a small one
    if graph and len(graph) <= budget // 4:
        sections.insert(0, f"\n{graph}\n")
    for section in sections:
        if len(section) > budget:  # one enormous change: shorten its body, never split it
            section = _shorten(section, budget)
        if sizes[-1] + len(section) > budget and parts[-1]:
            parts.append([])
            sizes.append(0)
        parts[-1].append(section)
        sizes[-1] += len(section)
    total = len(parts)
    out = []
    for i, body in enumerate(parts, 1):
        label = f"\n_Part {i} of {total}._\n" if total > 1 else ""
        out.append(header + label + "\n" + "".join(body))
    return out


def render(doc: dict, verbose: bool = False) -> str:
    return "\n\n---\n\n".join(render_parts(doc, verbose=verbose))


def _header(doc: dict) -> str:
    title = "zplan destroy plan" if doc["destroy"] else "zplan plan"
    return (
        f"### {title} — stack `{doc['stack']}`\n\n{_table(doc)}\n"
        f"**{summary_line(doc)}**\n"
        + (f"\n> **{targeting_note(doc)}**\n" if targeting_note(doc) else "")
        + "".join(f"\n> {_escape(note)}\n" for note in followed_notes(doc))
    )


def _table(doc: dict) -> str:
    """The counts the summary line gives: a destroy runs no step, so it has no step columns;
    outs to check out get theirs when there are any, as the summary line names them only then."""
    s = doc["summary"]
    columns = [("add", s["add"]), ("change", s["change"]), ("destroy", s["destroy"])]
    if not doc["destroy"]:
        columns += [("steps to run", s["steps_run"]), ("steps cached", s["steps_cached"])]
    if s.get("checkouts"):
        columns.append(("outs to check out", s["checkouts"]))
    row = lambda cells: "| " + " | ".join(str(c) for c in cells) + " |\n"  # noqa: E731
    return row(n for n, _ in columns) + "|" + "---:|" * len(columns) + "\n" + row(v for _, v in columns)


def _changes(doc: dict, verbose: bool) -> list[dict]:
    out = [r | {"_kind": "resource"} for r in doc["resources"] if r["action"] != "no-op" or verbose]
    out += [s | {"_kind": "step"} for s in doc["steps"] if s["action"] == "run"]
    return out


def _section(change: dict, verbose: bool) -> str:
    if change["_kind"] == "step":
        reasons = "; ".join(x["message"] for x in change["reasons"])
        return (
            f"<details><summary><code>~ {_escape(change['address'])}</code> will run: {_escape(reasons)}</summary>\n\n"
            f"{_what_runs(change)}- reasons:\n" + "".join(f"  - {_escape(x['message'])}\n" for x in change["reasons"]) + "\n</details>\n"
        )
    lines = _resource(change, 0, verbose)
    body = "\n".join(text for _, text in lines[1:])
    action = change["action"]
    because = why(change)
    return (
        f"<details><summary><code>{SYMBOLS[action]} {_escape(change['address'])}</code> {VERBS[action]}"
        f"{' (' + _escape(because) + ')' if because else ''}</summary>\n\n"
        f"```diff\n{_diffify(body)}\n```\n\n</details>\n"
    )


def _what_runs(step: dict) -> str:
    """A step's source function; a script step has none: its command (as planned, secrets hidden) instead."""
    if step.get("source"):
        return f"- source: `{step['source']}`\n"
    command = (step.get("params") or {}).get(COMMAND_PARAM)
    if command is None:
        return ""
    text = command if isinstance(command, str) else " ".join(str(part) for part in command)  # as its reasons write it
    return f"- command: <code>{_escape(text)}</code>\n"


def _moved(moved: dict) -> str:
    """An address apply rewrites in state, as the text plan says it: a plan of moves alone is a change."""
    return f"<code>{_escape(moved['from'])}</code> has moved to <code>{_escape(moved['to'])}</code>\n\n"


def _output_changes(doc: dict) -> str:
    """The outputs apply would add, change or remove, as Terraform's "Changes to Outputs": a plan
    that changes only them is not one without changes."""
    changed = [text for style, text in _outputs(doc)[1:] if style]
    if not changed:
        return ""
    body = _diffify("\n".join(changed))
    return f"<details><summary>{len(changed)} output change(s)</summary>\n\n```diff\n{body}\n```\n\n</details>\n"


def _shorten(section: str, budget: int) -> str:
    """Cut a section at a line end and close the code block it may be inside,
    so the parts after it still render as Markdown."""
    cut = section[: budget - 60]
    cut = cut[: cut.rfind("\n") + 1]
    fence = "```\n" if cut.count("```") % 2 else ""
    return cut + fence + "\n... (truncated)\n\n</details>\n"


def _diffify(body: str) -> str:
    """Put +/-/~ in column one so GitHub colours the lines."""
    out = []
    for line in body.splitlines():
        stripped = line.strip()
        out.append(("!" if stripped[:1] == "~" else stripped[:1]) + " " + stripped[1:].strip() if stripped[:1] in "+-~" else "  " + stripped)
    return "\n".join(out)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cell(text: str) -> str:
    """Text for a table cell: an instance key may hold a "|", which would end the cell."""
    return text.replace("|", "\\|")
