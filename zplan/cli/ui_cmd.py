"""`zplan ui` (the read-only dashboard, or its static export) and `zplan graph` (DOT / Mermaid)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

from zplan import diags
from zplan.cli import common
from zplan.cli.common import NoColorOpt, opt, stack_option


def ui(port: Optional[int] = opt(None, "port", "Port to listen on (default 8080)."),
       host: Optional[str] = opt(None, "host", "Address to listen on (default 127.0.0.1; anything but loopback exposes the dashboard: a warning is printed)."),
       export: Optional[Path] = opt(None, "export", "Write the pages as static HTML into this folder instead of serving them."),
       stack: Optional[str] = stack_option(), no_color: bool = NoColorOpt) -> None:
    """Serve a read-only dashboard: runs, step graphs, lineage, plans, resources and outputs over time."""
    from zplan import api
    from zplan.render.console import say

    if export is not None and (port is not None or host is not None):  # an export serves nothing: the flag would be ignored
        flag = "-port" if port is not None else "-host"
        raise diags.fail(f"{flag} cannot be used with -export", "-export writes static pages and serves nothing: leave "
                         f"{flag} out, or serve the dashboard without -export")
    _require_ui_extra()
    root = common.root()
    try:
        if export is not None:
            from zplan.ui.export import export as write_pages

            written = write_pages(root, stack, root / export)
            say(f"wrote {len(written)} pages into {export} (open {export / 'index.html'})")
            return
        _serve(root, stack, host or "127.0.0.1", 8080 if port is None else port)
    except api.ZplanAPIError as exc:  # a mistake in the configuration is shown as `zplan plan` shows it, at its file:line
        raise (diags.DiagnosticError(exc.diagnostics) if exc.diagnostics else diags.fail(exc.summary, exc.hint)) from None


def _serve(root: Path, stack: Optional[str], host: str, port: int) -> None:
    from zplan.render.console import say
    from zplan.ui.app import create_app
    from zplan.ui.server import allowed_hosts, exposure_warning, port_problem, serve

    warning = exposure_warning(host)
    if warning:
        print(f"Warning: {warning}", file=sys.stderr)
    if not 0 < port < 65536:
        raise diags.fail(f"-port {port} is not a port number", "give a number from 1 to 65535")
    problem = port_problem(host, port)
    if problem:
        why, what_to_do = problem
        raise diags.fail(f"cannot listen on {host}:{port}: {why}", what_to_do)
    app = create_app(root, stack, allowed_hosts(host))  # opens the project: a missing one or an unknown stack is an error now, not on every page
    say(f"zplan ui: serving http://{host}:{port}/ (read-only; Ctrl-C stops)")
    serve(app, host, port)


def graph(format: str = opt("dot", "format", "dot | mermaid"), stack: Optional[str] = stack_option(), no_color: bool = NoColorOpt) -> None:
    """Print the plan's graph of resources and steps (Graphviz DOT or Mermaid), each node with its planned action."""
    from zplan import api
    from zplan.render.graph_view import dot, mermaid

    if format not in ("dot", "mermaid"):
        raise diags.fail(f"unknown graph format {format!r}", "use dot or mermaid")
    try:
        doc = api.open(common.root(), stack).plan()
    except api.ZplanAPIError as exc:  # a mistake in the configuration is shown as `zplan plan` shows it
        raise (diags.DiagnosticError(exc.diagnostics) if exc.diagnostics else diags.fail(exc.summary, exc.hint)) from None
    sys.stdout.write(dot(doc) if format == "dot" else mermaid(doc))


def _require_ui_extra() -> None:
    import importlib.util

    missing = [m for m in ("starlette", "uvicorn", "jinja2") if importlib.util.find_spec(m) is None]
    if missing:
        raise diags.fail(f"zplan ui needs {', '.join(missing)}", "install the dashboard's extra: pip install 'zplan[ui]'")
