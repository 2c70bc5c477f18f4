"""Which script outs an apply would write back into the project folder, and why.

Apply checks out each out of a script step (zplan.apply.checkout) unless the project
already holds what it last checked out there: ``.zplan/cache/checkout.json`` records,
per out, the artifact digest and the content digest of the copy written (read through
the stat cache, so an unchanged out costs a stat per file). The plan lists the outs
of cached steps that apply would write back; a step that reruns writes its outs anyway.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Iterable

from zplan.hashing import NotHashable, StatCache, combine
from zplan.plan import model as m

RECORD = "checkout.json"  # under .zplan/cache: out path -> [artifact digest, workspace digest, names digest]

# Why an out is checked out again: the JSON plan's "reason" (zplan.render.plan_text words it).
MISSING = "missing"
CHANGED = "changed"
FILES_ADDED_OR_REMOVED = "files_added_or_removed"  # a folder out
OTHER_RESULT = "other_result"  # checked out from another execution (before a rerun applied with -no-checkout)
NOT_CHECKED_OUT = "not_checked_out"  # there, but not written by a checkout (the command run by hand?)


def read_marks(cache_dir: Path) -> dict:
    try:
        marks = json.loads((cache_dir / RECORD).read_text())
    except (OSError, ValueError):
        return {}
    return marks if isinstance(marks, dict) else {}


def mark(digest: str, dest: Path, stat_cache: StatCache) -> list:
    """What is recorded of an out just written to ``dest`` from the artifact ``digest``."""
    return [digest, stat_cache.tree_hash(str(dest)), _names(dest)]


def why(mark: list | None, digest: str, dest: str, stat_cache: StatCache) -> str | None:
    """Why apply would write the artifact ``digest`` to ``dest`` (MISSING, ...), or None when
    ``dest`` holds what was last checked out there from that artifact."""
    try:
        st = os.stat(dest)  # (one stat: the stat cache takes it for a file)
    except OSError:
        return CHANGED if os.path.islink(dest) else MISSING
    if not isinstance(mark, list) or len(mark) < 2:
        return NOT_CHECKED_OUT
    if mark[0] != digest:
        return OTHER_RESULT
    try:
        same = stat_cache.tree_hash(dest, st) == mark[1]
    except (OSError, NotHashable):  # a FIFO, a link to nothing inside a folder: not what was written
        return CHANGED
    if same:
        return None
    if len(mark) > 2 and mark[2] is not None and _names(dest) != mark[2]:
        return FILES_ADDED_OR_REMOVED
    return CHANGED


def pending(project, steps: Iterable[m.StepPlan], stat_cache: StatCache) -> tuple[tuple[str, str, str], ...]:
    """(out, step address, reason) of each out of a cached script step that apply would check
    out again: missing or changed in the project folder since it was last checked out."""
    config = project.config
    if not any(s.script is not None for s in config.steps()):
        return ()
    marks = read_marks(project.state_dir / "cache")
    root = os.fspath(project.root)  # (strings, not Path objects: every out of every cached step is looked at)
    found = []
    for planned in steps:
        if planned.action != m.CACHED or planned.cached_from is None:
            continue
        step = config.step(planned.address)
        if step is None or step.script is None:
            continue
        for out in step.script.outputs:
            artifact = planned.cached_from.outputs.get(out)
            reason = None if artifact is None else why(marks.get(out), artifact["digest"], os.path.join(root, out), stat_cache)
            if reason is not None:
                found.append((out, planned.address, reason))
    return tuple(found)


def _names(dest: str | Path) -> str | None:
    """A digest of the file names below a folder (None for a file): tells files added or
    removed from files edited."""
    base = os.fspath(dest)
    if not os.path.isdir(base) or os.path.islink(base):
        return None
    cut = len(base.rstrip(os.sep)) + 1
    names = []
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames.sort()
        names += sorted(os.path.join(dirpath, n)[cut:].replace(os.sep, "/") for n in filenames)
    return combine((name, "") for name in names)
