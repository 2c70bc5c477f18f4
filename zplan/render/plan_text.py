"""The human plan, rendered only from the JSON plan (so text never shows what JSON lacks)."""

from __future__ import annotations

from typing import Any

from zplan.config.values import shown_value
from zplan.render.console import json_text, printable
from zplan.secrets import SENSITIVE, SHOWN_SENSITIVE, shown_for_people

SYMBOLS = {"create": "+", "update": "~", "replace": "-/+", "delete": "-", "no-op": " ", "run": "~", "cached": "="}
VERBS = {"create": "will be created", "update": "will be updated in place", "replace": "must be replaced", "delete": "will be destroyed", "no-op": "unchanged"}
COLLAPSE_CACHED_OVER = 50  # past this many cached steps, list them only with -verbose


def render(doc: dict, verbose: bool = False) -> list[tuple[str, str]]:
    """Lines of (style, text); the CLI maps styles to colours (or none)."""
    lines: list[tuple[str, str]] = []
    changes = [r for r in doc["resources"] if r["action"] != "no-op" or verbose]
    width = max([len(r["address"]) for r in doc["resources"]] + [len(s["address"]) for s in doc["steps"]] + [20]) + 2
    if doc["destroy"]:
        lines.append(("bold", f'zplan will destroy these resources (stack "{doc["stack"]}"):'))
    else:
        lines.append(("bold", f'zplan plan for stack "{doc["stack"]}":'))
    lines.append(("", ""))
    if targeting_note(doc):
        lines += [("warning", f"  {targeting_note(doc)}"), ("", "")]
    if followed_notes(doc):
        lines += [("warning", f"  {note}") for note in followed_notes(doc)] + [("", "")]
    for moved in doc.get("moved", ()):
        lines.append(("", f"  {moved['from']} has moved to {moved['to']}"))
    for r in changes:
        lines += _resource(r, width, verbose)
    for other in doc.get("other_stacks", ()):
        lines.append(("dim", f"      {other['address']:<{width}} {left_alone_text(other)}"))
    cached = [s for s in doc["steps"] if s["action"] == "cached"]
    show_cached = verbose or len(cached) <= COLLAPSE_CACHED_OVER
    restored = set(doc.get("restored", ()))
    for s in doc["steps"]:
        if s["action"] == "run":
            reasons = "; ".join(x["message"] for x in s["reasons"]) or "will run"
            lines.append(("run", f"  ~ {s['address']:<{width}} will rerun: {reasons}" if _ran_before(s) else f"  + {s['address']:<{width}} will run: {reasons}"))
        elif show_cached or s["address"] in restored:
            lines.append(("cached", f"  = {s['address']:<{width}} {_cached_text(s, restored)}"))
    if cached and not show_cached:
        lines.append(("cached", f"  = {len(cached) - len(restored)} steps cached (use -verbose to list them)"))
    for c in doc.get("checkouts", ()):
        lines.append(("update", f"  ~ {c['path']:<{width}} {checkout_text(c)}"))
    if not doc["resources"] and not doc["steps"] and not doc.get("moved") and not doc.get("other_stacks"):
        lines.append(("", "  (nothing selected by -target/-exclude)" if targeting_note(doc) else "  (nothing declared)"))
    lines.append(("", ""))
    lines += _outputs(doc)
    lines.append(("bold", summary_line(doc)))
    return lines


def left_alone_text(other: dict) -> str:
    """A recorded resource another stack applied: this plan neither changes nor destroys it."""
    owner = f'stack "{other["stack"]}"' if other["stack"] else "another stack (recorded before zplan kept each resource's stack)"
    return f"left alone: {owner} applied it; `zplan state rm` forgets it"


def targeting_note(doc: dict) -> str | None:
    """As Terraform warns: a plan narrowed by -target or -exclude leaves out part of the configuration."""
    options = doc.get("options") or {}
    flags = [f"-{name}" for name, key in (("target", "targets"), ("exclude", "excludes")) if options.get(key)]
    if not flags:
        return None
    return (f"Warning: {' and '.join(flags)} in effect: this plan covers only part of the configuration; "
            "changes outside it are not shown. Plan without them before relying on it.")


def followed_notes(doc: dict) -> list[str]:
    """A -target, -exclude or -replace given an address a moved block left, and the one it acted on;
    a move state could not make, as Terraform warns of it."""
    options = doc.get("options") or {}
    return [f"{f['flag']} {f['from']}: has moved to {f['to']} (a moved block); the plan uses {f['to']}"
            for f in options.get("followed_moves", ())] + [
        f"Warning: moved block: cannot move {b['from']} to {b['to']}, which state holds already: {b['from']} stays "
        f"where it is (and is destroyed if the configuration no longer declares it); to move it, forget the other "
        f"first with `zplan state rm {b['to']}`, or remove the moved block"
        for b in options.get("blocked_moves", ())]


def summary_line(doc: dict) -> str:
    s = doc["summary"]
    text = f"Plan: {s['add']} to add, {s['change']} to change, {s['destroy']} to destroy."
    if not doc["destroy"]:
        text += f" Steps: {s['steps_run']} to run, {s['steps_cached']} cached."
    if s.get("checkouts"):
        text += f" Outs: {s['checkouts']} to check out."
    return text


_CHECKOUT_WHY = {
    "missing": "missing in the project folder",
    "changed": "changed in the project folder",
    "files_added_or_removed": "files added or removed in the project folder",
    "other_result": "the project folder holds another result of the step",
    "not_checked_out": "the project folder's copy was not checked out by zplan and is replaced",
}


