"""What a plan read of the file system, recorded while it runs and looked at again later.

A plan is a function of what it reads: the configuration, the state, zplan's caches, the step
code, the data inputs and the artifact store, all files. ``Trace`` records each path the plan
stats, lists, reads a link of or opens, with what it found (a file's stamps, a folder's names).
``unchanged`` looks at each again: when every one is as recorded, the same plan would come out
(``zplan.plan.memo``). Stamps are (mode, inode, device, size, mtime, ctime), as the stat cache
trusts them; ctime cannot be set back by a program.

What the trace cannot see makes it *tainted* (never reused): a write of any kind (a plan that
writes has not settled), a path stamped within a clock tick of the trace (``hashing.RACY_NS``: a
second write could keep its stamps), a file whose contents do not follow its stamps (/proc, /dev),
two looks at one path that disagree, and every audit event outside ``_QUIET`` (the network, a
subprocess, a database opened by C code, a prompt). Python code reaches the file system through
``os.stat``/``os.lstat``/``os.scandir``/``os.listdir``/``os.readlink``/``os.access`` (patched
while a trace runs; ``os.path``, ``pathlib``, ``glob`` and ``os.walk`` call them) and ``open``
(an audit event, also for C code using Python's files).
"""

from __future__ import annotations

import genericpath
import os
import pathlib
import posixpath
import stat
import sys
import time
from typing import Any, Callable

from zplan.hashing import RACY_NS

Look = tuple[str, str]  # (kind, path): "s" stat, "l" lstat ("S", "L": the kind of file only), "d" listdir, "e" scandir, "r" readlink, "a<mode>" access
_WRITING = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
_UNSTAMPED = ("/proc/", "/dev/", "/sys/")  # contents that change without their stamps
# Audit events a plan raises that touch nothing outside the process ("open", listings: recorded)
_QUIET = frozenset({"open", "os.listdir", "os.scandir", "os.walk", "builtins.id", "exec", "import", "compile", "marshal.loads", "marshal.load",
                    "marshal.dumps", "object.__getattr__", "object.__setattr__", "object.__delattr__", "pickle.find_class",
                    "pathlib.Path.glob", "pathlib.Path.rglob", "glob.glob", "glob.glob/2", "code.__new__", "function.__new__",
                    "sys._getframe", "sys._getframemodulename", "array.__new__", "re.compile", "cpython._PySys_ClearAuditHooks"})

_current: "Trace | None" = None
_hooked = False


