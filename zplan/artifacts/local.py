"""A local artifact store: a folder on this machine (or a mounted share).

Commits are one ``os.rename`` of a fully written temp folder, so an artifact is
either complete or absent. Stored files are read-only and never modified in
place by the store. Files are stored as copies of their own, never hard links:
big ones as copy-on-write clones (reflinks) where the file system has them,
else copied by the kernel, so a source edited in place later cannot change
what was stored.

A step's outputs are built in the store's own temp area (``staging``) and moved into
place (``put_owned``): hashed once where they lie, never copied.

Durability. A plain ``put`` syncs each file before the rename that publishes it.
``put(sync_later=True)`` (an apply's data snapshots) renames first and syncs the
files and the folders naming them on a background thread, overlapping the step
that reads them; ``put_owned(sync=False)`` (a step's outputs, in its worker)
renames without syncing and the apply queues the files on the same thread
(``sync_stored``) when the step's result arrives. The apply calls ``wait_synced``
before it writes state (step records, cache entries) or ML Metadata, so no record
ever names an artifact that is not on disk; a downstream step may read it sooner. A process
crash cannot leave a half-written artifact either way: the rename comes after the
last byte was copied, and the page cache survives the process. A power loss after
the rename but before the sync can leave a published snapshot with missing bytes
that nothing refers to; its sizes and mtimes (or, on any later read, its hash)
no longer match, so it is found damaged and stored again. Git does not sync loose
objects by default (``core.fsync``) and DVC does not sync its cache; zplan keeps the
sync because state and lineage name these artifacts, but takes it off the step's path.
One ``syncfs`` of the whole file system per state write was the other candidate:
cheaper per file, but it also waits for every other program's unwritten data on
that file system, a cost zplan does not control.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping

from zplan.artifacts.base import (
    _DIGEST,
    _READ_ONLY,
    DAMAGED,
    INTACT,
    MISSING,
    ArtifactNotFound,
    ArtifactStore,
    ArtifactStoreError,
    SourceFile,
    StoredArtifact,
    _place,
    _stream,
    check_digest,
    manifest,
    tree_digest,
)
from zplan.artifacts.file_copy import FICLONE, copy_big, out_of_memory, sealed  # noqa: F401 (FICLONE: tests)
from zplan.artifacts.temp_area import TempArea
from zplan.fsutil import BackgroundSync, OpenFolder, atomic_write_text, fsync_path
from zplan.hashing import NotHashable, StatCache, canonical_json, combine, file_stat, full_signature, hash_file, iter_tree

CLONE_MIN_BYTES = 1024 * 1024  # smaller files are copied: as cheap, and one less system call to fail
# Below both, an artifact keeps no manifest file: rehashing it (~0.1 ms) costs about as much as
# creating that file on a fast disk, less on a virtual one (0.02-0.9 ms measured on one), and a
# store of many small artifacts holds half the files.
MANIFEST_MIN_BYTES = 256 * 1024
MANIFEST_MIN_FILES = 8
SMALL_STAMPS_KEPT = 100_000  # (~30 MB at most) the stamps of small artifacts kept in memory per process
WRITEBACK_CHUNK = 64 * 1024 * 1024  # a big copy's writeback starts after each chunk


class LocalArtifactStore(ArtifactStore):
    """A folder on this machine (or a mounted share).

    Beside each artifact folder ``<h>/`` sits ``<h>.json``: its files, sizes and
    mtimes. ``get`` compares mtimes and sizes (cheap) and rehashes only on a
    difference; ``get(verify=True)`` and ``check`` always rehash, which also
    catches a flipped byte whose mtime was put back. A small artifact (a few files,
    ``MANIFEST_MIN_BYTES`` in all) has no manifest file: the process that stored or
    checked it keeps its stamps in memory, any other rehashes it on its first ``get``,
    which costs less than the file the manifest would be.
    """

    def __init__(self, url: str, root: Path, options: Mapping[str, Any] | None = None) -> None:
        if options:
            raise ArtifactStoreError(
                f"artifact store {url!r} takes no options", "options apply to s3:// and gs:// stores"
            )
        self.url = url
        self.root = Path(os.path.abspath(root))
        self._root = str(self.root)  # plain strings for the per-step existence test on every plan
        self.temp = TempArea(self.root / ".tmp")
        self._syncs: BackgroundSync | None = None  # puts with sync_later, made durable on a thread
        self._written: set[str] = set()  # digests this process stored (and so checked) itself
        self._small: dict[str, dict[str, Any]] = {}  # the stamps of small artifacts (no manifest file) this process saw
        self._paths: dict[str, Path] = {}  # digest -> its folder
        self._root_uri = self.root.as_uri()  # quoted once

    def path(self, digest: str) -> Path:
        found = self._paths.get(digest)  # (a step's worker asks for the same few ten times: each Path parsed anew)
        if found is None:
            if len(self._paths) >= 4096:
                self._paths.clear()
            found = self._paths[digest] = self.root / digest[:2] / digest
        return found

    def uri(self, digest: str) -> str:
        return f"{self._root_uri}/{digest[:2]}/{check_digest(digest)}"  # (hex: nothing in it to quote)

    def get(self, digest: str, verify: bool = False) -> Path:
        path = self.path(check_digest(digest))
        if not path.is_dir():
            raise ArtifactNotFound(f"artifact {digest} is not in {self.url}")
        if not self._intact(digest, full=verify):
            raise self.damaged(digest, "a stored file was changed, truncated or removed")
        return path

    def check(self, digest: str) -> str:
        if not self.path(check_digest(digest)).is_dir():
            return MISSING
        return INTACT if self._intact(digest, full=True) else DAMAGED

    def delete(self, digest: str) -> None:
        path = self.path(check_digest(digest))
        with self.temp.folder() as trash:
            with contextlib.suppress(FileNotFoundError):
                os.rename(path, trash / "gone")  # vanishes at once, removed at leisure
        self._manifest_path(digest).unlink(missing_ok=True)
        self._small.pop(digest, None)

    def listing(self) -> list[StoredArtifact]:
        found = []
        for prefix in sorted(self.root.glob("??")):
            for folder in sorted(prefix.iterdir()) if prefix.is_dir() else ():
                digest = folder.name
                if _DIGEST.match(digest) and digest[:2] == prefix.name and folder.is_dir():
                    found.append(self._listed(digest))
        return found

    def _listed(self, digest: str) -> StoredArtifact:
        """Its size from the manifest, or from the files (listing writes nothing); when it was
        last stored from its folder's mtime (``_stored``)."""
        root = self.path(digest)
        data = self._load_manifest(digest)
        if data is None or not isinstance(data.get("files"), dict):
            # (lstat: a link to nothing that a broken copy left is damage for verify, not an error here)
            sizes = {p.relative_to(root).as_posix(): p.lstat().st_size for p in iter_tree(root)}
            data = manifest(digest, sizes)
        return StoredArtifact(digest, self.uri(digest), sum(data["files"].values()), len(data["files"]),
                              modified=root.stat().st_mtime)

    def _present(self, digest: str) -> bool:
        return os.path.isdir(os.path.join(self._root, digest[:2], digest))

    def _freshen(self, digest: str) -> bool:
        # The folder's mtime: its files' are stamps the manifest checks. A rename into place
        # keeps the temp folder's (the time its last entry was made, maybe long before).
        with contextlib.suppress(OSError):  # a store this process may only read still serves what is there
            os.utime(self.path(digest))
        return True

    def presence(self) -> Callable[[str], bool]:
        folder = OpenFolder(self._root)  # a plan asks about thousands of artifacts: looked up from the open store

        def present(digest: str) -> bool:
            name = f"{check_digest(digest)[:2]}/{digest}"
            try:
                return stat.S_ISDIR(folder.stat(name, os.path.join(self._root, name)).st_mode)
            except OSError:
                return False

        return present

    # A step's worker can store its data snapshots itself (``put_scanned``), off the apply's path.
    worker_snapshots = True

    def put(self, source: Path, *, stat_cache: StatCache | None = None, sync_later: bool = False) -> StoredArtifact:
        entries, digest = self._scanned(Path(source), stat_cache)
        if self._present(digest):
            data = self._checked(digest)
            if data is not None:
                if sync_later and digest not in self._written:  # another process's, maybe still syncing
                    self._sync_later(digest, data["files"])
                return self._stored(digest, data, written=digest in self._written)
            self.delete(digest)  # damaged in place: store it afresh
        data, placed = self._write(digest, entries, sync_later)
        if sync_later:
            self._sync_later(digest, data["files"])
        if placed:  # (else an identical artifact got there first: its bytes, not checked here)
            self._written.add(digest)
        return self._stored(digest, data, written=placed)

    def put_scanned(self, entries: list[SourceFile], digest: str) -> StoredArtifact:
        """Store what another process scanned (``scan``: names, digests, stamps) as ``put`` would,
        each file hashed as it is copied and refused if it no longer matches; no sync at all:
        ``unsynced`` names every file, for the caller's parent to sync (``sync_stored``). One
        already stored but damaged raises ``ArtifactCorrupted``: the apply reports it and drops it."""
        files = tuple(e.rel for e in entries)
        if self._present(digest):
            data = self._checked(digest)
            if data is None:
                raise self.damaged(digest, "a stored file was changed, truncated or removed")
            # (maybe another process's, still syncing: the parent syncs it too)
            return self._stored(digest, data, written=digest in self._written, unsynced=files)
        data, placed = self._write(digest, entries, sync_later=True)
        if placed:
            self._written.add(digest)
        return self._stored(digest, data, written=placed, unsynced=files)

    def wait_synced(self) -> None:
        if self._syncs is None:
            return
        try:
            self._syncs.wait()
        except OSError as exc:
            raise ArtifactStoreError(
                f"could not write artifacts to disk in {self.url}: {exc}",
                "check the disk (space, errors in the system log), then apply again",
            ) from None

    @contextlib.contextmanager
    def staging(self) -> Iterator[Path]:
        """A folder in the store's temp area: on the store's file system, so ``put_owned``
        publishes it with a rename; a killed writer's folder is swept like any temp folder."""
        with self.temp.folder() as folder:
            yield folder

    def put_owned(self, folder: Path, *, sync: bool = True) -> StoredArtifact:
        """The ``staging`` folder itself becomes the artifact: its files made read-only, hashed
        once where they lie (no copy, no second read) and the folder renamed into place. A file
        whose (inode, size, mtime, ctime) moved while it was hashed is refused, like a source
        changed during a copy; one changed after it is found by its stamps or hash when read.
        Anything but plain files and folders (a symlink) is copied by ``put`` instead."""
        entries = self._owned_entries(Path(folder))
        if entries is None:
            return self.put(folder)
        digest = tree_digest(entries)
        unsynced = () if sync else tuple(e.rel for e in entries)
        if self._present(digest):
            data = self._checked(digest)
            if data is not None:  # (maybe another process's, still syncing: the caller syncs it too)
                return self._stored(digest, data, written=digest in self._written, unsynced=unsynced)
            self.delete(digest)  # damaged in place: store it afresh
        if sync:
            for e in entries:
                fsync_path(str(e.path))  # the rename must never publish bytes still only in memory
        placed = _place(Path(folder), self.path(digest))
        if not placed:  # an identical one got there first: its files, its stamps
            return self._stored(digest, self._save_manifest(digest), unsynced=unsynced)
        data = self._keep_stamps(digest, {e.rel: e.stat for e in entries})
        self._written.add(digest)
        return self._stored(digest, data, written=True, unsynced=unsynced)

    def sync_stored(self, digest: str, files: Iterable[str]) -> None:
        self._sync_later(check_digest(digest), dict.fromkeys(files))

    def _owned_entries(self, folder: Path) -> list[SourceFile] | None:
        """The folder's files in ``iter_tree``'s order, read-only and hashed; None if it holds
        anything but plain files and folders."""
        entries = []
        for dirpath, dirnames, filenames in os.walk(folder):
            dirnames.sort()
            if any(os.path.islink(os.path.join(dirpath, d)) for d in dirnames):
                return None
            for name in sorted(filenames):
                path = os.path.join(dirpath, name)
                if not stat.S_ISREG(os.lstat(path).st_mode):
                    return None
                os.chmod(path, _READ_ONLY)  # before its stamps: chmod moves ctime
                before = os.stat(path)
                entry = SourceFile(os.path.relpath(path, folder).replace(os.sep, "/"), Path(path), hash_file(path), before,
                                   full_signature(before))
                if _signature(entry.path) != entry.hashed_as:
                    raise self._changed(entry)
                entries.append(entry)
        return entries

    def _write(self, digest: str, entries: list[SourceFile], sync_later: bool = False) -> tuple[dict[str, Any], bool]:
        """Copy ``entries`` into a temp folder, then publish it under ``digest`` with one rename:
        its manifest, and whether this rename placed it (False: an identical one got there first).
        Each file is on disk before the rename, unless ``sync_later``: the caller then has
        them synced after it (``_sync_later``)."""
        target = self.path(digest)
        with self.temp.folder() as tmp:
            stamps = {e.rel: self._store_file(e, os.path.join(tmp, e.rel), durable=not sync_later) for e in entries}
            placed = _place(tmp, target)
        if not placed:  # its files, its stamps
            return self._save_manifest(digest), False
        data = self._keep_stamps(digest, stamps)
        return data, True

    def _sync_later(self, digest: str, files: Mapping[str, int]) -> None:
        """The artifact's files, then the folders naming them (down to the store's root, which
        names a new prefix folder), synced by a background thread; ``wait_synced`` waits for it."""
        if self._syncs is None:
            self._syncs = BackgroundSync()
        target = os.path.join(self._root, digest[:2], digest)
        paths = [os.path.join(target, rel) for rel in files]
        folders = {os.path.dirname(p) for p in paths} | {target}
        self._syncs.add(paths, [*folders, os.path.dirname(target), self._root])

    def _store_file(self, entry: SourceFile, dst: str, durable: bool) -> os.stat_result:
        """One file of the artifact, read-only, checked to hold the bytes of ``entry.digest``."""
        if "/" in entry.rel:
            os.makedirs(os.path.dirname(dst), exist_ok=True)
        if entry.clone is not None:
            stamp = _taken(entry.clone, dst, durable)
            if stamp is not None:
                return stamp
        if entry.stat.st_size >= CLONE_MIN_BYTES:
            stamp = self._copy_big(entry, dst, durable)
            if stamp is not None:
                return stamp
        return self._copy(entry, dst, durable)

    def _copy_big(self, entry: SourceFile, dst: str, durable: bool) -> os.stat_result | None:
        """A big file cloned copy-on-write (reflink: instant, no second copy of the bytes, and
        editing the source later leaves the clone as it was) where the file system can, else
        copied by the kernel (``copy_file_range``) or, to be checked, hashed as it is copied
        (``file_copy.copy_big``). None when the kernel can do none here: the caller copies in Python.

        The copy is trusted without a second read when this process hashed the source and its
        (inode, size, mtime, ctime) is the same as then after the copy: any write or ``utime``
        in between moves ctime, which a program cannot set back. Otherwise (the digest came
        from an earlier process's stat cache, or the file moved) the bytes copied must hash to
        the digest: a source written during the snapshot is refused."""
        trusted = entry.hashed_as is not None and _signature(entry.path) == entry.hashed_as
        with open(entry.path, "rb", buffering=0) as src, open(dst, "xb") as out:
            copied = copy_big(src, out, entry.stat.st_size, WRITEBACK_CHUNK, not trusted and out_of_memory(src, entry.stat.st_size))
            if copied is None:
                os.unlink(dst)  # (still open: closed as the block ends)
                return None
            unchanged = trusted and _signature(entry.path) == entry.hashed_as
            if not unchanged and (copied or hash_file(dst)) != entry.digest:
                raise self._changed(entry)
            return sealed(out, durable)

    def _copy(self, entry: SourceFile, dst: str, durable: bool) -> os.stat_result:
        """A copy through Python, hashing the bytes as they are copied."""
        with open(entry.path, "rb") as src, open(dst, "xb") as out:
            if _stream(src, out) != entry.digest:
                raise self._changed(entry)
            return sealed(out, durable)

    def _write_manifest(self, digest: str, data: dict[str, Any]) -> None:
        # A manifest only caches file stamps (rebuilt from the files when lost): no sync needed.
        if data["size"] >= MANIFEST_MIN_BYTES or len(data["files"]) >= MANIFEST_MIN_FILES:
            atomic_write_text(self._manifest_path(digest), canonical_json(data), durable=False)
            return
        if len(self._small) >= SMALL_STAMPS_KEPT:
            self._small.clear()
        self._small[digest] = data  # kept in memory: this process's next get of it checks stamps only

    def _manifest_path(self, digest: str) -> Path:
        return self.root / digest[:2] / f"{digest}.json"

    def _save_manifest(self, digest: str, files: list[tuple[str, Path]] | None = None) -> dict[str, Any]:
        """The stamps of the stored files (``files``: their names and paths, if already walked)."""
        root = self.path(digest)
        if files is None:
            files = [(p.relative_to(root).as_posix(), p) for p in iter_tree(root)]
        return self._keep_stamps(digest, {rel: p.stat() for rel, p in files})

    def _keep_stamps(self, digest: str, stats: Mapping[str, os.stat_result]) -> dict[str, Any]:
        """The manifest of the stored files with these stats (sizes and mtimes), kept for the next check."""
        data = manifest(digest, {rel: st.st_size for rel, st in stats.items()})
        data["mtimes"] = {rel: st.st_mtime_ns for rel, st in stats.items()}
        self._write_manifest(digest, data)
        return data

    def _load_manifest(self, digest: str) -> dict[str, Any] | None:
        if digest in self._small:
            return self._small[digest]
        try:
            return json.loads(self._manifest_path(digest).read_text())
        except (OSError, ValueError):
            return None  # lost or damaged: rebuilt after a full check

    def _intact(self, digest: str, full: bool = False) -> bool:
        """Whether the stored files still hash to ``digest``: only when their sizes or
        mtimes moved, unless ``full``."""
        return self._checked(digest, full) is not None

    def _checked(self, digest: str, full: bool = False) -> dict[str, Any] | None:
        """The manifest of a stored artifact whose files still hash to ``digest`` (None if they
        do not): rehashed only when their sizes or mtimes moved, unless ``full``."""
        data = self._load_manifest(digest)
        stamps_match = data is not None and self._stamps_match(digest, data)
        if stamps_match and not full:
            return data
        root = self.path(digest)
        files = [(p.relative_to(root).as_posix(), p) for p in iter_tree(root)]
        if _rehashed(files) != digest:
            return None
        if not stamps_match:  # content is right (e.g. a file touched, not changed): new stamps
            data = self._save_manifest(digest, files)
        return data

    def _stamps_match(self, digest: str, data: Mapping[str, Any]) -> bool:
        root = os.path.join(self._root, digest[:2], digest)
        mtimes = data.get("mtimes", {})
        sizes = data.get("files", {})
        try:
            for rel, size in sizes.items():
                st = os.stat(os.path.join(root, rel))
                if st.st_size != size or st.st_mtime_ns != mtimes.get(rel):
                    return False
        except OSError:
            return False
        # and no file beside them (a step that added one to its input snapshot): one listing a folder, no stat
        return sum(len(names) for _, _, names in os.walk(root)) == len(sizes)

    def _ref(self, digest: str) -> StoredArtifact:
        return self._stored(digest, self._load_manifest(digest) or self._save_manifest(digest))

    def _stored(self, digest: str, data: Mapping[str, Any], written: bool = False, unsynced: tuple[str, ...] = ()) -> StoredArtifact:
        """What every put returns, stored or found already there: either way its time is renewed."""
        self._freshen(digest)
        path = self.path(digest)
        return StoredArtifact(digest, path.as_uri(), data["size"], len(data["files"]), folder=path, written=written,
                              unsynced=unsynced)


def _taken(clone: str, dst: str, durable: bool) -> os.stat_result | None:
    """The clone the plan hashed (``zplan.artifacts.early_clones``) moved to ``dst`` and sealed;
    None once an earlier snapshot of the same file took it."""
    try:
        os.rename(clone, dst)
    except FileNotFoundError:
        return None
    with open(dst, "rb") as out:
        return sealed(out, durable)


def _rehashed(files: list[tuple[str, Path]]) -> str | None:
    """The tree hash of an artifact's stored files; None when one is not a plain file any more
    (a link to nothing or a named pipe a broken copy left, a file gone meanwhile): damage as any
    other, never opened (a pipe would block)."""
    try:
        for _, path in files:
            file_stat(str(path))
        return combine((rel, hash_file(p)) for rel, p in files)
    except (NotHashable, FileNotFoundError):
        return None


def _signature(path: Path) -> tuple[int, int, int, int]:
    return full_signature(os.stat(path))