def checkout_text(c: dict) -> str:
    """An out apply writes back into the project folder, as Terraform words an update."""
    return f"will be checked out again from {c['step']}: {_CHECKOUT_WHY.get(c['reason'], c['reason'])}"


def _ran_before(step: dict) -> bool:
    return not any(r["code"] == "never_ran" for r in step["reasons"])


def _cached_text(step: dict, restored: set | frozenset = frozenset()) -> str:
    c = step.get("cached_from") or {}
    when = (c.get("finished_at") or "")[:10]
    run = f"run {c['run']}" if c.get("run") is not None else "earlier run"
    text = f"cached ({run}{', ' + when if when else ''})"
    if step["address"] in restored:  # (a param changed, then changed back)
        text += ", to be recorded as its latest result"
    return text


def why(r: dict) -> str:
    """Why a resource changes, for its heading: the attributes forcing a replacement, or
    the reasons ("deleted outside zplan", drift) — a plain first create needs none."""
    if r["action"] == "replace" and r["replace_because"]:
        forcing = [x["message"] for x in r["reasons"] if x["code"] in ("forces_replacement", "provider_changed")]
        return "; ".join(forcing) or f"{', '.join(r['replace_because'])} forces replacement"
    shown = [x["message"] for x in r["reasons"] if x["code"] != "new_in_config"]
    return "; ".join(shown) if r["action"] != "no-op" else ""


def _resource(r: dict, width: int, verbose: bool) -> list[tuple[str, str]]:
    action = r["action"]
    because = why(r)
    head = f"  {SYMBOLS[action]:>3} {r['address']:<{width}} {VERBS[action]}" + (f" ({because})" if because else "")
    lines = [(action, head)]
    before, after = r["before"] or {}, r["after"] or {}
    unknown = set(r["after_unknown"])
    keys = sorted(set(before) | set(after) | unknown)
    hidden = 0
    for key in keys:
        old, new = before.get(key), after.get(key)
        if action == "create":
            shown = "(known after apply)" if key in unknown else _value(new)
            lines.append((action, f"        + {key} = {shown}"))
        elif action == "delete":
            lines.append((action, f"        - {key} = {_value(old)}"))
        elif key in unknown:
            lines.append((action, f"        ~ {key} = {_value(old)} -> (known after apply)"))
        elif key in after and (old != new or key in r.get("changed", ())):  # masked secrets look equal
            mark = " # forces replacement" if key in r["replace_because"] else ""
            lines.append((action, f"        ~ {key} = {_value(old)} -> {_value(new)}{mark}"))
        elif verbose:
            lines.append(("", f"          {key} = {_value(old if old is not None else new)}"))
        else:
            hidden += 1
    if hidden:
        lines.append(("dim", f"        # ({hidden} unchanged attribute{'s' if hidden != 1 else ''} hidden)"))
    return lines


_OUTPUT_MARKS = {"add": ("create", "+ "), "change": ("update", "~ "), "remove": ("delete", "- ")}


def _outputs(doc: dict) -> list[tuple[str, str]]:
    """Each output; one apply would add, change or remove in state is marked as Terraform marks it."""
    changes = doc.get("output_changes") or {}
    if not doc["outputs"] and not changes:
        return []
    lines = [("bold", "Outputs:")]
    for name in sorted(set(doc["outputs"]) | set(changes)):
        o = doc["outputs"].get(name)
        # one known after apply that was recorded may change: marked as Terraform marks it (not in output_changes)
        kind = changes.get(name) or ("change" if o and "before" in o else None)
        style, mark = _OUTPUT_MARKS.get(kind, ("", ""))
        if o is None:  # (a plan saved by an earlier version, which kept no removed output's value)
            why = "destroyed" if doc["destroy"] else "no longer declared"
            lines.append((style, f"  {mark}{name} ({why}: removed from state)"))
            continue
        if kind == "remove":  # as Terraform: `- name = "old" -> null`, a sensitive old value hidden
            before = f"{_value(o['before'], as_hcl=True)} -> " if "before" in o else ""
            lines.append((style, f"  {mark}{name} = {before}null"))
            continue
        value = SHOWN_SENSITIVE if o["sensitive"] else _value(o["value"], as_hcl=True) if o["known"] else "(known after apply)"
        lines.append((style, f"  {mark}{name} = {_before(o)}{value}"))
    lines.append(("", ""))
    return lines


def _before(o: dict) -> str:
    """A changed output's recorded value and the arrow, as Terraform's `old -> new`; nothing when
    there is none, or when both sides are hidden (`<sensitive> -> <sensitive>` would tell nothing)."""
    if "before" not in o or (o["before"] == SENSITIVE and o["sensitive"]):
        return ""
    return f"{_value(o['before'], as_hcl=True)} -> "


def _value(value: Any, as_hcl: bool = False) -> str:
    """A value on one line; ``as_hcl``: an output's, whose numbers show as in HCL (1500, not 1500.0)."""
    if value == SENSITIVE:
        return SHOWN_SENSITIVE
    if value is None:
        return "null"
    if isinstance(value, dict) and {"uri", "digest", "materializer"} <= set(value):
        return f"artifact {str(value['digest'])[:12]} ({value['materializer']})"  # a step output given to a resource
    text = shown_for_people(printable(shown_value(value)) if as_hcl else json_text(value, sort_keys=True))
    return text if len(text) <= 120 else text[:117] + "..."