class Trace:
    """Record what the file system answered while the ``with`` block runs (one at a time per process)."""

    def __init__(self) -> None:
        self.seen: dict[Look, Any] = {}
        self.tainted: str | None = None  # why what was read cannot be looked at again cheaply
        self._saved: dict[str, Callable] = {}
        self._dirs: dict[int, str] = {}  # a folder's descriptor -> its path (``os.stat(name, dir_fd=fd)``)
        self._settled = 0

    def taint(self, why: str) -> None:
        if self.tainted is None:
            self.tainted = why

    def __enter__(self) -> "Trace":
        global _current, _hooked
        if _current is not None:  # (an inner trace would put back the functions the outer one patched)
            raise RuntimeError("a trace is already running")
        if not _hooked:  # an audit hook stays for the life of the process: one, reading ``_current``
            sys.addaudithook(_audit)
            _hooked = True
        self._settled = time.time_ns() - RACY_NS  # a stamp after this may be followed by a write keeping it
        self._saved = {name: getattr(os, name) for name in ("stat", "lstat", "scandir", "listdir", "readlink", "access")}
        os.stat, os.lstat, os.scandir, os.listdir = self._stat, self._lstat, self._scandir, self._listdir
        os.readlink, os.access = self._readlink, self._access
        _current = self
        return self

    def __exit__(self, *exc) -> None:
        global _current
        _current = None
        for name, real in self._saved.items():
            setattr(os, name, real)

    # -- recording -----------------------------------------------------------------------------
    def note(self, look: Look, found: Any) -> None:
        before = self.seen.setdefault(look, found)
        if before is not found and before != found:
            self.taint(f"{look[1]} changed while the plan read it")

    def _path(self, path: Any, dir_fd: int | None) -> str | None:
        if isinstance(path, int):
            return None  # a descriptor: what it names was opened, and recorded, before
        path = os.fsdecode(path)
        if dir_fd is not None:
            folder = self._dirs.get(dir_fd)
            if folder is None:
                try:
                    folder = self._dirs[dir_fd] = self._saved["readlink"](f"/proc/self/fd/{dir_fd}")
                except OSError:  # (no /proc: the folder's path is unknown)
                    self.taint("a path relative to a folder descriptor")
                    return None
            path = os.path.join(folder, path)
        if path.startswith(_UNSTAMPED):
            self.taint(f"{path} is not a file with stamps")
        return path

    def _stat(self, path, *, dir_fd=None, follow_symlinks=True):
        return self._stat_as("s" if follow_symlinks else "l", path, dir_fd, follow_symlinks)

    def _lstat(self, path, *, dir_fd=None):
        return self._stat_as("l", path, dir_fd, False)

    def _stat_as(self, kind: str, path, dir_fd, follow: bool):
        where = self._path(path, dir_fd)
        if where is not None and _wants_type_only(sys._getframe(2)):
            kind = kind.upper()
        try:
            st = self._saved["stat"](path, dir_fd=dir_fd, follow_symlinks=follow)
        except OSError as exc:
            if where is not None:
                self.note((kind, where), ("E", exc.errno))
            raise
        if where is not None:
            self.note((kind, where), stat.S_IFMT(st.st_mode) if kind.isupper() else self.stamps(st))
        return st

    def stamps(self, st: os.stat_result) -> tuple:
        # (against the trace's start, not each look's time: stricter, and one clock read for thousands of looks)
        if st.st_ctime_ns > self._settled or st.st_mtime_ns > self._settled:
            self.taint("a file changed just now")
        return (st.st_mode, st.st_ino, st.st_dev, st.st_size, st.st_mtime_ns, st.st_ctime_ns)

    def _listed(self, path) -> str | None:
        where = self._path(path, None)
        if where is None:
            self.taint("a folder listed by its descriptor")
        return where

    def _listdir(self, path="."):
        where = self._listed(path)
        names = self._saved["listdir"](path)
        if where is not None:
            self.note(("d", where), tuple(names))
        return names

    def _scandir(self, path="."):
        where = self._listed(path)
        with self._saved["scandir"](path) as it:
            entries = list(it)
        if where is not None:
            self.note(("e", where), listing(entries))
        return _Entries([_Entry(e, self) for e in entries])

    def _readlink(self, path, *, dir_fd=None):
        where = self._path(path, dir_fd)
        try:
            target = self._saved["readlink"](path, dir_fd=dir_fd)
        except OSError as exc:
            if where is not None:
                self.note(("r", where), ("E", exc.errno))
            raise
        if where is not None:
            self.note(("r", where), os.fsdecode(target))
        return target

    def _access(self, path, mode, *, dir_fd=None, effective_ids=False, follow_symlinks=True):
        where = self._path(path, dir_fd)
        allowed = self._saved["access"](path, mode, dir_fd=dir_fd, effective_ids=effective_ids, follow_symlinks=follow_symlinks)
        if where is not None and not effective_ids and follow_symlinks:
            self.note((f"a{mode}", where), allowed)
        elif where is not None:
            self.taint(f"{where}: access with options")
        return allowed

    def opened(self, path, mode, flags) -> None:
        where = self._path(path, None)
        if where is None:
            return
        writes = any(c in mode for c in "wax+") if isinstance(mode, str) else bool(isinstance(flags, int) and flags & _WRITING)
        if writes:
            self.taint(f"wrote {where}")
            return
        try:
            st = self._saved["stat"](where)
        except OSError as exc:
            self.note(("s", where), ("E", exc.errno))
            return
        if stat.S_ISDIR(st.st_mode):  # a folder is opened to look into it by name (each look recorded)
            self.note(("S", where), stat.S_IFDIR)
        else:  # a file's contents follow its stamps
            self.note(("s", where), self.stamps(st))


def _type_only_callers() -> frozenset:
    """Functions that read nothing of a stat but the kind of file (or that there is one): a folder on
    the way to the project is looked at by kind alone, its stamps move as anything in it changes
    (``Path.resolve`` stats the path it made only to find a loop of links)."""
    functions = (genericpath.exists, genericpath.isfile, genericpath.isdir, posixpath.islink, posixpath.lexists,
                 getattr(posixpath, "_joinrealpath", posixpath.realpath), pathlib.Path.exists, pathlib.Path.is_dir,
                 pathlib.Path.is_file, pathlib.Path.is_symlink, pathlib.Path.resolve)
    return frozenset(f.__code__ for f in functions)


