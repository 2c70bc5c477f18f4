"""`zplan ui -export DIR`: the dashboard's pages written as static HTML files, for CI artifacts.

Same templates and page dicts as the server, with file links instead of URLs. The newest
``max_runs`` runs get their run and step pages (every run is still listed, older ones without a
link), and every artifact those pages show gets its lineage page. Files are
written to a temporary folder first and moved into DIR at the end, so a failure leaves no
half-written export.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from zplan import api, diags
from zplan.ui import pages
from zplan.ui.app import Dashboard, thawed
from zplan.ui.links import FileLinks


def export(root: Path, stack: str | None, dest: Path, max_runs: int = 20) -> list[Path]:
    """Write the pages into ``dest`` (created; existing files of the same names are replaced)."""
    board = Dashboard(root, stack)
    project = board.open()
    board.stack = project.stack
    newest = project.runs(max_runs)
    links = FileLinks(runs=[s.number for s in newest])  # an older run is listed without a link
    files: dict[str, str] = {}

    def put(name: str, template: str, page: dict) -> None:
        files[name] = board.html(template, page, links)

    before = None
    while True:  # every page of runs
        page = pages.runs(project, before=before)
        put(links.runs(before=before), "runs.html", page)
        if page["next_before"] is None:
            break
        before = page["next_before"]
    artifacts: set[tuple[int, str | None, int | None]] = set()  # (artifact id, the step and run whose output it is, if known)
    for summary in newest:
        page = pages.run(project, summary.number)
        put(links.run(summary.number), "run.html", page)
        for node in page["nodes"]:
            detail = pages.run(project, summary.number, node["address"])
            put(links.run(summary.number, node["address"]), "run.html", detail)
            artifacts |= {(a["id"], None, summary.number) for a in detail["step"]["inputs"]}
            artifacts |= {(a["id"], node["address"], summary.number) for a in detail["step"]["outputs"]}
    _plan_page(project, put, links)
    resources = pages.resources(project)
    put(links.resources(), "resources.html", resources)
    artifacts |= {(a, None, None) for r in resources["resources"] for a in r["step_outputs"].values()}
    outputs = pages.outputs(project)
    put(links.outputs(), "outputs.html", outputs)
    for o in outputs["outputs"]:
        if not o["traced"]:
            continue  # a resource attribute or a variable: no history and no lineage page
        put(links.outputs(o["name"]), "outputs.html", pages.outputs(project, o["name"]))
        try:
            page = pages.output_lineage(project, o["name"])
        except api.ZplanAPIError:
            continue  # no artifact recorded behind it (its step never succeeded)
        put(links.output_lineage(o["name"]), "lineage.html", page)
        artifacts |= _shown_artifacts(page)
    _lineage_pages(project, artifacts, put, links)
    return _write(files, dest)


def _lineage_pages(project: api.Project, wanted: set[tuple[int, str | None, int | None]], put, links: FileLinks) -> None:
    """A lineage page for each wanted (artifact, step) and for each one those pages show, since every
    node links to its own page (down to the snapshots that older runs read)."""
    done: set[tuple[int, str | None, int | None]] = set()
    pending = sorted(wanted, key=_order)
    while pending:
        artifact_id, step, run = wanted_page = pending.pop()
        if wanted_page in done:
            continue
        done.add(wanted_page)
        page = pages.lineage(project, artifact_id, step, run)
        put(links.lineage(artifact_id, step, run), "lineage.html", page)
        pending += sorted(_shown_artifacts(page) - done, key=_order)


def _shown_artifacts(page: dict) -> set[tuple[int, str | None, int | None]]:
    return {(n["artifact_id"], n["step"], n["run"]) for n in page["nodes"] if n["kind"] != "execution"}


def _order(wanted: tuple[int, str | None, int | None]) -> tuple[int, str, int]:
    return wanted[0], wanted[1] or "", wanted[2] or 0


def _plan_page(project: api.Project, put, links: FileLinks) -> None:
    try:
        doc = thawed(project.plan())
    except api.ZplanAPIError as exc:
        doc = None
        note = pages.located(exc, project.root)
    if doc is not None:
        put(links.plan(), "plan.html", {"doc": doc, "source": "at export time", "files": []})
    else:
        put(links.plan(), "error.html", {"summary": "The plan could not be made", "hint": note})


def _write(files: dict[str, str], dest: Path) -> list[Path]:
    try:
        dest.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".zplan-ui-", dir=dest))
    except OSError as exc:  # a file of that name, a folder one cannot write to
        raise diags.fail(f"cannot write the pages into {dest}: {exc.strerror or exc}", "give -export a folder you can write to") from None
    try:
        for name, text in files.items():
            (staging / name).write_text(text, encoding="utf-8")
        written = []
        for name in files:
            os.replace(staging / name, dest / name)
            written.append(dest / name)
        return written
    finally:
        shutil.rmtree(staging, ignore_errors=True)
