"""Content hashing for artifacts, data snapshots and cache keys.

xxh3-128 is used everywhere: it runs near memory speed (several GB/s per core),
so hashing new data stays close to the disk's read throughput. The hashes name
content inside a store the team already trusts; they are not a defence against
a forger, so a cryptographic hash would only cost speed.

Large external inputs are fingerprinted through a stat cache: a file whose
(inode, size, mtime_ns, ctime_ns) did not change keeps its recorded hash and is not read.
"""

from __future__ import annotations

import errno
import json
import mmap
import os
import stat
import time
from pathlib import Path
from typing import Any, Callable, Iterable

import xxhash

CHUNK = 4 * 1024 * 1024
ALGORITHM = "xxh3_128"


def hash_bytes(data: bytes) -> str:
    return xxhash.xxh3_128_hexdigest(data)


def hash_text(text: str) -> str:
    return hash_bytes(text.encode())


def canonical_json(value: Any) -> str:
    """The one serialization that feeds both recorded state and cache keys."""
    if _encode is None:  # a Python without json's C accelerator
        return _CANONICAL.encode(value)
    return "".join(_encode(value, 0))


def _json_default(value: Any) -> Any:
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"value of type {type(value).__name__} cannot be part of a fingerprint")


# What json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_json_default)
# builds on every call, made once: a plan encodes a cache key per step.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_json_default)
# The C encoder ``_CANONICAL.encode`` makes on every call, made once and without its check for
# circular containers (a dict of the markers of those being encoded): fingerprints are built from
# configuration and JSON values, which hold none. Same text; ~1.3 us less of every step's plan.
_encode = None if json.encoder.c_make_encoder is None else json.encoder.c_make_encoder(
    None, _json_default, json.encoder.encode_basestring, None, ":", ",", True, False, True)


def hash_value(value: Any) -> str:
    return hash_text(canonical_json(value))


def hash_file(path: str | os.PathLike[str]) -> str:
    h = xxhash.xxh3_128()
    with open(path, "rb", buffering=0) as f:
        size = os.fstat(f.fileno()).st_size
        if size <= CHUNK:  # small files (most artifacts): one read, no 4 MiB buffer to allocate
            return xxhash.xxh3_128_hexdigest(f.read())
        # A page-aligned buffer (an anonymous mapping): the kernel copied the page cache into a
        # bytearray's (16 bytes past a page boundary, malloc's header) 5x slower here, 0.6 s a GiB.
        with mmap.mmap(-1, CHUNK) as buf, memoryview(buf) as view:
            while n := f.readinto(buf):
                h.update(view[:n])
    return h.hexdigest()


def refused(exc: OSError) -> str:
    """What stands for the digest of a file this process may not read: the same for the worker that
    recorded it and the plan checking it, while it stays so (``zplan.plan.file_reads``)."""
    return f"unreadable: {exc.strerror}"


