"""What one step leaves in its worker's interpreter, undone before the worker's next step.

Workers live for a whole apply: the libraries a step imports (pandas, scikit-learn) stay
loaded, which is what makes the next step in the same worker start fast. But a step's result
must not depend on which steps happened to run before it in the same worker, or a cache key
would not say everything that made it: environment variables it set, entries it put on
``sys.path``, and the globals of the project's own modules (a list one step appends to, a
setting another reads) are therefore put back. The project's modules are imported again by
the next step that uses them, from the files on disk, so a step also never runs code older
than what its re-plan fingerprinted; the materializers they registered are forgotten with them. The working folder is set by each task itself.
"""

from __future__ import annotations

import contextlib
import os
import sys
from typing import Iterator

_LIBRARY_FOLDERS = ("site-packages", "dist-packages")  # a virtualenv inside the project folder holds libraries
_SOURCE_SUFFIXES = (".py", ".pyc")  # compiled extension modules cannot be loaded twice: they stay


@contextlib.contextmanager
def step_interpreter_state(project_dir: str) -> Iterator[None]:
    env, path, modules = _environment(), list(sys.path), set(sys.modules)
    try:
        yield
    finally:
        if _environment() != env:
            _restore_environment(env)
        sys.path[:] = path
        dropped = {name for name in set(sys.modules) - modules if _project_module(name, sys.modules.get(name), project_dir)}
        for name in dropped:
            del sys.modules[name]
        if dropped:
            from zplan.artifacts.materializers import forget_modules

            forget_modules(dropped)  # a materializer the step's code registered would store the next step's outputs


def _environment() -> dict:
    """The environment as ``os.environ`` keeps it (encoded): copied and compared as a plain dict,
    ~2 us, where comparing ``os.environ`` itself decodes every entry (~50 us a step)."""
    data = getattr(os.environ, "_data", None)
    return dict(data) if isinstance(data, dict) else dict(os.environ)


def _restore_environment(saved: dict) -> None:
    data = getattr(os.environ, "_data", None)
    decode = (lambda k, v: (os.environ.decodekey(k), os.environ.decodevalue(v))) if isinstance(data, dict) else (lambda k, v: (k, v))
    os.environ.clear()
    os.environ.update(decode(k, v) for k, v in saved.items())


def _project_module(name: str, module, project_dir: str) -> bool:
    """A module imported by its name from a source file of the project (``steps.train`` from
    steps/train.py, ``mylib.core`` from src/mylib/core.py; not from a library folder in it). A library that loads a project file
    under a name of its own (TFX's ``user_module_0``) keeps its own account of it: left alone."""
    file = getattr(module, "__file__", None)
    root = project_dir.rstrip(os.sep) + os.sep
    if not isinstance(file, str) or not file.endswith(_SOURCE_SUFFIXES) or not file.startswith(root):
        return False
    if any(f"{os.sep}{folder}{os.sep}" in file for folder in _LIBRARY_FOLDERS):
        return False
    rel = os.path.splitext(file[len(root):])[0].replace(os.sep, "/")
    rel = rel[: -len("/__init__")] if rel.endswith("/__init__") else rel
    dotted = rel.replace("/", ".").lstrip(".")  # (a git module's checkout under .zplan: named without the dot)
    return dotted == name or dotted.endswith("." + name)  # (or imported from a folder of its own: src/mylib/core.py)
