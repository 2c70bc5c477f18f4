"""Printing a JSON plan in the format asked for (text, Markdown, JSON)."""

from __future__ import annotations

import json
import sys

from zplan import diags
from zplan.render.console import print_lines, say

NO_CHANGES = "No changes. Your pipelines and infrastructure match the configuration."
NO_CHANGES_SELECTED = "No changes in what -target/-exclude selected."


def has_changes(doc: dict) -> bool:
    return (bool(doc.get("moved")) or bool(doc.get("output_changes")) or bool(doc.get("restored")) or bool(doc.get("checkouts"))
            or any(s["action"] == "run" for s in doc["steps"])
            or any(r["action"] != "no-op" for r in doc["resources"]))


def print_plan(doc: dict, format: str, verbose: bool) -> None:
    if format == "json":
        sys.stdout.write(json.dumps(doc, indent=2, sort_keys=True) + "\n")
    elif format == "markdown":
        from zplan.render.plan_markdown import render

        sys.stdout.write(render(doc, verbose=verbose) + "\n")
    elif format == "text":
        from zplan.render.plan_text import render, targeting_note

        print_lines(render(doc, verbose))
        if not has_changes(doc):
            say(NO_CHANGES_SELECTED if targeting_note(doc) else NO_CHANGES, "bold")
    else:
        raise diags.fail(f"unknown plan format {format!r}", "use text, markdown or json")


def print_saved_note(out, format: str) -> None:
    note = f"Saved the plan to {out}. Apply exactly this plan with: zplan apply {out}"
    if format == "text":
        say("\n" + note, "dim")
    else:  # markdown and json go to files and pipes (plan.md, jq): keep the note out of them
        sys.stderr.write(note + "\n")
