"""Script steps' outs back in the workspace after apply, where DVC users expect them.

Each out of a script step whose latest execution succeeded (run now or cached) is
copied from the artifact store to its path in the project, unless it is already
there: a small record of what was checked out last (artifact digest and the
content digest of the workspace copy, read through the stat cache) makes the
no-change case a few stats; zplan.plan.checkouts reads it, so the plan lists what
apply will write back. ``apply -no-checkout`` skips all of it.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any, Collection, Mapping

from zplan import diags
from zplan.config.values import UNKNOWN
from zplan.fsutil import atomic_write_text
from zplan.hashing import StatCache
from zplan.plan.checkouts import RECORD, mark, read_marks, why
from zplan.state.model import State


def checkout_outs(project, state: State, store_key: str | None, stack: Mapping[str, Any], stat_cache: StatCache,
                  planned: Collection[str]) -> list[str]:
    """Copy the outs of the ``planned`` steps that differ from their artifact into the workspace
    (a step -target or -exclude left out is left alone, its outs too); the paths written."""
    scripts = [s for s in project.config.steps() if s.script is not None and str(s.addr) in planned]
    url = stack.get("artifact_store")
    if not scripts or store_key is None or url in (None, UNKNOWN):
        return []
    cache_dir = project.state_dir / "cache"
    marks = read_marks(cache_dir)
    store, written = None, []
    try:
        for step in scripts:
            record = state.step_record(store_key, str(step.addr))
            if record is None or not record.succeeded:
                continue
            for out in step.script.outputs:
                artifact = record.outputs.get(out)
                dest = project.root / out
                if artifact is None or why(marks.get(out), artifact["digest"], str(dest), stat_cache) is None:
                    continue
                if store is None:
                    from zplan.artifacts.store import ArtifactStore

                    store = ArtifactStore.from_url(str(url), project.root)
                _put(store, artifact["digest"], dest, f"{out} (an out of {step.addr})", project.root, str(step.addr))
                marks[out] = mark(artifact["digest"], dest, stat_cache)
                written.append(out)
    finally:  # what was written is recorded, also when a later out could not be
        if written:
            atomic_write_text(cache_dir / RECORD, json.dumps(marks, sort_keys=True), durable=False)
        stat_cache.save()
    return written


def _put(store, digest: str, dest: Path, what: str, root: Path, step: str) -> None:
    """One out into the project folder; a file or folder in its way (or no permission), or a
    stored artifact damaged since the plan (which only checks that it is there), is an error
    saying what to do, never a traceback."""
    from zplan.artifacts.base import ArtifactStoreError

    try:
        stored = store.get(digest, verify=True)
    except ArtifactStoreError as exc:
        raise diags.fail(f"the apply is recorded, but {what} could not be checked out into the project folder: {exc.diagnostics[0].summary}",
                         f"`zplan verify -repair` drops the damaged artifact; the next `zplan apply` then reruns {step}") from None
    try:
        _copy(stored, dest)
    except OSError as exc:
        name = os.path.relpath(exc.filename, root) if exc.filename else ""
        problem = f"{name} is a file where a folder is needed" if isinstance(exc, (FileExistsError, NotADirectoryError)) and name \
            else f"{name + ': ' if name else ''}{exc.strerror or exc}"
        raise diags.fail(f"the apply is recorded, but {what} could not be checked out into the project folder: {problem}",
                         "make room for it and run `zplan apply` again to check it out, or apply with -no-checkout to leave the project folder alone") from None


def _copy(folder: Path, dest: Path) -> None:
    """The stored out (path materializer layout: file/<name> or dir/) at ``dest``, replacing what is there."""
    if dest.is_dir() and not dest.is_symlink():
        shutil.rmtree(dest)
    elif dest.exists() or dest.is_symlink():
        dest.unlink()
    dest.parent.mkdir(parents=True, exist_ok=True)
    if (folder / "file").is_dir():
        shutil.copyfile(next((folder / "file").iterdir()), dest)
    else:
        shutil.copytree(folder / "dir", dest)
