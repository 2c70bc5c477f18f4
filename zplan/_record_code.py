"""Keeps the code ``dataclasses`` generates for zplan's record classes, as Python keeps bytecode.

On Python 3.11, defining a dataclass compiles each method it generates (``__init__``,
``__repr__``, ``__eq__``, a frozen class's ``__setattr__`` ...) from source text: about 300
compiles as a command imports zplan, ~15 ms of CPU on every command (7 % of a 2,000-step
no-change plan, more of a small one). What a compile gives depends only on that text and on the
Python, so the compiled code is kept in a file beside Python's own bytecode cache
(``zplan/__pycache__``: the same trust and the same rule, nothing written under
``PYTHONDONTWRITEBYTECODE``), one file per Python version and optimisation level.

Only text generated for classes of zplan's own modules (and its providers') is looked up:
text seen before runs its kept code, any other text (an edited class, a new Python, a user's
dataclass) is compiled as it always was. A missing, damaged or foreign file is ignored.

``prime()`` imports every zplan module and writes the file whatever ``PYTHONDONTWRITEBYTECODE``
says, as ``python -m compileall`` does for bytecode (the set-up script runs both).
"""

from __future__ import annotations

import dataclasses
import marshal
import os
import sys
from types import CodeType

_OURS = ("zplan.", "zplan_")  # module names whose dataclasses are kept
_PACKAGE = os.path.dirname(os.path.abspath(__file__))
_FILE = os.path.join(
    _PACKAGE,
    "__pycache__",
    f"dataclass-methods.{sys.implementation.cache_tag}.opt{sys.flags.optimize}.marshal",
)

# The file maps each module to its {source text: code}, marshalled apart: a command decodes
# only the modules it imports (a plan about half of them).
_blobs: dict[str, bytes] = {}  # module -> its kept codes, still marshalled
_codes: dict[str, dict[str, CodeType]] = {}  # module -> {source text: code}, decoded or compiled here
_used: set[str] = set()  # the texts this process ran
_changed: set[str] = set()  # modules given new code here: written back at exit


def install() -> None:
    """Route the generated methods' compiles through the kept code (once per process)."""
    if getattr(dataclasses, "exec", None) is _exec:
        return
    _blobs.update(_read())
    dataclasses.exec = _exec  # the module's own name shadows the builtin it calls


def _exec(source, globals=None, locals=None):
    module = globals.get("__name__") if type(source) is str and type(globals) is dict else None
    if type(module) is not str or not module.startswith(_OURS):
        return exec(source, globals, locals)
    codes = _codes.get(module)
    if codes is None:
        codes = _codes[module] = _decoded(_blobs.pop(module, None))
    code = codes.get(source)
    if type(code) is not CodeType:
        code = compile(source, "<string>", "exec", dont_inherit=True)  # what exec(source) compiles
        codes[source] = code
        _note_change(module)
    _used.add(source)
    return exec(code, globals, locals)


def _note_change(module: str) -> None:
    if not _changed:
        import atexit

        atexit.register(_write)
    _changed.add(module)


def _read() -> dict[str, bytes]:
    try:
        with open(_FILE, "rb") as f:
            found = marshal.loads(f.read())  # (marshal.load reads a file object in small pieces: 5x slower)
    except Exception:  # missing, truncated, from another marshal format
        return {}
    return found if type(found) is dict else {}


def _decoded(blob) -> dict[str, CodeType]:
    try:
        found = marshal.loads(blob) if type(blob) is bytes else {}
    except Exception:
        return {}
    return found if type(found) is dict else {}


def _write(asked: bool = False) -> None:
    if sys.dont_write_bytecode and not asked:
        return
    blobs = dict(_blobs)  # the modules this process did not import, as read
    for module, codes in _codes.items():
        if module in _changed:  # importing a module defines all its classes: what ran is all it has now
            codes = {text: code for text, code in codes.items() if text in _used}
        blobs[module] = marshal.dumps(codes)
    tmp = f"{_FILE}.{os.getpid()}.tmp"
    try:
        os.makedirs(os.path.dirname(_FILE), exist_ok=True)
        with open(tmp, "wb") as f:
            f.write(marshal.dumps(blobs))
        os.replace(tmp, _FILE)  # readers see the old file or the new one, never half
    except OSError:  # a read-only install: compile every time, as before
        try:
            os.unlink(tmp)
        except OSError:
            pass


def prime() -> None:
    """Import every zplan module (those whose optional libraries are missing are skipped), then write."""
    import importlib
    import pkgutil

    install()
    for module in pkgutil.walk_packages([_PACKAGE], "zplan."):
        if module.name.rsplit(".", 1)[-1] == "__main__":
            continue  # runs the command line
        try:
            importlib.import_module(module.name)
        except Exception:  # an optional library (tfx, kfp ...) not installed here
            pass
    _write(asked=True)
