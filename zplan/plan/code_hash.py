"""Fingerprints of step code, read statically (the step module is never imported by plan).

A step's code fingerprint covers its function's source normalised through the
AST (comments, docstrings and layout don't count) and, followed transitively,
every project-local definition it reaches: functions, classes (with all their
methods), module constants and the module-level code that builds them,
decorators, default values, through any import style (`from pkg import mod`,
relative imports, `import a.b`, aliases, `__init__.py` re-exports). Where a
use cannot be resolved statically (a module passed around as a value, a name
a module only makes at run time) the whole module it comes from is keyed.
The materializers registered by every project module the step imports, used
or not, are listed too (``materializers``): they may store its outputs.

The fingerprint keeps one digest per definition, so a plan can say which one
changed. Third-party code is not followed: the top-level names of the
libraries the code imports are kept, and their installed versions become part
of the key (``zplan.plan.libraries``).

Results are cached per function with the (size, mtime, ctime) of every file they read,
so a no-change plan stats files and parses nothing: the reading itself
(``zplan.plan.code_reach``) is imported only on a cache miss.
"""

from __future__ import annotations

import json
import os
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from zplan.fsutil import atomic_write_text
from zplan.hashing import changed_just_now

CACHE_VERSION = 28  # 3: signatures or declared sensitivity; 4: both; 5: read by code_reach; 6: Annotated outputs; 7: modules imported by name; 8: package __init__ code; 9: every import binding a name; 10: ctime in the stamps; 11: src layouts; 12: editable libraries; 13: what module-level code calls; 14: ArtifactConfig output names; 15: output_N of a tuple without names; 16: materializers registered by what it imports; 17: registered by calling the decorator on a class; 18: or under a module-level if, try or with; 19: by an alias of the decorator; 20: on a class it imports; 21: with the digest of its can_save; 22: libraries imported without use; 23: two modules registering for one type refused; 24: can_save followed into other modules; 25: registrations by a function its top-level code calls; 26: the methods of its class a can_save calls; 27: relative imports of a module's code outside the project; 28: the libraries' modules imported
WHOLE_MODULE = "*"  # part name for a module keyed as a whole
MODULE_CODE = "<module>"  # part name for module-level code that binds nothing (calls)
SCRIPT = "<script>"  # the "function" of a file run as a script (`python FILE`): all of it, and what it imports


@dataclass(frozen=True)
class CodeInfo:
    """A step function's fingerprint, and the files and definitions it was worked out from."""

    hash: str
    outputs: list[str] | None  # declared by @step(outputs=...) or a NamedTuple return annotation
    files: dict[str, list[int]] = field(default_factory=dict)  # relative path -> [size, mtime_ns]
    parts: dict[str, str] = field(default_factory=dict)  # "pkg/helpers.py:h" -> digest of that definition
    modules: list[str] = field(default_factory=list)  # top-level names of third-party modules it imports
    sensitive_outputs: bool | None = None  # @step(sensitive_outputs=...): None lets its inputs decide
    signature: dict | None = None  # the function's parameters (zplan.plan.signatures), None if unknowable
    materializers: dict[str, str] = field(default_factory=dict)  # name -> "TYPE in FILE": registered by the modules it imports
    imports: list[str] = field(default_factory=list)  # the libraries' modules it imports by name: its worker may import them early


class CodeError(Exception):
    """The step source cannot be used; ``summary``/``detail`` become a diagnostic."""

    def __init__(self, summary: str, detail: str = "") -> None:
        super().__init__(summary)
        self.summary, self.detail = summary, detail


def part_label(key: str) -> str:
    """`pkg/sub/helpers.py:h` -> `helpers.h in pkg/sub/helpers.py`, for a plan's reason."""
    rel, _, name = key.rpartition(":")
    if name == WHOLE_MODULE:
        return rel
    if name == MODULE_CODE:
        return f"module-level code in {rel}"
    path = Path(rel)
    module = path.parent.name if path.name == "__init__.py" else path.stem
    return f"{module}.{name} in {rel}" if module else f"{name} in {rel}"


def code_stamp(st: os.stat_result) -> list[int]:
    """What must not move for a file read earlier to be taken as unchanged: ctime too, which a
    program cannot set back (``touch -r`` or ``cp -p`` can put size and mtime back)."""
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns]


