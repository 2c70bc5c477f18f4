"""Which modules a step imports, those an earlier step of its worker loaded included.

A library that stays loaded in a worker from one step to the next (an installed release, or one beside the
project with compiled code) keeps the materializers it registered as it was imported. A later step that never
imports it must not store its outputs with them: in a new worker it would not have met them, and its cache
key does not name them. Importing a module already loaded runs nothing, so it registers nothing again: while a
step runs, every import it makes is noted (``import`` statements through ``__import__``, and
``importlib.import_module``), loaded or not, and so is what each module imports as its top-level code first
runs. A registration an earlier step made stores this step's outputs only when its module is among those this
step imports, directly or through what they import: as in a new worker. (An import that goes through neither,
as ``importlib.util`` loading a file, is not seen: a registration it made stays for that step's outputs only.)
"""

from __future__ import annotations

import builtins
import contextlib
import functools
import importlib
import importlib.util
import sys
from typing import Any, Iterable, Iterator

_edges: dict[str, set[str]] = {}  # module -> the modules its top-level code imported as it first ran (in a step)
_imported: set[str] = set()  # the modules the running step imported


@contextlib.contextmanager
def noted() -> Iterator[None]:
    """The running step's imports noted; ``__import__`` and ``import_module`` as they were after it (a step
    that replaces them does not change how the next one imports)."""
    _imported.clear()
    saved = builtins.__import__, importlib.import_module
    builtins.__import__, importlib.import_module = _noting_import(saved[0]), _noting_import_module(saved[1])
    try:
        yield
    finally:
        builtins.__import__, importlib.import_module = saved


def forget(modules: Iterable[str]) -> None:
    """Modules the worker unloaded: what they import is noted again when they next run."""
    for name in modules:
        _edges.pop(name, None)


def hidden_materializers(also: Iterable[str] = ()) -> set[str]:
    """The materializers registered in an earlier step by a module the running step does not import, nor
    the modules ``also`` (those of the materializers loading its inputs: a new worker imports them)."""
    from zplan.artifacts.materializers import from_earlier_steps

    earlier = from_earlier_steps()
    if not earlier:  # (the usual case: nothing to look up)
        return set()
    reached = _reached([*_imported, *(p for name in also for p in _with_parents(name))])
    return {name for name, module in earlier if module not in reached}


def _reached(roots: list[str]) -> set[str]:
    seen: set[str] = set()
    while roots:
        name = roots.pop()
        if name not in seen:
            seen.add(name)
            roots.extend(_edges.get(name, ()))
    return seen


def _noting_import(original):
    @functools.wraps(original)  # (named as the builtin: pickled by reference, as it is)
    def __import__(name, globals=None, locals=None, fromlist=(), level=0):  # noqa: A002 (the builtin's signature)
        module = original(name, globals, locals, fromlist, level)
        _note(name, globals, fromlist, level)
        return module

    return __import__


def _noting_import_module(original):
    @functools.wraps(original)
    def import_module(name, package=None):
        module = original(name, package)
        _note(name, sys._getframe(1).f_globals, None, 0, package)
        return module

    return import_module


_named: dict[tuple, list[str]] = {}  # (name, fromlist, level, package) -> the modules it imports: an import statement
#                                      runs again and again in a step (inside a function): ~1 us a time, not ~5


def _note(name: str, importer: dict[str, Any] | None, fromlist, level: int, package: str | None = None) -> None:
    """``name`` (and the submodules of ``fromlist``) imported by the module of the globals ``importer``: by
    the running step, and by that module's top-level code when it is running for the first time."""
    importer = importer if isinstance(importer, dict) else {}
    if level or name.startswith("."):
        package = package or importer.get("__package__") or getattr(importer.get("__spec__"), "parent", None)
    try:
        key = (name, fromlist if fromlist is None or type(fromlist) is tuple else tuple(fromlist), level, package)
        names = _named.get(key)
    except TypeError:  # (something unhashable in a hand-made call)
        return
    if names is None:
        names = _named[key] = _modules_named(*key)
    _imported.update(names)
    if getattr(importer.get("__spec__"), "_initializing", False) and isinstance(owner := importer.get("__name__"), str):
        _edges.setdefault(owner, set()).update(names)


def _modules_named(name: str, fromlist, level: int, package: str | None) -> list[str]:
    try:
        if level or name.startswith("."):
            name = importlib.util.resolve_name("." * level + name, package)
    except (ImportError, ValueError, TypeError, AttributeError):
        return []
    names = _with_parents(name)
    return names + [f"{name}.{item}" for item in fromlist or () if isinstance(item, str) and f"{name}.{item}" in sys.modules]


def _with_parents(name: str) -> list[str]:
    """``a.b.c`` and the packages it runs first: ``a``, ``a.b``."""
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts) + 1)]
