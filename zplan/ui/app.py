"""The dashboard's web application (Starlette): HTML pages and the JSON behind each, GET only.

The project is opened through ``zplan.api`` on every request, so a page shows the
configuration and records as they are now. Nothing here writes: there are no other methods
than GET and HEAD, and the only path a request may name (a saved plan) is kept inside the
project by the API.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from zplan import api
from zplan.ui import html, pages
from zplan.ui.links import ServerLinks

LINKS = ServerLinks()


class Dashboard:
    """Builds each page for one project folder and stack."""

    def __init__(self, root: Path, stack: str | None) -> None:
        self.root = Path(root)
        self.stack = stack

    def open(self) -> api.Project:
        return api.open(self.root, self.stack)

    # each returns (template, page dict)

    def runs(self, q: dict) -> tuple[str, dict]:
        return "runs.html", pages.runs(self.open(), q.get("pipeline"), q.get("status"), _number(q.get("before"), "before"))

    def run(self, number: int, q: dict) -> tuple[str, dict]:
        return "run.html", pages.run(self.open(), number, q.get("step") or None)

    def lineage(self, artifact_id: int, q: dict) -> tuple[str, dict]:
        return "lineage.html", pages.lineage(self.open(), artifact_id, q.get("step") or None, _number(q.get("run"), "run"))

    def output_lineage(self, name: str) -> tuple[str, dict]:
        return "lineage.html", pages.output_lineage(self.open(), name)

    def plan(self, q: dict) -> tuple[str, dict]:
        project = self.open()
        files = project.saved_plan_files()
        if q.get("file"):
            return "plan.html", {"doc": thawed(project.saved_plan(q["file"])), "source": f"saved plan {q['file']}", "files": files}
        return "plan.html", {"doc": thawed(project.plan()), "source": "current configuration (computed now, nothing saved)",
                             "files": files}

    def resources(self) -> tuple[str, dict]:
        return "resources.html", pages.resources(self.open())

    def outputs(self, name: str | None = None) -> tuple[str, dict]:
        return "outputs.html", pages.outputs(self.open(), name)

    def graph(self) -> tuple[str, dict]:
        graph = self.open().graph()
        return "", {"nodes": [{"address": n.address, "kind": n.kind} for n in graph.nodes], "edges": graph.edges}

    def html(self, template: str, page: dict, links) -> str:
        return html.render(template, links, project_name=self.root.name, stack=self.stack or "", _page=page, **page)


def create_app(root: Path, stack: str | None = None, hosts: list[str] | None = None) -> Starlette:
    """``hosts``: the Host header names answered (others get 400), None for any."""
    board = Dashboard(root, stack)
    board.stack = board.open().stack  # the selected one, named in the header; an unknown one is refused here

    def page(build: Callable[[Request], tuple[str, dict]]):
        async def html_endpoint(request: Request) -> Response:
            return await _answer(request, build, lambda t, p: HTMLResponse(board.html(t, p, LINKS)), board)

        async def json_endpoint(request: Request) -> Response:
            return await _answer(request, build, lambda t, p: JSONResponse(p), board)

        return html_endpoint, json_endpoint

    routes = {
        "/": lambda r: board.runs(r.query_params),
        "/runs/{number:int}": lambda r: board.run(r.path_params["number"], r.query_params),
        "/lineage/{artifact_id:int}": lambda r: board.lineage(r.path_params["artifact_id"], r.query_params),
        "/lineage/output/{name}": lambda r: board.output_lineage(r.path_params["name"]),
        "/plan": lambda r: board.plan(r.query_params),
        "/resources": lambda r: board.resources(),
        "/outputs": lambda r: board.outputs(),
        "/outputs/{name}": lambda r: board.outputs(r.path_params["name"]),
    }
    table = []
    for path, build in routes.items():
        html_endpoint, json_endpoint = page(build)
        table.append(Route(path, html_endpoint, methods=["GET"]))
        table.append(Route("/api" + (path if path != "/" else "/runs"), json_endpoint, methods=["GET"]))
    table.append(Route("/api/graph", page(lambda r: board.graph())[1], methods=["GET"]))
    table.append(Route("/runs", lambda r: RedirectResponse("/"), methods=["GET"]))
    if hosts is None:
        return Starlette(routes=table)
    from starlette.middleware import Middleware
    from starlette.middleware.trustedhost import TrustedHostMiddleware

    return Starlette(routes=table, middleware=[Middleware(TrustedHostMiddleware, allowed_hosts=hosts, www_redirect=False)])


async def _answer(request: Request, build, respond, board: Dashboard) -> Response:
    from starlette.concurrency import run_in_threadpool

    try:
        template, page = await run_in_threadpool(build, request)
    except api.ZplanAPIError as exc:
        return _error(request, board, 404 if _not_found(exc) else 400, pages.located(exc, board.root), exc.hint)
    except ValueError as exc:
        return _error(request, board, 400, str(exc), "")
    return respond(template, page)


def _not_found(exc: api.ZplanAPIError) -> bool:
    return isinstance(exc, (api.RunNotFound, api.UnknownAddress, api.UnknownOutput))


def _error(request: Request, board: Dashboard, status: int, summary: str, hint: str) -> Response:
    if request.url.path.startswith("/api/"):
        return JSONResponse({"error": summary, "hint": hint}, status_code=status)
    body = html.render("error.html", LINKS, project_name=board.root.name, stack=board.stack or "", summary=summary, hint=hint)
    return HTMLResponse(body, status_code=status)


def _number(text: str | None, name: str) -> int | None:
    if not text:
        return None
    if not text.isdigit():
        raise ValueError(f"{name} must be a run number, got {text!r}")
    return int(text)


def thawed(value):
    """The API's read-only plan mapping as plain dicts and lists (for templates and JSON)."""
    from collections.abc import Mapping

    if isinstance(value, Mapping):
        return {k: thawed(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [thawed(v) for v in value]
    return value
