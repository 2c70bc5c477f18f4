"""A local artifact store: a folder on this machine (or a mounted share).

Commits are one ``os.rename`` of a fully written temp folder, so an artifact is
either complete or absent. Stored files are read-only and never modified in
place by the store.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any, Mapping

from zplan.artifacts.base import (
    _READ_ONLY,
    ArtifactCorrupted,
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
from zplan.hashing import StatCache, canonical_json, combine, hash_file, iter_tree


class LocalArtifactStore(ArtifactStore):
    """A folder on this machine (or a mounted share).

    Beside each artifact folder ``<h>/`` sits ``<h>.json``: its files, sizes and
    mtimes. ``get`` compares mtimes and sizes (cheap) and rehashes only on a
    difference, which catches a hard-linked input edited in place.
    """

    def __init__(self, url: str, root: Path, options: Mapping[str, Any] | None = None) -> None:
        if options:
            raise ArtifactStoreError(
                f"artifact store {url!r} takes no options", "options apply to s3:// and gs:// stores"
            )
        self.url = url
        self.root = Path(os.path.abspath(root))
        self.temp = TempArea(self.root / ".tmp")

    def path(self, digest: str) -> Path:
        return self.root / digest[:2] / digest

    def uri(self, digest: str) -> str:
        return self.path(check_digest(digest)).as_uri()

    def get(self, digest: str) -> Path:
        path = self.path(check_digest(digest))
        if not path.is_dir():
            raise ArtifactNotFound(f"artifact {digest} is not in {self.url}")
        if not self._intact(digest):
            raise ArtifactCorrupted(
                f"artifact {digest} in {self.url} does not match its digest",
                "a stored file was modified in place (an input snapshotted by hard link, then edited?); "
                "store it again: snapshot the input again, or rerun the step that produced it",
            )
        return path

    def delete(self, digest: str) -> None:
        path = self.path(check_digest(digest))
        with self.temp.folder() as trash:
            with contextlib.suppress(FileNotFoundError):
                os.rename(path, trash / "gone")  # vanishes at once, removed at leisure
        self._manifest_path(digest).unlink(missing_ok=True)

    def _present(self, digest: str) -> bool:
        return self.path(digest).is_dir()

    def _write(self, digest: str, entries: list[SourceFile], link_min_bytes: int | None) -> None:
        with self.temp.folder() as tmp:
            for entry in entries:
                dst = tmp / entry.rel
                dst.parent.mkdir(parents=True, exist_ok=True)
                linkable = link_min_bytes is not None and entry.stat.st_size >= link_min_bytes
                if not (linkable and self._link(entry, dst)):
                    self._copy(entry, dst)
            _place(tmp, self.path(digest))
        self._save_manifest(digest)

    def put(
        self, source: Path, *, stat_cache: StatCache | None = None, link_min_bytes: int | None = None
    ) -> StoredArtifact:
        ref = super().put(source, stat_cache=stat_cache, link_min_bytes=link_min_bytes)
        if self._intact(ref.digest):
            return ref
        self.delete(ref.digest)  # damaged in place: store it afresh
        return super().put(source, stat_cache=stat_cache, link_min_bytes=link_min_bytes)

    def _link(self, entry: SourceFile, dst: Path) -> bool:
        try:
            os.link(entry.path, dst)
        except OSError:
            return False  # another file system, or links not allowed: copy instead
        st = os.stat(dst)
        if (st.st_ino, st.st_size, st.st_mtime_ns) != (entry.stat.st_ino, entry.stat.st_size, entry.stat.st_mtime_ns):
            raise self._changed(entry)
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

    def _intact(self, digest: str) -> bool:
        data = self._load_manifest(digest)
        if data is not None and self._stamps_match(digest, data):
            return True
        root = self.path(digest)
        if combine((p.relative_to(root).as_posix(), hash_file(p)) for p in iter_tree(root)) != digest:
            return False
        self._save_manifest(digest)  # content is right (e.g. a file touched, not changed)
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


