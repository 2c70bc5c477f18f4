"""Page dicts to HTML: Jinja2 templates with autoescaping on, plus the SVG drawings.

Every user-supplied text (step names, params, logs, attribute values) reaches the page
through Jinja2's escaping or ``html.escape`` in the SVG builders; nothing is marked safe
that was not built here.
"""

from __future__ import annotations

import time
from functools import cache
from pathlib import Path
from typing import Any

from zplan.render.console import json_text
from zplan.ui import svg_chart, svg_dag

TEMPLATES = Path(__file__).parent / "templates"


@cache
def environment():
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=True, undefined=StrictUndefined,
                      trim_blocks=True, lstrip_blocks=True)
    env.filters.update(when=when, dur=duration, size=size, pretty=pretty, json=as_json)
    env.globals.update(run_graph=run_graph, lineage_graph=lineage_graph, plan_graph=plan_graph, metric_chart=metric_chart,
                       applier=applier)
    return env


def render(template: str, links, **page: Any) -> str:
    return environment().get_template(template).render(links=links, **page)


# -- filters

def when(seconds: float | None) -> str:
    if not seconds:
        return "—"
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(seconds))


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes} min {rest} s" if minutes < 60 else f"{minutes // 60} h {minutes % 60} min"


def size(count: int | None) -> str:
    if count is None:
        return "—"
    value = float(count)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{count} B"


def pretty(value: Any) -> str:
    return json_text(value, indent=2, sort_keys=True, default=str)


def as_json(value: Any) -> str:
    """A value as one line of JSON, for the page's text (autoescaping makes it safe HTML). Not Jinja's
    ``tojson``: that one is for scripts, and shows "<" and "&" as ``\\u003c`` and ``\\u0026``. As the
    command line prints it: "é" as written, a control or direction override escaped (``\\u202e``)."""
    return json_text(value, sort_keys=True, default=str)


def applier(run: dict):
    """Who applied a run: ``user@host``, then the CI service, linked to its run's page when known.
    A run recorded before the user was kept shows its host alone."""
    from markupsafe import Markup, escape

    who = "@".join(x for x in (run.get("user"), run.get("host")) if x) or "—"
    shown = escape(who)
    if run.get("ci") and run.get("ci_url"):
        shown += Markup(' · <a class="ci" href="{}">{}</a>').format(run["ci_url"], run["ci"])
    elif run.get("ci"):
        shown += Markup(' · <span class="ci">{}</span>').format(run["ci"])
    return shown


# -- drawings (already escaped: built with html.escape)

def _markup(svg: str):
    from markupsafe import Markup

    return Markup(svg)


def run_graph(page: dict, links):
    number = page["summary"]["number"]
    selected = page["step"]["address"] if page["step"] else None
    nodes = [svg_dag.Node(n["address"], n["step"], n["status"], duration(n["duration"]) if n["duration"] is not None else "",
                          links.run(number, n["address"])) for n in page["nodes"]]
    return _markup(svg_dag.render(nodes, [tuple(e) for e in page["edges"]], selected))


def lineage_graph(page: dict, links):
    nodes = []
    for n in page["nodes"]:
        if n["kind"] == "execution":
            href = links.run(n["run"], n["address"]) if n["run"] else None
            detail = f"run {n['run']}" + (f" · {n['git_commit'][:8]}" if n.get("git_commit") else "")
            nodes.append(svg_dag.Node(n["id"], n["label"], n["status"], detail, href))
        else:
            nodes.append(svg_dag.Node(n["id"], n["label"], n["kind"], size(n["size"]), links.lineage(n["artifact_id"], n["step"], n["run"])))
    selected = f"artifact:{page['artifact_id']}"
    return _markup(svg_dag.render(nodes, [tuple(e) for e in page["edges"]], selected))


def plan_graph(doc: dict):
    from zplan.render.graph_view import nodes_and_edges
    from zplan.ui.pages import node_label

    found, edges = nodes_and_edges(doc)
    nodes = [svg_dag.Node(address, node_label(address), action, "") for address, action in found]
    return _markup(svg_dag.render(nodes, edges))


def metric_chart(page: dict):
    points = [(p["run"], svg_chart.numeric(p["value"])) for p in page["history"]]
    return _markup(svg_chart.render([(r, v) for r, v in points if v is not None], page["name"] or ""))
