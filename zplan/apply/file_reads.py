"""The project files a step's code reads without declaring them, noted in its worker as it runs.

A step may open a file of the project by a path in its code or params (a config, a lookup table,
a folder of images it globs) instead of declaring it as an input. Its result then depends on that
file, which its cache key does not hold. While the step's code runs (its module's import included),
the worker notes every file of the project opened for reading and every folder listed, through
Python's audit events (``open``, ``os.listdir``, ``os.scandir``); after it, the digest each had.
The plan reruns the step when one changed since (``zplan.plan.file_reads``).

What is not noted: files under ``.zplan/``, the artifact store and the interpreter's own folders,
declared inputs (their digests are already in the key), code (the fingerprint follows it), files
the step wrote, the names in a folder it added to, reads the import system makes and installed
packages' metadata (an editable install's ``*.egg-info`` in the project). Readers that open files
outside Python (Arrow's or Polars' own file systems, a subprocess) are not seen: such files must be
declared as inputs.
"""

from __future__ import annotations

import os
import sys

from zplan.hashing import hash_file, listing_digest, refused

STATE_DIR = ".zplan"  # zplan's own folder in the project (zplan.project.STATE_DIR: not imported in a step's worker)
_CODE_SUFFIXES = (".py", ".pyc", ".pyo", ".pyd", ".so", ".pth")
_WRITING = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
_STDLIB = os.path.dirname(os.__file__) + os.sep
_PACKAGES = "-packages" + os.sep  # site-packages, dist-packages: installed libraries
# (frozen modules of the import system only: os and codecs are frozen too, and os.walk, codecs.open read for the step)
_MACHINERY = (("<frozen importlib.", "<frozen zipimport>"), os.sep + "importlib" + os.sep, os.sep + "pkgutil.py", os.sep + "pkg_resources" + os.sep)
_METADATA = (os.sep + "importlib" + os.sep + "metadata" + os.sep, os.sep + "importlib_metadata" + os.sep)  # installed packages' metadata


class Watch:
    """What one step's code read of the project: files (by path) and folders listed (path + "/")."""

    def __init__(self, root: str) -> None:
        self.root = root.rstrip(os.sep) + os.sep
        self.own = self.root + STATE_DIR + os.sep  # (left out at once: a step's snapshots and logs are there)
        self.read: set[str] = set()
        self.written: set[str] = set()
        self.made: set[str] = set()  # files and folders the step added: the folders holding them are its own

    def note(self, event: str, args: tuple) -> None:
        target = args[0] if args else None
        if target is None and event != "open":  # os.listdir(), os.scandir(): the working folder
            target = "."
        if type(target) is str and ".." not in target and (
                target.startswith(os.sep) and (not target.startswith(self.root[:-1]) or target.startswith(self.own))
                or event == "open" and target.endswith(_CODE_SUFFIXES)):
            return  # (most of them: code, zplan's and the libraries' files, told apart without normalising)
        if not isinstance(target, (str, bytes, os.PathLike)):
            return  # a file descriptor: what it names was opened (and noted) before
        path = os.path.abspath(os.fsdecode(target))
        if not (path + os.sep).startswith(self.root) or path.startswith(self.own):
            return
        if event == "open":
            if path.endswith(_CODE_SUFFIXES) or f"{os.sep}__pycache__{os.sep}" in path or self._path_entry(path, sys._getframe(2)):
                return
            flags = args[2] if len(args) > 2 and isinstance(args[2], int) else 0
            writing = flags & _WRITING or _writes(args[1] if len(args) > 1 else None)
            (self.written if writing else self.read).add(path)
            if writing:
                self._made(path)
        elif event == "os.mkdir":
            self.written.add(path)
            self._made(path)
        elif self._step_listed(path, sys._getframe(2)):
            self.read.add(path + os.sep)

    def _made(self, path: str) -> None:
        """Note a file or folder the step makes (one there already, rewritten or made again, is not new)."""
        if not os.path.lexists(path):
            self.made.add(path)

    @staticmethod
    def _path_entry(path: str, frame) -> bool:
        """Whether ``path`` is opened as an entry of sys.path (a zip archive to import from, an editable
        install's hook), or by the import system."""
        return _from_machinery(frame) or path in _path_entries()

    def _step_listed(self, path: str, frame) -> bool:
        """Whether the step listed ``path`` (the frame: what called the listing), not the import system, nor
        a library scanning the folders on sys.path for plugins (entry points), the project's among them."""
        if _from_machinery(frame):
            return False
        if path not in _path_entries():
            return True
        while frame is not None and _standard(frame.f_code.co_filename):  # (pathlib's glob, os.walk: on whose behalf?)
            frame = frame.f_back
        name = frame.f_code.co_filename if frame is not None else ""
        return name.startswith(self.root) and _PACKAGES not in name  # (a library in a virtual environment inside the project is not)

    def recorded(self, left_out: list[str]) -> dict[str, str | None]:
        """Each path read (relative to the project) but for ``left_out`` (folders, files) -> its digest
        now (None: absent; a folder's: its names')."""
        root, candidates = self.root, self.read - self.written
        if not candidates:
            return {}
        # each path left out, and what is under it (a folder holding the project, as a prefix may, leaves nothing out)
        paths = {p for p in map(os.path.abspath, left_out) if p.startswith(root)}
        under = tuple(p + os.sep for p in paths)
        # a folder the step added to is its own (a log folder it lists for the next version_N to make): its
        # names follow from its runs, and the runs of every other step logging there would rerun it, in turn
        filled = {os.path.dirname(p) + os.sep for p in self.made}
        found: dict[str, str | None] = {}
        for path in sorted(candidates):
            if path.rstrip(os.sep) in paths or path.startswith(under) or path in filled:
                continue
            rel = path[len(root):].replace(os.sep, "/") or "./"
            if path.endswith(os.sep):
                found[rel] = listing_digest(path)
            elif os.path.isfile(path) or not os.path.lexists(path):  # (a FIFO or a device: never read here)
                found[rel] = _file_digest(path) if os.path.lexists(path) else None
        return found


