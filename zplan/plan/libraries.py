"""Installed versions of the libraries step code imports, read without importing them.

Upgrading scikit-learn can change what a step computes, so the versions of the
distributions a step's code imports are part of its cache key, with those of the
distributions they require, all the way down (scipy under scikit-learn, numpy under
pandas): a library's results change with its dependencies' too. They are read
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

CACHE_VERSION = 2  # 2: each distribution's requirements
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
        self._dists: dict[str, list] = {}  # normalised name -> [name, version, [normalised requirements]]
        self._versions: dict[tuple[str, ...], dict[str, str]] = {}
        self._unsaved: dict | None = None

    def versions(self, modules: Iterable[str]) -> dict[str, str]:
        """The installed distributions that provide these top-level modules, and every installed
        distribution they require (extras aside), with their versions."""
        modules = tuple(modules)
        if not modules:
            return {}
        if modules not in self._versions:  # the instances of a for_each step import the same modules
            self._versions[modules] = self._closure(modules)
        return dict(self._versions[modules])

    def required_by(self, dists: Iterable[str]) -> set[str]:
        """The installed distributions ``dists`` require, all the way down (a reason tells a
        requirement keyed by a newer zplan from a library the code newly imports)."""
        self._load()
        needs = [req for dist in dists for req in self._dists.get(_normalise(dist), [None, None, []])[2]]
        return set(self._walk(needs))

    def _closure(self, modules: tuple[str, ...]) -> dict[str, str]:
        index = self._load()
        return dict(sorted(self._walk([_normalise(dist) for name in modules for dist in index.get(name, {})]).items()))

    def _walk(self, todo: list[str]) -> dict[str, str]:
        """Name -> version of the distributions ``todo`` names (normalised) and of all they require."""
        out: dict[str, str] = {}
        seen: set[str] = set()
        while todo:
            key = todo.pop()
            if key in seen or key in NOT_KEYED:
                continue
            seen.add(key)
            if key in self._dists:
                name, version, requires = self._dists[key]
                out[name] = version
                todo += requires
        return out

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
            self._modules, self._dists = cached["modules"], cached["dists"]
            return self._modules
        self._modules, self._dists = scan_all([f for f, _ in folders])
        self._unsaved = {"version": CACHE_VERSION, "executable": sys.executable, "folders": folders, "modules": self._modules,
                         "dists": self._dists}
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
    return scan_all(folders)[0]


def scan_all(folders: list[str]) -> tuple[dict[str, dict[str, str]], dict[str, list]]:
    """``scan``, and each distribution by its normalised name: [name, version, its requirements]."""
    out: dict[str, dict[str, str]] = {}
    dists: dict[str, list] = {}
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
                name, version, requires = found
                dists.setdefault(_normalise(name), [name, version, requires])
                for top in _top_level(meta_dir):
                    here.setdefault(top, {})[name] = version
        for top, found_here in here.items():
            out.setdefault(top, found_here)
    return out, dists


def _distribution(meta_dir: str) -> tuple[str, str, list[str]] | None:
    """(Name, Version, the distributions it requires) from the metadata headers; the body
    (often long) is not read. A requirement only for an extra is left out: nothing says it was asked for."""
    for file in ("METADATA", "PKG-INFO"):
        path = os.path.join(meta_dir, file) if os.path.isdir(meta_dir) else meta_dir
        headers: dict[str, str] = {}
        requires: list[str] = []
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                for line in f:
                    if not line.strip():
                        break
                    key, sep, value = line.partition(":")
                    if sep and key in ("Name", "Version"):
                        headers.setdefault(key, value.strip())
                    elif sep and key == "Requires-Dist":
                        required = _required(value)
                        if required and required not in requires:
                            requires.append(required)
        except OSError:
            continue
        if "Name" in headers and "Version" in headers:
            return headers["Name"], headers["Version"], sorted(requires)
    return None


_REQUIREMENT_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def _required(spec: str) -> str | None:
    """The normalised distribution a ``Requires-Dist`` names, unless only an extra asks for it."""
    requirement, _, marker = spec.partition(";")
    if "extra" in marker:
        return None
    found = _REQUIREMENT_NAME.match(requirement)
    return _normalise(found.group(1)) if found else None


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
