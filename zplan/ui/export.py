"""`zplan ui -export DIR`: the dashboard's pages written as static HTML files, for CI artifacts.

Same templates and page dicts as the server, with file links instead of URLs. The newest
``max_runs`` runs get their run, step and lineage pages (every run is still listed). Files are
written to a temporary folder first and moved into DIR at the end, so a failure leaves no
half-written export.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from zplan import api
from zplan.ui import pages
from zplan.ui.app import Dashboard, thawed
from zplan.ui.links import FileLinks

LINKS = FileLinks()


def export(root: Path, stack: str | None, dest: Path, max_runs: int = 20) -> list[Path]:
    """Write the pages into ``dest`` (created; existing files of the same names are replaced)."""
    board = Dashboard(root, stack)
    project = board.open()
    board.stack = project.stack
    files: dict[str, str] = {}

    def put(name: str, template: str, page: dict) -> None:
        files[name] = board.html(template, page, LINKS)

    before = None
    while True:  # every page of runs
        page = pages.runs(project, before=before)
        put(LINKS.runs(before=before), "runs.html", page)
        if page["next_before"] is None:
            break
        before = page["next_before"]
    artifacts: set[int] = set()
    for summary in project.runs(max_runs):
        page = pages.run(project, summary.number)
        put(LINKS.run(summary.number), "run.html", page)
        for node in page["nodes"]:
            detail = pages.run(project, summary.number, node["address"])
            put(LINKS.run(summary.number, node["address"]), "run.html", detail)
            artifacts |= {a["id"] for a in detail["step"]["inputs"] + detail["step"]["outputs"]}
    for artifact_id in sorted(artifacts):
        put(LINKS.lineage(artifact_id), "lineage.html", pages.lineage(project, artifact_id))
    _plan_page(project, put)
    resources = pages.resources(project)
    put(LINKS.resources(), "resources.html", resources)
    for artifact_id in sorted({a for r in resources["resources"] for a in r["step_outputs"].values()} - artifacts):
        put(LINKS.lineage(artifact_id), "lineage.html", pages.lineage(project, artifact_id))
    outputs = pages.outputs(project)
    put(LINKS.outputs(), "outputs.html", outputs)
    for o in outputs["outputs"]:
        if not o["traced"]:
            continue  # a resource attribute or a variable: no history and no lineage page
        put(LINKS.outputs(o["name"]), "outputs.html", pages.outputs(project, o["name"]))
        try:
            put(LINKS.output_lineage(o["name"]), "lineage.html", pages.lineage(project, project.output_artifact(o["name"]).id))
        except api.ZplanAPIError:
            pass  # no artifact recorded behind it (its step never succeeded)
    return _write(files, dest)


def _plan_page(project: api.Project, put) -> None:
    try:
        doc = thawed(project.plan())
    except api.ZplanAPIError as exc:
        doc = None
        note = exc.summary
    if doc is not None:
        put(LINKS.plan(), "plan.html", {"doc": doc, "source": "at export time", "files": []})
    else:
        put(LINKS.plan(), "error.html", {"summary": "The plan could not be made", "hint": note})


def _write(files: dict[str, str], dest: Path) -> list[Path]:
    dest.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".zplan-ui-", dir=dest))
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
