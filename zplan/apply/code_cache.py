"""The compiled code of the project's source files, kept by a step worker for the whole apply.

A worker imports the project's own modules again for each step that uses them
(``zplan.apply.step_isolation``): fresh globals, and the code on disk. Compiling a module again each
time was the largest part of a small step's cost in its worker where Python writes no bytecode
(``PYTHONDONTWRITEBYTECODE`` or ``-B``, as container images often set), and finding and reading its
bytecode file the next largest where it does. Here each file's code is kept by its path and its bytes:
a step importing an unchanged module executes it again (a new module, new globals) from the code
compiled the first time; a file whose bytes changed is compiled again. Installed libraries (under the
interpreter's prefixes, in site-packages) are loaded as always: they stay loaded between steps.
"""

from __future__ import annotations

import sys
from importlib import machinery

from zplan.apply.forkserver_preload import preloaded_by_forkserver

_CODE: dict[tuple[str, bytes], object] = {}
_LIMIT = 2048  # files; a project imports far fewer (emptied, not evicted one by one, past it)
_INSTALLED_FOLDERS = ("site-packages", "dist-packages")
_INSTALLED = False


class CachingSourceLoader(machinery.SourceFileLoader):
    """``SourceFileLoader`` whose ``get_code`` returns the code compiled before from the same bytes."""

    def get_code(self, fullname: str):
        if _installed(self.path):
            return super().get_code(fullname)
        try:
            key = (self.path, self.get_data(self.path))
        except OSError:
            return super().get_code(fullname)  # (reports it as a plain import would)
        code = _CODE.get(key)
        if code is None:
            code = super().get_code(fullname)
            if len(_CODE) >= _LIMIT:
                _CODE.clear()
            _CODE[key] = code
        return code


def _installed(path: str) -> bool:
    return any(folder in path for folder in _INSTALLED_FOLDERS) or path.startswith(_PREFIXES)


_PREFIXES = tuple({p + "/" for p in (sys.prefix, sys.base_prefix, sys.exec_prefix) if p})  # the interpreter's folders


def install() -> None:
    """Source files found on ``sys.path`` load through ``CachingSourceLoader`` in this process from now on
    (once; the standard finder for folders is replaced by the same finder with this loader for ``.py``)."""
    global _INSTALLED
    if _INSTALLED:
        return
    _INSTALLED = True
    hook = machinery.FileFinder.path_hook(
        (machinery.ExtensionFileLoader, machinery.EXTENSION_SUFFIXES),  # the standard order: extensions first
        (CachingSourceLoader, machinery.SOURCE_SUFFIXES),
        (machinery.SourcelessFileLoader, machinery.BYTECODE_SUFFIXES),
    )
    standard = [i for i, h in enumerate(sys.path_hooks) if getattr(h, "__name__", "") == "path_hook_for_FileFinder"]
    if not standard:
        return  # (an interpreter without the standard finder: left as it is)
    sys.path_hooks[standard[-1]] = hook
    for entry, finder in list(sys.path_importer_cache.items()):  # folders met already get the new finder when next met
        if isinstance(finder, machinery.FileFinder):
            del sys.path_importer_cache[entry]


if preloaded_by_forkserver():  # the workers' forkserver: each worker it forks starts with the finders made for it
    install()
