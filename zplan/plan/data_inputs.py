"""What a data input may name, checked as it is hashed at plan: a plan error at the step's
``inputs`` line (with what to do) instead of a traceback at apply, a plan blocked for ever
on a FIFO, or a snapshot of zplan's own state that changes on every apply."""

from __future__ import annotations

import os
import stat
from typing import Callable

from zplan import diags
from zplan.config.model import StepConfig
from zplan.hashing import NotHashable, StatCache, kind
from zplan.project import STATE_DIR


def located(rel: str, project_dir: str, prefix: str | None, folder) -> tuple[str, os.stat_result | None]:
    """The input's path and its stat (None: missing, or not reachable, as os.path.exists says).
    One stat gives existence, kind and the stat cache's signature; normpath, not resolve(): no
    symlink walk. A plain relative path is looked up from the open project ``folder``."""
    try:
        if prefix and _plain_relative(rel):
            path = prefix + rel
            return path, folder.stat(rel, path)
        path = os.path.normpath(os.path.join(project_dir, rel))
        return path, os.stat(path)
    except OSError:
        return path, None


def _plain_relative(rel: str) -> bool:
    """Whether ``rel`` is a relative path ``os.path.normpath`` leaves as it is once joined to a
    normal folder: no empty, ``.`` or ``..`` part (a part starting with a dot takes the long way)."""
    return bool(rel) and rel[0] != "/" and rel[-1] != "/" and "//" not in rel and "/." not in "/" + rel


def digest(stat_cache: StatCache, state_dir: str, step: StepConfig, what: str, rel: str, path: str,
           st: os.stat_result, where: Callable[[], diags.Range], clone: bool = False) -> str:
    """The content digest of the file or folder ``path`` (``rel`` as the step names it, ``st``
    its stat), or a plan error at ``where``: zplan's own state folder or a folder holding it,
    anything but a file or folder, a link to nothing or a FIFO inside it (reading a FIFO would
    block the plan for ever). The checks read the stats the hash takes anyway: no call of
    their own. ``where`` gives the line to name, worked out only for an error (every plan
    checks every input). ``clone``: see ``StatCache.file_hash``."""
    if path.startswith(state_dir) or state_dir.startswith(path):  # (one of them inside the other: look closer)
        _refuse_state_folder(state_dir, step, what, rel, path, where)
    if not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)):
        raise diags.fail(f'step "{step.name}": {what} names {rel}, {kind(st.st_mode)} or folder',
                         "name a regular file or a folder of them", where())
    try:
        return stat_cache.tree_hash(path, st, clone)
    except NotHashable as exc:
        inside = rel.rstrip("/") + exc.path[len(path):]  # as the project names it
        raise diags.fail(
            f'step "{step.name}": {what} ({rel}) holds {inside}, {exc.what}',
            "a data input may hold only files and folders (links to files are followed): "
            f"remove or replace {inside}, or name the files to read",
            where(),
        ) from None


MODULES = "modules"  # .zplan/modules: git modules as `zplan init` checks them out, written by nothing else: their files are inputs


def _refuse_state_folder(state_dir: str, step: StepConfig, what: str, rel: str, path: str, where: Callable[[], diags.Range]) -> None:
    """A snapshot of .zplan (or of a folder holding it) would hold the state and the artifact
    store, which every apply changes: the step would never be cached and the store would grow
    by a copy of itself each time. Compared as normalized paths: no file system call."""
    if (path == state_dir or path.startswith(state_dir + "/")) and not path.startswith(os.path.join(state_dir, MODULES, "")):
        raise diags.fail(f'step "{step.name}": {what} names {rel}, inside zplan\'s own state folder {STATE_DIR}',
                         "zplan writes there on every apply: name a data file or folder of the project", where())
    if state_dir.startswith(path.rstrip("/") + "/"):
        raise diags.fail(
            f'step "{step.name}": {what} names {rel or chr(34) * 2}, a folder holding zplan\'s own state folder {STATE_DIR}',
            "its snapshot would copy the state and artifact store, which change on every apply: "
            'name a data file or folder, e.g. "data"',
            where(),
        )
