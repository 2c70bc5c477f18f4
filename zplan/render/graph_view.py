"""The plan's graph (resources and steps, an edge from what is needed to what needs it) as
Graphviz DOT or Mermaid, rendered from the JSON plan like every other view.

``zplan graph`` prints either; the Markdown plan embeds the Mermaid form of the changes,
which GitHub draws in a pull-request comment.
"""

from __future__ import annotations

import re

CHANGING = ("run", "create", "update", "replace", "delete")
# action -> (fill, stroke), the dashboard's colours
STYLE = {
    "run": ("#fff1c9", "#b7871b"), "create": ("#d4f4dd", "#1f8a3b"), "update": ("#fff1c9", "#b7871b"),
    "replace": ("#fde0c4", "#c0661c"), "delete": ("#fbd5d5", "#c22525"),
    "cached": ("#dde7f7", "#3b68b0"), "no-op": ("#f6f6f6", "#b0b0b0"),
}


def nodes_and_edges(doc: dict) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """([(address, action)], [(needed, needing)]) of every resource and step in the plan."""
    items = list(doc.get("resources", ())) + list(doc.get("steps", ()))
    nodes = [(i["address"], i["action"]) for i in items]
    known = {a for a, _ in nodes}
    pairs = {(d, i["address"]) for i in items for d in i.get("depends_on", ())}
    pairs |= {(a, b) for a, b in (doc.get("graph") or {}).get("edges", ())}  # resources a step reads, too
    edges = sorted((a, b) for a, b in pairs if a in known and b in known)
    return nodes, edges


def dot(doc: dict) -> str:
    nodes, edges = nodes_and_edges(doc)
    lines = ["digraph zplan {", "  rankdir=LR;", '  node [shape=box, style="rounded,filled", fontname="Helvetica"];']
    for address, action in nodes:
        fill, stroke = STYLE.get(action, STYLE["no-op"])
        lines.append(f'  {_dot_id(address)} [label={_dot_id(address + chr(10) + action)}, fillcolor="{fill}", color="{stroke}"];')
    lines += [f"  {_dot_id(a)} -> {_dot_id(b)};" for a, b in edges]
    lines.append("}")
    return "\n".join(lines) + "\n"


def mermaid(doc: dict, changes_only: bool = False) -> str:
    """A ``graph LR`` of the plan; with ``changes_only``, the changing nodes and their neighbours."""
    nodes, edges = nodes_and_edges(doc)
    if changes_only:
        changing = {a for a, action in nodes if action in CHANGING}
        keep = changing | {x for e in edges if set(e) & changing for x in e}
        nodes = [(a, action) for a, action in nodes if a in keep]
        edges = [(a, b) for a, b in edges if a in keep and b in keep]
    ids = {address: f"n{i}" for i, (address, _) in enumerate(nodes)}
    lines = ["graph LR"]
    for address, action in nodes:
        lines.append(f'  {ids[address]}["{_mermaid_text(address)}<br/>{action}"]:::{_class(action)}')
    lines += [f"  {ids[a]} --> {ids[b]}" for a, b in edges]
    for action, (fill, stroke) in STYLE.items():
        if any(act == action for _, act in nodes):
            lines.append(f"  classDef {_class(action)} fill:{fill},stroke:{stroke}")
    return "\n".join(lines) + "\n"


MARKDOWN_MAX_NODES = 60  # past this a graph is unreadable in a comment (and GitHub's Mermaid gives up)


def markdown_block(doc: dict) -> str:
    """The fenced Mermaid block the Markdown plan embeds; empty when nothing changes or when
    the changes are too many to draw."""
    changing = sum(a in CHANGING for _, a in nodes_and_edges(doc)[0])
    if not changing or changing > MARKDOWN_MAX_NODES:
        return ""
    return "```mermaid\n" + mermaid(doc, changes_only=True) + "```\n"


def _dot_id(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


# Mermaid's entity codes: an instance key's quotes are drawn as written ("#" too, so that a key
# holding "#1;" is not read as one); < and > are not read as HTML, nor ` as Markdown
_MERMAID_CODES = {"#": "#35;", '"': "#quot;", "<": "#lt;", ">": "#gt;", "`": "#96;"}


def _mermaid_text(text: str) -> str:
    return re.sub(r'[#"<>`]', lambda m: _MERMAID_CODES[m.group()], text)


def _class(action: str) -> str:
    return "a_" + re.sub(r"[^a-z]", "_", action)
