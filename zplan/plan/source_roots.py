"""Where an imported package's source lies: beside the project (its code counts as the step's,
like the project's own) or an installed release (keyed by its version). Used by ``zplan.plan.code_reach``."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def source_root(top: str, project_dir: Path) -> Path | None:
    """The folder a top-level package ``top`` is imported from, when it is source beside the project
    (not the project itself, not an installed release); None otherwise."""
    import importlib.util

    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    places = [spec.origin] if spec.has_location and spec.origin else list(spec.submodule_search_locations or ())
    for place in places:
        path = Path(place)
        base = (path.parent.parent if path.name == "__init__.py" else path.parent).resolve()
        if base != project_dir and not _installed(base, project_dir):
            return base
    return None


def _installed(folder: Path, project_dir: Path) -> bool:
    """An installed-packages folder (site-packages, or `pip install --target`: it holds
    ``*.dist-info``), a virtual environment in the project (.venv), or Python's own."""
    import sysconfig

    if any(p in ("site-packages", "dist-packages") for p in folder.parts):
        return True
    try:
        if any(name.endswith(".dist-info") for name in os.listdir(folder)):
            return True
    except OSError:
        return True
    if inside(folder, project_dir):
        return any(p.startswith(".") for p in folder.relative_to(project_dir).parts)
    prefixes = {sys.prefix, sys.base_prefix, sys.exec_prefix, sysconfig.get_paths()["stdlib"]}
    return any(inside(folder, Path(p)) for p in prefixes)


def inside(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
        return True
    except ValueError:
        return False