class CodeIndex:
    """Fingerprints step functions of one project, with a persistent stat-keyed cache."""

    def __init__(self, project_dir: Path, cache_file: Path | None = None) -> None:
        self.project_dir = project_dir.resolve()  # labels and cache keys are relative to it
        self._dir = str(self.project_dir)  # a plain string: every plan stats each step's files
        self.cache_file = cache_file
        self._reader = None  # a CodeReader, made on the first cache miss
        self._cache: dict[str, dict] = {}
        self._dirty = False
        self._checked: dict[str, CodeInfo] | None = None  # within checked_once(): key -> info checked in it
        self._watched: dict[str, list[int]] | None = None  # within watching(): the files of what was looked up
        self._racy: set[str] = set()  # keys whose files changed just before they were read: never saved
        if cache_file is not None and cache_file.exists():
            try:
                data = json.loads(cache_file.read_text())
                if data.get("version") == CACHE_VERSION:
                    self._cache = data["entries"]
            except (OSError, ValueError, KeyError):
                pass

    # -- public ------------------------------------------------------------------------------
    @contextmanager
    def checked_once(self) -> Iterator[None]:
        """Within it (one plan), each function's files are checked once: the 20,000 instances of a
        for_each step share one fingerprint, checked for the first and reused by the others.
        Outside it (re-planning a step as apply starts it) every call checks the files again."""
        outer, self._checked = self._checked, {} if self._checked is None else self._checked
        try:
            yield
        finally:
            self._checked = outer

    def info(self, source_file: str, function: str) -> CodeInfo:
        return self._lookup(f"{source_file}:{function}", source_file, function, False)

    def definition(self, source_file: str, name: str) -> CodeInfo:
        """The fingerprint of the top-level class (or function) ``name`` of ``source_file`` as code
        a step runs without calling it (a materializer class), or of the whole module for
        ``WHOLE_MODULE``; cached as a step function's."""
        return self._lookup(f"{source_file}::{name}", source_file, name, True)

    def _lookup(self, key: str, source_file: str, name: str, definition: bool) -> CodeInfo:
        info = self._checked.get(key) if self._checked is not None else None
        if info is None:
            info = self._info(key, source_file, name, definition)
            if self._checked is not None:
                self._checked[key] = info
        if self._watched is not None:
            self._watched.update(info.files)
        return info

    def _info(self, key: str, source_file: str, function: str, definition: bool) -> CodeInfo:
        cached = self._cache.get(key)
        try:
            if cached is not None and self._unchanged(cached["files"]):
                return CodeInfo(**cached)
        except (KeyError, TypeError, ValueError, AttributeError):
            pass  # a damaged cache entry: read the code again
        if self._reader is not None:
            self._reader.forget_changed()  # read earlier by this process, edited since
        info = self._compute(source_file, function, definition)
        self._cache[key] = info.__dict__.copy()
        self._dirty = True
        if any(changed_just_now(*sig[1:]) for sig in info.files.values()):  # (size, mtime, ctime)
            self._racy.add(key)  # trusted within this process, not saved for the next
        else:
            self._racy.discard(key)
        return info

    def module_file(self, module: str) -> str | None:
        """The file Python imports ``module`` from (relative to the project, ``../`` included), when it
        is source code of its own rather than an installed release: of a src layout or a library beside
        the project, found as a step's imports are (``code_reach``); None otherwise."""
        if self._reader is None:
            from zplan.plan.code_reach import CodeReader  # (only for a module outside the project's folder)

            self._reader = CodeReader(self.project_dir)
        found = self._reader.find_module(self.project_dir / "__init__.py", module, 0)
        return self._reader.rel(found) if found is not None and found.is_file() else None

    def save(self) -> None:
        if self._dirty and self.cache_file is not None:
            entries = {k: v for k, v in self._cache.items() if k not in self._racy} if self._racy else self._cache
            atomic_write_text(self.cache_file, json.dumps({"version": CACHE_VERSION, "entries": entries}), durable=False)
            self._dirty = False

    @contextmanager
    def watching(self) -> Iterator[dict[str, list[int]]]:
        """The files (with their stamps then) of every fingerprint looked up within it:
        ``changed`` later tells whether the code on disk is still the code fingerprinted."""
        outer, self._watched = self._watched, {}
        try:
            yield self._watched
        finally:
            self._watched = outer

    def changed(self, files: dict[str, list[int]]) -> list[str]:
        """Which of ``files`` (from ``watching``) no longer have the stamps they had."""
        return [rel for rel, sig in files.items() if not self._unchanged({rel: sig})]

    # -- internals ---------------------------------------------------------------------------
    def _unchanged(self, files: dict[str, list[int]]) -> bool:
        for rel, sig in files.items():
            try:
                st = os.stat(os.path.join(self._dir, rel))
            except OSError:
                return False
            if code_stamp(st) != sig:
                return False
        return True

    def _compute(self, source_file: str, function: str, definition: bool) -> CodeInfo:
        # Imported here: reading code (ast scopes) is needed only when a fingerprint is recomputed.
        from zplan.plan.code_reach import CodeReader

        if self._reader is None:
            self._reader = CodeReader(self.project_dir)
        if definition:
            return self._reader.compute_definition(source_file, function)
        return self._reader.compute(source_file, function)
