"""Where each page lives: as URLs on the server, as file names in a static export.

Templates only ever call these, so the same template serves both. Every piece that goes into
a file name is reduced to safe characters; every URL argument is encoded.
"""

from __future__ import annotations

import hashlib
import re
from typing import Iterable
from urllib.parse import quote, urlencode


class ServerLinks:
    static = False

    def runs(self, pipeline: str = "", status: str = "", before: int | None = None) -> str:
        query = {k: v for k, v in (("pipeline", pipeline), ("status", status), ("before", before)) if v}
        return "/" + (f"?{urlencode(query)}" if query else "")

    def run(self, number: int, step: str | None = None) -> str:
        return f"/runs/{int(number)}" + (f"?{urlencode({'step': step})}" if step else "")

    def lineage(self, artifact_id: int, step: str | None = None, run: int | None = None) -> str:
        """``step``: the step whose output it is (steps that made the same content share one artifact),
        ``run``: the run it is seen from, whose execution made it or an earlier one (runs that made the same
        content share it too)."""
        query = {k: v for k, v in (("step", step), ("run", run)) if v}
        return f"/lineage/{int(artifact_id)}" + (f"?{urlencode(query)}" if query else "")

    def output_lineage(self, name: str) -> str:
        return f"/lineage/output/{quote(name, safe='')}"

    def plan(self) -> str:
        return "/plan"

    def resources(self) -> str:
        return "/resources"

    def outputs(self, name: str | None = None) -> str:
        return "/outputs" + (f"/{quote(name, safe='')}" if name else "")


class FileLinks:
    """Relative file names, all in one folder, so an exported folder opens from anywhere."""

    static = True

    def __init__(self, runs: Iterable[int] | None = None) -> None:
        self._paged = None if runs is None else {int(n) for n in runs}  # runs with pages; None: every run

    def runs(self, pipeline: str = "", status: str = "", before: int | None = None) -> str:
        return f"runs-before-{int(before)}.html" if before else "index.html"

    def run(self, number: int, step: str | None = None) -> str | None:
        """None for a run the export has no pages of (templates then show its number unlinked)."""
        if self._paged is not None and int(number) not in self._paged:
            return None
        return f"run-{int(number)}" + (f"-{_safe(step)}" if step else "") + ".html"

    def lineage(self, artifact_id: int, step: str | None = None, run: int | None = None) -> str:
        return f"lineage-{int(artifact_id)}" + (f"-{_safe(step)}" if step else "") + (f"-run-{int(run)}" if run else "") + ".html"

    def output_lineage(self, name: str) -> str:
        return f"lineage-output-{_safe(name)}.html"

    def plan(self) -> str:
        return "plan.html"

    def resources(self) -> str:
        return "resources.html"

    def outputs(self, name: str | None = None) -> str:
        return f"output-{_safe(name)}.html" if name else "outputs.html"


def _safe(text: str) -> str:
    """``text`` in safe characters; when some had to be replaced, a digest of the original follows,
    so two names that differ only there (for_each keys "a/b" and "a_b") get two files."""
    cleaned = re.sub(r"[^A-Za-z0-9_.-]", "_", text).lstrip(".") or "_"
    if cleaned == text:
        return cleaned
    return f"{cleaned}-{hashlib.sha256(text.encode()).hexdigest()[:8]}"