def _file_digest(path: str) -> str:
    """A file's digest; for one this process may not read (the step tried, and handled the refusal), what the
    plan finds for it too (``zplan.plan.file_reads``), so that it reruns the step once it becomes readable."""
    try:
        return hash_file(path)
    except OSError as exc:
        return refused(exc)


def _writes(mode: object) -> bool:
    return isinstance(mode, str) and any(c in mode for c in "wax+")


def _path_entries() -> set[str]:
    return {os.path.abspath(entry or ".") for entry in sys.path}


def _standard(filename: str) -> bool:
    """Whether code of this file is Python's own (its standard library, frozen modules)."""
    return filename.startswith(("<", _STDLIB)) and _PACKAGES not in filename


def _from_machinery(frame) -> bool:
    """Whether a listing or an open comes from the import system or a plugin scan (they go through sys.path),
    or from reading an installed package's metadata through Python's own code (pathlib's read_text): a library
    imported in the step reads an editable install's *.egg-info in the project (its SOURCES.txt, rewritten
    by each install), and the step's result does not depend on it."""
    name = frame.f_code.co_filename if frame is not None else ""
    if name.startswith(_MACHINERY[0]) or any(part in name for part in _MACHINERY[1:]):
        return True
    while frame is not None:  # up through Python's own code only: the first other frame is who asked
        name = frame.f_code.co_filename
        if any(part in name for part in _METADATA):
            return True
        frame = frame.f_back if _standard(name) else None
    return False


_current: Watch | None = None
_hooked = False


def _hook(event: str, args: tuple) -> None:
    watch = _current
    if watch is not None and event in ("open", "os.listdir", "os.scandir", "os.mkdir"):
        watch.note(event, args)


class watching:
    """Note in ``watch`` (None: nowhere) what the code run inside reads of its project: the step's own
    code only (its import, its call), not zplan's work around it (inputs loaded, outputs stored).
    (A class, not a generator: entered twice for every step.)"""

    def __init__(self, watch: Watch | None) -> None:
        self.watch = watch

    def __enter__(self) -> None:
        global _current, _hooked
        if self.watch is not None:
            if not _hooked:  # (an audit hook stays for the process's life: it looks at one global first)
                sys.addaudithook(_hook)
                _hooked = True
            _current = self.watch

    def __exit__(self, *exc: object) -> None:
        global _current
        _current = None


def left_out(project_dir: str, store_root: str | None, declared: list[str]) -> list[str]:
    """What a step's reads leave out: zplan's folder, the store, the interpreter's folders, declared inputs."""
    return [os.path.join(project_dir, STATE_DIR), os.path.join(project_dir, ".git"), sys.prefix, sys.exec_prefix,
            sys.base_prefix, *([store_root] if store_root else []), *(os.path.join(project_dir, p) for p in declared)]
