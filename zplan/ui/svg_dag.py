"""A step graph drawn as SVG, laid out here in a few lines of Python.

Layered layout (longest path): each node sits in the column after its latest predecessor, and a
node that needs nothing (a resource, a data step) in the column just before its earliest
successor, so a resource only the last step uses sits beside that step; within a column nodes are ordered by the mean row of their predecessors (one barycenter pass), which
keeps a pipeline's lanes straight. Pipelines have tens of nodes, not thousands, so this is
enough and needs no JavaScript library: the page works without scripts and exports as-is.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

NODE_W, NODE_H, GAP_X, GAP_Y, PAD, LANE = 170, 46, 60, 22, 12, 14

# status -> (fill, stroke): also read by the legend and the browser tests
COLORS = {
    "ran": ("#d4f4dd", "#1f8a3b"),
    "cached": ("#dde7f7", "#3b68b0"),
    "failed": ("#fbd5d5", "#c22525"),
    "skipped": ("#eeeeee", "#8a8a8a"),
    "pending": ("#fff1c9", "#b7871b"),  # a run still being applied: not recorded yet
    "run": ("#fff1c9", "#b7871b"),  # plan: will run
    "create": ("#d4f4dd", "#1f8a3b"),
    "update": ("#fff1c9", "#b7871b"),
    "replace": ("#fde0c4", "#c0661c"),
    "delete": ("#fbd5d5", "#c22525"),
    "no-op": ("#f6f6f6", "#b0b0b0"),
    "resource": ("#f6f6f6", "#b0b0b0"),
    "artifact": ("#ffffff", "#3b68b0"),  # lineage
    "snapshot": ("#efe3fa", "#7442a8"),
}


@dataclass(frozen=True)
class Node:
    id: str  # the address
    label: str  # shown in the box
    status: str  # a key of COLORS
    detail: str = ""  # second line (a duration, an action)
    href: str | None = None  # where a click leads


def layout(nodes: list[Node], edges: list[tuple[str, str]]) -> dict[str, tuple[int, int]]:
    """Column and row of every node."""
    ids = [n.id for n in nodes]
    preds: dict[str, list[str]] = {i: [] for i in ids}
    for a, b in edges:
        if a in preds and b in preds:
            preds[b].append(a)
    column: dict[str, int] = {}

    def depth(node: str, trail: frozenset = frozenset()) -> int:
        if node not in column:
            ups = [p for p in preds[node] if p not in trail]
            column[node] = 1 + max((depth(p, trail | {node}) for p in ups), default=-1)
        return column[node]

    for node in ids:
        depth(node)
    _pull_sources_right(column, preds)
    place: dict[str, tuple[int, int]] = {}
    for col in range(max(column.values(), default=-1) + 1):
        members = [n for n in ids if column[n] == col]

        def centre(n: str) -> float:
            rows = [place[p][1] for p in preds[n] if p in place]
            return sum(rows) / len(rows) if rows else ids.index(n)

        for row, node in enumerate(sorted(members, key=centre)):
            place[node] = (col, row)
    return place


def _pull_sources_right(column: dict[str, int], preds: dict[str, list[str]]) -> None:
    """A node with no predecessor moves to the column before its earliest successor."""
    succs: dict[str, list[str]] = {n: [] for n in column}
    for node, ups in preds.items():
        for up in ups:
            succs[up].append(node)
    for node in column:
        if not preds[node] and succs[node]:
            column[node] = max(0, min(column[s] for s in succs[node]) - 1)


def render(nodes: list[Node], edges: list[tuple[str, str]], selected: str | None = None) -> str:
    """The graph as an inline ``<svg>`` element; every text is escaped."""
    place = layout(nodes, edges)
    cols = max((c for c, _ in place.values()), default=0) + 1
    rows = max((r for _, r in place.values()), default=0) + 1
    drawn = [(a, b) for a, b in edges if a in place and b in place]
    # an edge skipping columns would cross the boxes between: it runs along a lane under the graph
    long = [e for e in drawn if place[e[1]][0] - place[e[0]][0] > 1 or place[e[1]][0] <= place[e[0]][0]]
    base = PAD + rows * NODE_H + (rows - 1) * GAP_Y
    width, height = PAD * 2 + cols * NODE_W + (cols - 1) * GAP_X, base + PAD + LANE * len(long)
    parts = [f'<svg class="dag" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" aria-label="step graph">',
             '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
             'orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#777"/></marker></defs>']
    for a, b in drawn:
        (x1, y1), (x2, y2) = _right(place[a]), _left(place[b])
        if (a, b) in long:
            lane = base + LANE * (long.index((a, b)) + 1)
            d = (f"M {x1} {y1} C {x1 + 30} {y1}, {x1 + 10} {lane}, {x1 + 40} {lane} L {x2 - 40} {lane} "
                 f"C {x2 - 10} {lane}, {x2 - 30} {y2}, {x2} {y2}")
        else:
            mid = (x1 + x2) / 2
            d = f"M {x1} {y1} C {mid} {y1}, {mid} {y2}, {x2} {y2}"
        parts.append(f'<path class="edge" d="{d}" fill="none" stroke="#777" stroke-width="1.3" marker-end="url(#arrow)"/>')
    for node in nodes:
        parts.append(_box(node, place[node.id], node.id == selected))
    parts.append("</svg>")
    return "\n".join(parts)


def _xy(spot: tuple[int, int]) -> tuple[int, int]:
    col, row = spot
    return PAD + col * (NODE_W + GAP_X), PAD + row * (NODE_H + GAP_Y)


def _left(spot):
    x, y = _xy(spot)
    return x, y + NODE_H // 2


def _right(spot):
    x, y = _xy(spot)
    return x + NODE_W, y + NODE_H // 2


def _fitted(label: str, width: int = 22) -> str:
    """``label`` in ``width`` characters. An instance keeps its whole key when it can, its name cut
    (``tra…["lr0.001-depth3"]``): the instances of a sweep differ only in their keys."""
    if len(label) <= width:
        return label
    name, bracket, key = label.partition("[")
    if bracket and len(key) + 3 <= width:
        return name[: width - len(key) - 2] + "…[" + key
    half = (width - 1) // 2  # else cut in the middle, where a long key's ends still show
    return label[:half] + "…" + label[half - width + 1:]


def _box(node: Node, spot: tuple[int, int], selected: bool) -> str:
    x, y = _xy(spot)
    fill, stroke = COLORS.get(node.status, COLORS["resource"])
    label = _fitted(node.label)
    box = (f'<g class="node" data-address="{escape(node.id)}" data-status="{escape(node.status)}">'
           f'<title>{escape(node.id)}: {escape(node.status)}</title>'
           f'<rect x="{x}" y="{y}" width="{NODE_W}" height="{NODE_H}" rx="6" fill="{fill}" stroke="{stroke}" '
           f'stroke-width="{3 if selected else 1.5}"/>'
           f'<text x="{x + 10}" y="{y + 19}" font-size="13" font-weight="600">{escape(label)}</text>'
           f'<text x="{x + 10}" y="{y + 36}" font-size="11" fill="#444">{escape(node.status)}'
           f'{" · " + escape(node.detail) if node.detail else ""}</text></g>')
    if node.href:
        return f'<a href="{escape(node.href)}">{box}</a>'
    return box
