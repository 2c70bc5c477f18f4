"""Installed versions of the libraries step code imports, read without importing them.

Upgrading scikit-learn can change what a step computes, so the versions of the
distributions a step's code imports are part of its cache key. They are read
from the ``*.dist-info`` / ``*.egg-info`` folders on ``sys.path`` (the
interpreter that runs the steps is the one that plans them), the way
``importlib.metadata.packages_distributions`` maps import names to
distributions, but once per environment: the result is cached on disk, keyed by
the modification times of those folders, which change whenever a package is
installed, upgraded or removed. A no-change plan stats a handful of folders.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from typing import Iterable

from zplan.fsutil import atomic_write_text

CACHE_VERSION = 1
# zplan runs the steps but is not part of what they compute: upgrading it must not rerun every step.
NOT_KEYED = frozenset({"zplan"})
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class LibraryIndex:
    """Import name -> {distribution: version}, for the interpreter running zplan."""

    def __init__(self, cache_file: Path | None = None, paths: list[str] | None = None, exclude: Iterable[str] = ()) -> None:
        self.cache_file = cache_file
        self._paths = paths
        self._exclude = {os.path.abspath(p) for p in exclude}
        self._modules: dict[str, dict[str, str]] | None = None
        self._unsaved: dict | None = None

    def versions(self, modules: Iterable[str]) -> dict[str, str]:
        """The installed distributions that provide these top-level modules, with their versions."""
        modules = list(modules)
        if not modules:
            return {}
        index = self._load()
        out: dict[str, str] = {}
        for name in modules:
            for dist, version in index.get(name, {}).items():
                if _normalise(dist) not in NOT_KEYED:
                    out[dist] = version
        return dict(sorted(out.items()))

    # -- internals ---------------------------------------------------------------------------
    def _folders(self) -> list[list]:
        """Each folder on the path with its mtime: what the cached mapping was read from."""
        out = []
        for entry in self._paths if self._paths is not None else sys.path:
            folder = os.path.abspath(entry or ".")
            if folder in self._exclude:
                continue
            try:
                out.append([folder, os.stat(folder).st_mtime_ns])
            except OSError:
                continue
        return out

    def _load(self) -> dict[str, dict[str, str]]:
        if self._modules is not None:
            return self._modules
        folders = self._folders()
        cached = self._read_cache()
        if cached is not None and cached.get("folders") == folders and cached.get("executable") == sys.executable:
            self._modules = cached["modules"]
            return self._modules
        self._modules = scan([f for f, _ in folders])
        self._unsaved = {"version": CACHE_VERSION, "executable": sys.executable, "folders": folders, "modules": self._modules}
        return self._modules

    def save(self) -> None:
        if self._unsaved is not None and self.cache_file is not None:
            atomic_write_text(self.cache_file, json.dumps(self._unsaved), durable=False)
            self._unsaved = None

    def _read_cache(self) -> dict | None:
        if self.cache_file is None:
            return None
        try:
            doc = json.loads(self.cache_file.read_text())
        except (OSError, ValueError):
            return None
        return doc if isinstance(doc, dict) and doc.get("version") == CACHE_VERSION else None


def scan(folders: list[str]) -> dict[str, dict[str, str]]:
    """Top-level import name -> {distribution: version}; the first folder providing a name wins, as for imports."""
    out: dict[str, dict[str, str]] = {}
    for folder in folders:
        here: dict[str, dict[str, str]] = {}
        try:
            entries = os.listdir(folder)
        except OSError:
            continue
        for entry in entries:
            if entry.endswith((".dist-info", ".egg-info")):
                meta_dir = os.path.join(folder, entry)
                found = _distribution(meta_dir)
                if found is None:
                    continue
                name, version = found
                for top in _top_level(meta_dir):
                    here.setdefault(top, {})[name] = version
        for top, dists in here.items():
            out.setdefault(top, dists)
    return out


def _distribution(meta_dir: str) -> tuple[str, str] | None:
    """(Name, Version) from the metadata headers; the body (often long) is not read."""
    for file in ("METADATA", "PKG-INFO"):
        path = os.path.join(meta_dir, file) if os.path.isdir(meta_dir) else meta_dir
        headers: dict[str, str] = {}
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                for line in f:
                    if not line.strip():
                        break
                    key, sep, value = line.partition(":")
                    if sep and key in ("Name", "Version"):
                        headers.setdefault(key, value.strip())
        except OSError:
            continue
        if "Name" in headers and "Version" in headers:
            return headers["Name"], headers["Version"]
    return None


def _top_level(meta_dir: str) -> set[str]:
    """Import names a distribution provides: top_level.txt, else inferred from its RECORD."""
    try:
        with open(os.path.join(meta_dir, "top_level.txt"), encoding="utf-8") as f:
            return {line.strip().split("/")[0] for line in f if _IDENTIFIER.match(line.strip().split("/")[0])}
    except OSError:
        pass
    names: set[str] = set()
    for record in ("RECORD", "installed-files.txt"):
        try:
            with open(os.path.join(meta_dir, record), encoding="utf-8") as f:
                lines = [line.split(",")[0] for line in f]
        except OSError:
            continue
        for path in lines:
            parts = path.strip().split("/")
            if len(parts) > 1:
                top = parts[0]
            elif parts[0].endswith((".py", ".so", ".pyd")):
                top = parts[0].split(".")[0]
            else:
                continue
            if _IDENTIFIER.match(top) and top != "__pycache__":
                names.add(top)
        break
    return names


def _normalise(dist: str) -> str:
    return re.sub(r"[-_.]+", "-", dist).lower()
