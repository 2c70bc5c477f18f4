"""Which artifacts a local store holds: asked by one plan about thousands of them."""

from __future__ import annotations

import os
import stat

from zplan.artifacts.base import check_digest
from zplan.fsutil import OpenFolder


class LocalPresence:
    """``digest -> stored?`` for a plan. The first artifact of a prefix folder is looked up
    (``stat`` from the open store), and at the second the folder is listed once (one listing of
    256 names costs about what 10 ``stat``s do). A name the listing lacks is looked up again: it
    may have been stored since (an apply asks as it goes)."""

    def __init__(self, root: str) -> None:
        self.root = root
        self.folder = OpenFolder(root)
        self.listed: dict[str, set[str] | None] = {}  # prefix -> None once asked about, then its folders' names

    def __call__(self, digest: str) -> bool:
        prefix = check_digest(digest)[:2]
        if prefix not in self.listed:
            self.listed[prefix] = None
        elif self.listed[prefix] is None:
            self.listed[prefix] = self._folders_in(prefix)
        names = self.listed[prefix]
        return (names is not None and digest in names) or self._looked_up(f"{prefix}/{digest}")

    def _looked_up(self, name: str) -> bool:
        try:
            return stat.S_ISDIR(self.folder.stat(name, os.path.join(self.root, name)).st_mode)
        except OSError:
            return False

    def _folders_in(self, prefix: str) -> set[str]:
        try:
            with os.scandir(os.path.join(self.root, prefix)) as entries:
                return {e.name for e in entries if e.is_dir()}  # (each entry's type from the listing, where the file system gives it)
        except OSError:
            return set()