_TYPE_ONLY = _type_only_callers()
_PATH_STAT = (pathlib.Path.stat.__code__, pathlib.Path.lstat.__code__)


def _wants_type_only(frame) -> bool:
    """Whether the stat was asked by one of ``_TYPE_ONLY`` (directly, or through ``Path.stat``/``Path.lstat``)."""
    while frame is not None and frame.f_code in _PATH_STAT:
        frame = frame.f_back
    return frame is not None and frame.f_code in _TYPE_ONLY


def stamps(st: os.stat_result) -> tuple:
    return (st.st_mode, st.st_ino, st.st_dev, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def listing(entries) -> tuple:
    """A folder's entries as a plan may read them without a stat: names, inodes and types, in order."""
    return tuple((e.name, e.inode(), e.is_symlink(), e.is_dir(follow_symlinks=False)) for e in entries)


def look_again(kind: str, path: str) -> Any:
    """What the file system answers now to one recorded look (as ``Trace`` recorded it)."""
    try:
        if kind == "s" or kind == "l":
            return stamps(os.stat(path, follow_symlinks=kind == "s"))
        if kind == "S" or kind == "L":
            return stat.S_IFMT(os.stat(path, follow_symlinks=kind == "S").st_mode)
        if kind == "d":
            return tuple(os.listdir(path))
        if kind == "e":
            with os.scandir(path) as it:
                return listing(list(it))
        if kind == "r":
            return os.fsdecode(os.readlink(path))
        return os.access(path, int(kind[1:]))
    except OSError as exc:
        return ("E", exc.errno)


def unchanged(seen: list[tuple[str, str, Any]]) -> bool:
    """Whether every recorded look finds what it found then (stamps of the same age are trusted: see ``Trace``)."""
    stat_ = os.stat
    for kind, path, found in seen:
        if kind == "s":  # (most of them, by far: the data inputs, the artifacts, the code: inlined)
            try:
                st = stat_(path)
            except OSError as exc:
                now: Any = ("E", exc.errno)
            else:
                now = (st.st_mode, st.st_ino, st.st_dev, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
        else:
            now = look_again(kind, path)
        if now != found:
            return False
    return True


def _audit(event: str, args: tuple) -> None:
    trace = _current
    if trace is None or event in ("os.listdir", "os.scandir"):  # (listings are recorded by the patched functions)
        return
    if event == "open":
        trace.opened(*args)
    elif event not in _QUIET:
        trace.taint(f"audit event {event}")


class _Entries:
    """``os.scandir``'s result: an iterator, also used as a context manager."""

    def __init__(self, entries: list) -> None:
        self._it = iter(entries)

    def __iter__(self):
        return self

    def __next__(self):
        return next(self._it)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        pass

    def close(self) -> None:
        pass


class _Entry:
    """An ``os.DirEntry`` whose ``stat`` (and ``is_dir``/``is_file`` through a link) is recorded."""

    __slots__ = ("_e", "_t", "name", "path")

    def __init__(self, entry: os.DirEntry, trace: Trace) -> None:
        self._e, self._t, self.name, self.path = entry, trace, entry.name, entry.path

    def __fspath__(self) -> str:
        return self.path

    def __repr__(self) -> str:
        return f"<DirEntry {self.name!r}>"

    def inode(self) -> int:
        return self._e.inode()

    def is_symlink(self) -> bool:
        return self._e.is_symlink()

    def is_dir(self, *, follow_symlinks: bool = True) -> bool:
        if follow_symlinks and self._e.is_symlink():
            self.stat()
        return self._e.is_dir(follow_symlinks=follow_symlinks)

    def is_file(self, *, follow_symlinks: bool = True) -> bool:
        if follow_symlinks and self._e.is_symlink():
            self.stat()
        return self._e.is_file(follow_symlinks=follow_symlinks)

    def stat(self, *, follow_symlinks: bool = True) -> os.stat_result:
        kind = "s" if follow_symlinks or not self._e.is_symlink() else "l"
        try:
            st = self._e.stat(follow_symlinks=follow_symlinks)
        except OSError as exc:
            self._t.note((kind, self.path), ("E", exc.errno))
            raise
        self._t.note((kind, self.path), self._t.stamps(st))
        return st
