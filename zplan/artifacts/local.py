"""A local artifact store: a folder on this machine (or a mounted share).

Commits are one ``os.rename`` of a fully written temp folder, so an artifact is
either complete or absent. Stored files are read-only and never modified in
place by the store. Files are stored as copies of their own, never hard links:
big ones as copy-on-write clones (reflinks) where the file system has them,
so a source edited in place later cannot change what was stored.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from pathlib import Path
from typing import Any, Mapping

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
    TempArea,
    _place,
    _stream,
    check_digest,
    manifest,
)
from zplan.fsutil import atomic_write_text
from zplan.hashing import StatCache, canonical_json, combine, full_signature, hash_file, iter_tree

FICLONE = 0x40049409  # linux/fs.h: _IOW(0x94, 9, int)
CLONE_MIN_BYTES = 1024 * 1024  # smaller files are copied: as cheap, and one less system call to fail


class LocalArtifactStore(ArtifactStore):
    """A folder on this machine (or a mounted share).

    Beside each artifact folder ``<h>/`` sits ``<h>.json``: its files, sizes and
    mtimes. ``get`` compares mtimes and sizes (cheap) and rehashes only on a
    difference; ``get(verify=True)`` and ``check`` always rehash, which also
    catches a flipped byte whose mtime was put back.
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

    def path(self, digest: str) -> Path:
        return self.root / digest[:2] / digest

    def uri(self, digest: str) -> str:
        return self.path(check_digest(digest)).as_uri()

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

    def listing(self) -> list[StoredArtifact]:
        found = []
        for prefix in sorted(self.root.glob("??")):
            for folder in sorted(prefix.iterdir()) if prefix.is_dir() else ():
                digest = folder.name
                if _DIGEST.match(digest) and digest[:2] == prefix.name and folder.is_dir():
                    found.append(self._listed(digest))
        return found

    def _listed(self, digest: str) -> StoredArtifact:
        """Its size from the manifest, or from the files (listing writes nothing)."""
        data = self._load_manifest(digest)
        if data is None or not isinstance(data.get("files"), dict):
            root = self.path(digest)
            sizes = {p.relative_to(root).as_posix(): p.stat().st_size for p in iter_tree(root)}
            data = manifest(digest, sizes)
        return StoredArtifact(digest, self.uri(digest), sum(data["files"].values()), len(data["files"]))

    def _present(self, digest: str) -> bool:
        return os.path.isdir(os.path.join(self._root, digest[:2], digest))

    def _write(self, digest: str, entries: list[SourceFile]) -> None:
        with self.temp.folder() as tmp:
            for entry in entries:
                dst = tmp / entry.rel
                dst.parent.mkdir(parents=True, exist_ok=True)
                big = entry.stat.st_size >= CLONE_MIN_BYTES
                if not (big and (self._clone(entry, dst) or self._copy_in_kernel(entry, dst))):
                    self._copy(entry, dst)
            _place(tmp, self.path(digest))
        self._save_manifest(digest)

    def put(self, source: Path, *, stat_cache: StatCache | None = None) -> StoredArtifact:
        ref = super().put(source, stat_cache=stat_cache)
        if self._intact(ref.digest):
            return ref
        self.delete(ref.digest)  # damaged in place: store it afresh
        return super().put(source, stat_cache=stat_cache)

    def _clone(self, entry: SourceFile, dst: Path) -> bool:
        """A copy-on-write clone (reflink): instant, no second copy of the bytes, and
        editing the source later leaves the clone as it was. False where the file
        system cannot (ext4, tmpfs, another file system): the caller copies."""
        with open(entry.path, "rb") as src, open(dst, "xb") as out:
            try:
                fcntl.ioctl(out.fileno(), FICLONE, src.fileno())
            except OSError:
                cloned = False
            else:
                cloned = True
                os.fsync(out.fileno())
        if not cloned:
            dst.unlink()
            return False
        if _moved(entry):  # a write between hashing and cloning moves size or mtime
            dst.unlink()
            raise self._changed(entry)
        os.chmod(dst, _READ_ONLY)
        return True

    def _copy_in_kernel(self, entry: SourceFile, dst: Path) -> bool:
        """A copy by the kernel (``copy_file_range``: no pass through Python, no second hash)
        of a file this process has just read to hash, when its (inode, size, mtime, ctime)
        did not move between that read and the end of the copy: any write or ``utime`` in
        between moves ctime. Synced like any copy. False when the digest comes from an
        earlier process (the copy's own hash then checks the stat cache), when the file
        moved, or when the kernel cannot: the caller copies and hashes."""
        if entry.hashed_as is None or not hasattr(os, "copy_file_range") or _signature(entry.path) != entry.hashed_as:
            return False
        try:
            with open(entry.path, "rb") as src, open(dst, "xb") as out:
                left = entry.stat.st_size
                while left > 0:
                    n = os.copy_file_range(src.fileno(), out.fileno(), min(left, 1 << 30))
                    if n == 0:  # shorter than when it was hashed
                        break
                    left -= n
                os.fsync(out.fileno())  # the rename must never publish bytes still only in memory
        except OSError:  # no copy_file_range here (old kernel, another file system): copy in Python
            dst.unlink(missing_ok=True)
            return False
        if left or _signature(entry.path) != entry.hashed_as:
            dst.unlink()
            raise self._changed(entry)
        os.chmod(dst, _READ_ONLY)
        return True

    def _copy(self, entry: SourceFile, dst: Path) -> None:
        with open(entry.path, "rb") as src, open(dst, "xb") as out:
            digest = _stream(src, out)
            out.flush()
            os.fsync(out.fileno())  # the rename must never publish bytes still only in memory
        if digest != entry.digest:
            raise self._changed(entry)
        os.chmod(dst, _READ_ONLY)

    def _manifest_path(self, digest: str) -> Path:
        return self.root / digest[:2] / f"{digest}.json"

    def _save_manifest(self, digest: str) -> dict[str, Any]:
        root = self.path(digest)
        stats = {p.relative_to(root).as_posix(): p.stat() for p in iter_tree(root)}
        data = manifest(digest, {rel: st.st_size for rel, st in stats.items()})
        data["mtimes"] = {rel: st.st_mtime_ns for rel, st in stats.items()}
        # A manifest only caches file stamps (rebuilt from the files when lost): no sync needed.
        atomic_write_text(self._manifest_path(digest), canonical_json(data), durable=False)
        return data

    def _load_manifest(self, digest: str) -> dict[str, Any] | None:
        try:
            return json.loads(self._manifest_path(digest).read_text())
        except (OSError, ValueError):
            return None  # lost or damaged: rebuilt after a full check

    def _intact(self, digest: str, full: bool = False) -> bool:
        """Whether the stored files still hash to ``digest``: only when their sizes or
        mtimes moved, unless ``full``."""
        data = self._load_manifest(digest)
        stamps_match = data is not None and self._stamps_match(digest, data)
        if stamps_match and not full:
            return True
        root = self.path(digest)
        if combine((p.relative_to(root).as_posix(), hash_file(p)) for p in iter_tree(root)) != digest:
            return False
        if not stamps_match:  # content is right (e.g. a file touched, not changed): new stamps
            self._save_manifest(digest)
        return True

    def _stamps_match(self, digest: str, data: Mapping[str, Any]) -> bool:
        root = self.path(digest)
        mtimes = data.get("mtimes", {})
        sizes = data.get("files", {})
        try:
            for rel, size in sizes.items():
                st = os.stat(root / rel)
                if st.st_size != size or st.st_mtime_ns != mtimes.get(rel):
                    return False
        except OSError:
            return False
        return True

    def _ref(self, digest: str) -> StoredArtifact:
        data = self._load_manifest(digest) or self._save_manifest(digest)
        return StoredArtifact(digest, self.uri(digest), data["size"], len(data["files"]))




def _signature(path: Path) -> tuple[int, int, int, int]:
    return full_signature(os.stat(path))


def _moved(entry: SourceFile) -> bool:
    """Whether the source's (inode, size, mtime) moved since its digest was taken."""
    st = os.stat(entry.path)
    return (st.st_ino, st.st_size, st.st_mtime_ns) != (entry.stat.st_ino, entry.stat.st_size, entry.stat.st_mtime_ns)