def listing_digest(path: str) -> str | None:
    """The digest of a folder's names (None: no such folder): what a step that listed it saw."""
    try:
        names = os.listdir(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:  # (one this process may not list: as the step found it, until it may)
        return f"unlistable: {exc.strerror}"
    return hash_value(sorted(map(as_text, names)))


def as_text(name: str) -> str:
    """A file name as text can hold it (JSON, ML Metadata, a terminal): one that is not UTF-8 (a file from
    a zip made elsewhere) with those bytes escaped (\\xe9)."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def iter_tree(root: Path) -> Iterable[Path]:
    """Files below ``root`` in a stable order (relative paths sorted)."""
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            yield Path(dirpath, name)


def combine(entries: Iterable[tuple[str, str]]) -> str:
    """Hash of a list of (relative name, content hash) pairs."""
    h = xxhash.xxh3_128()
    for name, digest in entries:
        h.update(name.encode())
        h.update(b"\0")
        h.update(digest.encode())
        h.update(b"\n")
    return h.hexdigest()


def hash_tree(root: str | os.PathLike[str]) -> str:
    """Content hash of a file or of a folder (names and bytes, not timestamps)."""
    root = Path(root)
    if root.is_file():
        return hash_file(root)
    return combine((p.relative_to(root).as_posix(), hash_file(p)) for p in iter_tree(root))


class NotHashable(Exception):
    """A path inside a data input that is no file to hash: a symbolic link that leads nowhere,
    or a FIFO, socket or device (reading one may block for ever or never end)."""

    def __init__(self, path: str, what: str) -> None:
        super().__init__(f"{path}: {what}")
        self.path, self.what = path, what


def file_stat(path: str) -> os.stat_result:
    """``os.stat`` of a file about to be hashed (a link to a file is followed); ``NotHashable``
    for anything that is not a regular file. The stat a hash needs anyway: no extra call."""
    try:
        st = os.stat(path)
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.ELOOP) and os.path.islink(path):  # only on this error
            lead = "which does not exist" if exc.errno == errno.ENOENT else "which leads back to it (a loop of links)"
            raise NotHashable(path, f"a symbolic link to {os.readlink(path)}, {lead}") from None
        raise
    if not stat.S_ISREG(st.st_mode):
        raise NotHashable(path, kind(st.st_mode))
    return st


def kind(mode: int) -> str:
    """What a non-regular file is, for a message."""
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO), not a file"
    if stat.S_ISSOCK(mode):
        return "a socket, not a file"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device, not a file"
    return "not a regular file"


def full_signature(st: os.stat_result) -> tuple[int, int, int, int]:
    """(inode, size, mtime, ctime): any write, replacement or ``utime`` since moves it
    (ctime cannot be set back by a program, unlike mtime)."""
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


# A file changed this recently may change again within the same timestamp: Linux stamps file
# times from a clock that moves once a tick (1-10 ms). (Coarser file systems, FAT's 2 s, are not covered.)
RACY_NS = 20_000_000
# The stat cache's file is named by its entries' shape, which an older zplan reading it would
# misread (stat.json held [inode, size, mtime, digest]; the digest is now fifth): each reads its own.
STAT_CACHE_FILE = "stat-v2.json"


def changed_just_now(*stamps_ns: int) -> bool:
    """Whether a file whose latest stamps (mtime, ctime) are these changed within ``RACY_NS``: a
    second write of the same size may then still keep every stamp, so what was read of it is not
    kept for a later process (the stat cache here, the code index's fingerprints)."""
    return time.time_ns() - max(stamps_ns) < RACY_NS


class StatCache:
    """Maps a path's (inode, size, mtime_ns, ctime_ns) to its content hash, persisted as JSON.

    ctime counts because a program can set mtime back (``cp -p``, ``tar``, ``touch -r``) but
    not ctime. A file changed within ``RACY_NS`` of being hashed is not recorded: file systems
    stamp times at a clock tick, so a second write of the same size within the tick would keep
    every stamp (git's "racily clean" entries).
    Only the parent process reads and writes it; ``save`` writes atomically.
    """

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._entries: dict[str, list] = {}
        self._hashed_here: dict[str, tuple[int, int, int, int]] = {}  # path -> full_signature when read
        self._racy: set[str] = set()  # paths changed just before they were hashed: never saved
        self._dirty = False
        # Set by an apply (``zplan.artifacts.early_clones``): a file read to be hashed is copied into the
        # store first (a clone, or the bytes as they are hashed); its snapshot is that copy, already in memory.
        self.clone_first: Callable[[str, os.stat_result], tuple[str, str] | None] | None = None
        self._clones: dict[str, str] = {}  # path -> its copy, holding the bytes of its digest here
        if path is not None and path.exists():
            try:
                self._entries = json.loads(path.read_text())
            except (OSError, ValueError):
                self._entries = {}  # a damaged cache only costs a rehash

    def file_hash(self, path: Path | str, st: os.stat_result | None = None, clone: bool = False) -> str:
        """``clone``: the file is about to be snapshotted (see ``clone_first``)."""
        key = os.fspath(path)
        if st is None:
            st = file_stat(key)
        elif not stat.S_ISREG(st.st_mode):  # never opened: a FIFO would block the read for ever
            raise NotHashable(key, kind(st.st_mode))
        sig = [st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns]
        entry = self._entries.get(key)
        if entry is not None and entry[:4] == sig:
            return entry[4]
        made = self.clone_first(key, st) if clone and self.clone_first is not None else None
        if made is not None:
            self._clones[key], digest = made
        else:
            self._clones.pop(key, None)  # (one made for an earlier version of the file)
            digest = hash_file(key)
        self._hashed_here[key] = full_signature(st)
        self._entries[key] = sig + [digest]
        self._dirty = True
        if changed_just_now(st.st_mtime_ns, st.st_ctime_ns):
            self._racy.add(key)  # trusted by this process, not recorded for the next
        else:
            self._racy.discard(key)
        return digest

    def hashed_as(self, path: Path | str) -> tuple[int, int, int, int] | None:
        """The ``full_signature`` of ``path`` when this cache last read it to hash it in this
        process; None when its digest came from an earlier process's record."""
        return self._hashed_here.get(os.fspath(path))

    def clone_of(self, path: Path | str) -> str | None:
        """The copy of ``path`` (``clone_first``'s) that was hashed in its place (the bytes of the digest
        this cache gives for it, whatever the file holds now), if one was made and not yet taken."""
        return self._clones.get(os.fspath(path))

    def tree_hash(self, root: Path | str, st: os.stat_result | None = None, clone: bool = False) -> str:
        """Like ``hash_tree`` but reads only files whose stat signature changed
        (``st``: the caller's fresh ``os.stat`` of ``root``, saving a second one). Links to files
        are followed, links to folders are not (as ``iter_tree``); ``NotHashable`` names a link
        to nothing or a FIFO, socket or device inside it. ``clone``: see ``file_hash``."""
        if st is None:
            try:
                st = os.stat(root)
            except OSError:
                st = None
        if st is not None and stat.S_ISREG(st.st_mode):
            return self.file_hash(root, st, clone)
        # Plain strings, not Path objects: a folder of 20,000 files is walked on every plan.
        base = os.fspath(root)
        cut = len(base.rstrip(os.sep)) + 1
        entries = []
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames.sort()
            for name in sorted(filenames):
                full = os.path.join(dirpath, name)
                entries.append((full[cut:].replace(os.sep, "/"), self.file_hash(full, None, clone)))
        return combine(entries)

    def save(self) -> None:
        if not self._dirty or self.path is None:
            return
        from zplan.fsutil import atomic_write_text

        entries = {k: v for k, v in self._entries.items() if k not in self._racy} if self._racy else self._entries
        atomic_write_text(self.path, json.dumps(entries, separators=(",", ":")), durable=False)
        self._dirty = False
