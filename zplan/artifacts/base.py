"""The artifact store's contract: content-addressed, immutable folders of files.

An artifact is a folder; its digest is ``zplan.hashing.hash_tree`` of that
folder (relative names and bytes). It lives under ``<root>/<h[:2]>/<h>/``.
Content is hashed while it is copied or uploaded, so what is stored under a
digest is exactly what was hashed even if the source changes in between.
``zplan.artifacts.local`` keeps artifacts in a folder, ``zplan.artifacts.remote``
in an S3 or GCS bucket.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterable, Iterator, Mapping

import xxhash

from zplan.artifacts.temp_area import remove_tree
from zplan.diags import DiagnosticError, error
from zplan.hashing import ALGORITHM, CHUNK, NotHashable, StatCache, combine, file_stat, full_signature, hash_file, iter_tree

MARKER = ".zplan-complete"
# What ``ArtifactStore.check`` finds.
INTACT, MISSING, DAMAGED = "intact", "missing", "damaged"
_DIGEST = re.compile(r"^[0-9a-f]{32}$")
_READ_ONLY = stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH


class ArtifactStoreError(DiagnosticError):
    """The store cannot do what was asked (unreachable, missing bucket, bad URL...)."""

    def __init__(self, summary: str, detail: str = "") -> None:
        super().__init__(error(summary, detail))


class ArtifactNotFound(ArtifactStoreError):
    pass


class ArtifactCorrupted(ArtifactStoreError):
    """Stored content no longer hashes to its digest (``digest`` names the artifact)."""

    def __init__(self, summary: str, detail: str = "", digest: str | None = None) -> None:
        super().__init__(summary, detail)
        self.digest = digest


class SourceChanged(ArtifactStoreError):
    """A file changed between being hashed and being stored."""


@dataclass(frozen=True)
class StoredArtifact:
    digest: str
    uri: str
    size: int  # bytes, all files
    files: int
    # The local store's folder, when ``put`` knows it (spares the caller a ``get``).
    folder: Path | None = field(default=None, compare=False)
    # This process wrote it in this ``put``: the bytes stored were hashed, or copied from a source
    # this process had just hashed and that did not change since, so they match the digest.
    written: bool = field(default=False, compare=False)
    # Its files' relative names, when ``put_owned`` left their syncs to the caller (``sync_stored``).
    unsynced: tuple[str, ...] = field(default=(), compare=False)
    # When it was last stored (seconds since the epoch, by the store's clock), in ``listing``;
    # None when the store does not say.
    modified: float | None = field(default=None, compare=False)


@dataclass(frozen=True)
class SourceFile:
    rel: str  # posix path inside the artifact
    path: Path
    digest: str
    stat: os.stat_result
    # (inode, size, mtime, ctime) when this process read the file to hash it; None when the
    # digest came from the stat cache's record of an earlier read
    hashed_as: tuple[int, int, int, int] | None = None
    # A clone of the file made and hashed by this apply's plan (``zplan.artifacts.early_clones``):
    # a local store moves it into place rather than cloning the file again
    clone: str | None = None


def scan(source: Path, stat_cache: StatCache | None = None) -> list[SourceFile]:
    """The files an artifact made from ``source`` holds, each with its content hash.

    A folder contributes its files (the walk of ``hash_tree``); a single file
    becomes a one-file artifact under its own name.
    """
    top = os.stat(source)
    if stat.S_ISREG(top.st_mode):
        paths = [(source.name, source)]
    else:
        paths = [(p.relative_to(source).as_posix(), p) for p in iter_tree(source)]
    entries = []
    for rel, path in paths:
        st = top if path is source else file_stat(str(path))  # a FIFO is never opened, a link to nothing named
        if stat_cache is not None:
            digest = stat_cache.file_hash(path, st)
            entries.append(SourceFile(rel, path, digest, st, stat_cache.hashed_as(path), stat_cache.clone_of(path)))
        else:
            entries.append(SourceFile(rel, path, hash_file(path), st, full_signature(st)))
    return entries


def tree_digest(entries: Iterable[SourceFile]) -> str:
    return combine((e.rel, e.digest) for e in entries)


def walk_order(rel: str) -> tuple[tuple[int, str], ...]:
    """Sort key giving ``iter_tree``'s order: in each folder, its files, then its sub-folders."""
    *dirs, name = rel.split("/")
    return (*((1, d) for d in dirs), (0, name))


def manifest(digest: str, sizes: Mapping[str, int]) -> dict[str, Any]:
    return {"algorithm": ALGORITHM, "hash": digest, "files": dict(sizes), "size": sum(sizes.values())}


def check_digest(digest: str) -> str:
    if not isinstance(digest, str) or not _DIGEST.match(digest):
        raise ValueError(f"not an artifact digest: {digest!r} (expected 32 lowercase hex characters)")
    return digest


def _stream(src: BinaryIO, dst: BinaryIO) -> str:
    """Copy ``src`` to ``dst``; return the xxh3-128 of the bytes copied."""
    h = xxhash.xxh3_128()
    while chunk := src.read(CHUNK):
        h.update(chunk)
        dst.write(chunk)
    return h.hexdigest()


class ArtifactStore:
    """Base class; build one with ``ArtifactStore.from_url``."""

    url: str

    @staticmethod
    def from_url(
        url: str,
        project_dir: Path,
        options: Mapping[str, Any] | None = None,
        cache_dir: Path | None = None,
    ) -> "ArtifactStore":
        project_dir = Path(project_dir)
        scheme, sep, rest = (url or "").partition("://")
        if url and not sep:
            return _local()(url, project_dir / url, options)
        if scheme == "file" and rest:
            return _local()(url, project_dir / rest, options)  # "/abs" stays absolute
        if scheme in ("s3", "gs") and rest.strip("/"):
            from zplan.artifacts.remote import RemoteArtifactStore

            cache = cache_dir or project_dir / ".zplan" / "cache" / "artifacts"
            return RemoteArtifactStore(url, scheme, rest.strip("/"), cache, options or {})
        raise ArtifactStoreError(
            f"unsupported artifact store {url!r}",
            "use file://PATH (relative to the project or absolute), s3://BUCKET/PREFIX or gs://BUCKET/PREFIX",
        )

    def put(self, source: Path, *, stat_cache: StatCache | None = None, sync_later: bool = False) -> StoredArtifact:
        """Store a folder (or one file) unless its digest is already there.

        ``stat_cache`` spares rehashing unchanged files. ``sync_later``: the artifact may be
        published before its bytes reach the disk; the caller then calls ``wait_synced``
        before it writes down anything that names it (a store that is durable on upload
        ignores it).
        """
        entries, digest = self._scanned(Path(source), stat_cache)
        if not (self._present(digest) and self._freshen(digest)):
            self._write(digest, entries)
        return self._ref(digest)

    worker_snapshots = False  # True: a step's worker may store snapshots itself (``put_scanned``)

    def scanned(self, source: Path, stat_cache: StatCache | None) -> tuple[list[SourceFile], str]:
        """What ``put(source)`` would store: its files (names, digests, stamps) and its digest."""
        return self._scanned(Path(source), stat_cache)

    def put_scanned(self, entries: list[SourceFile], digest: str) -> StoredArtifact:
        raise NotImplementedError(f"{type(self).__name__} stores snapshots in the apply's own process")

    def wait_synced(self) -> None:
        """Returns once every artifact ``put`` with ``sync_later`` (or handed to ``sync_stored``) is on disk."""

    @contextlib.contextmanager
    def staging(self) -> Iterator[Path]:
        """An empty folder to build an artifact in, for ``put_owned``; removed afterwards."""
        import tempfile

        folder = Path(tempfile.mkdtemp(prefix="zplan-out-"))
        try:
            yield folder
        finally:
            remove_tree(folder)

    def put_owned(self, folder: Path, *, sync: bool = True) -> StoredArtifact:
        """Store a ``staging()`` folder that nothing else writes to any more. A store on this
        file system moves it into place instead of copying it; with ``sync=False`` it leaves the
        files' syncs to the caller (``sync_stored``, then ``wait_synced`` before anything names
        the artifact). Other stores copy or upload it as ``put`` does."""
        return self.put(folder)

    def sync_stored(self, digest: str, files: Iterable[str]) -> None:
        """Sync an artifact ``put_owned(sync=False)`` stored (in any process) on the background
        thread ``wait_synced`` waits for. A store durable on upload has nothing to do."""

    def _scanned(self, source: Path, stat_cache: StatCache | None) -> tuple[list[SourceFile], str]:
        try:
            entries = scan(source, stat_cache)
        except FileNotFoundError:
            if os.path.lexists(source):
                raise  # a file inside vanished during the walk
            raise ArtifactStoreError(f"cannot store {source}: no such file or folder") from None
        except NotHashable as exc:
            raise ArtifactStoreError(f"cannot store {source}: {exc.path} is {exc.what}",
                                     "a data input may hold only files and folders: remove or replace it") from None
        if any(e.rel == MARKER for e in entries):  # it would pass for a finished upload
            raise ArtifactStoreError(f"cannot store {source}: the name {MARKER} is reserved", "rename that file")
        return entries, tree_digest(entries)

    def exists(self, digest: str) -> bool:
        return self._present(check_digest(digest))

    def renew(self, digest: str) -> bool:
        """Renew the time of an artifact already stored, as storing it again would: a cache hit
        about to be reused by a writer that holds no lock meanwhile stays within gc's grace.
        False when it is not there."""
        return self._present(check_digest(digest)) and self._freshen(digest)

    def presence(self) -> Callable[[str], bool]:
        """A ``digest -> stored?`` test for one plan: existence only, no content read.
        Object stores answer from one listing per two-character prefix, made on first use."""
        return self.exists

    def get(self, digest: str, verify: bool = False) -> Path:
        """A local folder holding the artifact; ``verify`` rehashes its content first
        (a step's inputs are loaded that way), raising ``ArtifactCorrupted`` on a mismatch."""
        raise NotImplementedError

    def check(self, digest: str) -> str:
        """INTACT, MISSING or DAMAGED, reading every byte (``zplan verify``)."""
        raise NotImplementedError

    def uri(self, digest: str) -> str:
        raise NotImplementedError

    def delete(self, digest: str) -> None:
        raise NotImplementedError

    def listing(self) -> list[StoredArtifact]:
        """Every complete artifact in the store, by digest, with when it was last stored
        (``zplan gc``). A write still in progress (a local temp folder, an upload whose marker
        is not there yet) is not listed."""
        raise NotImplementedError

    def inventory(self) -> tuple[list[StoredArtifact], list[StoredArtifact]]:
        """``listing``, and the incomplete artifacts an object store holds objects of without
        their completion marker (an upload in progress or killed, a delete cut short), each
        with its objects' size and newest time. A store that writes into a temp area first has none."""
        return self.listing(), []

    def delete_incomplete(self, digest: str, listed_at: float | None = None) -> None:
        """Delete the objects of an incomplete artifact ``inventory`` listed (``listed_at``: its
        newest time then; an unfinished upload begun later is left alone)."""

    def damaged(self, digest: str, why: str) -> "ArtifactCorrupted":
        return ArtifactCorrupted(
            f"artifact damaged (digest mismatch): {digest} in {self.url}: {why}",
            "zplan reruns the step that produced it; `zplan verify -repair` drops every damaged artifact",
            digest=digest,
        )

    def _present(self, digest: str) -> bool:
        raise NotImplementedError

    def _freshen(self, digest: str) -> bool:
        """Storing an artifact already there renews its time, as git does for an object written
        again: the writer is about to record it, and gc keeps what was stored recently. False
        when it is gone after all (deleted meanwhile): the caller stores it again."""
        raise NotImplementedError

    def _write(self, digest: str, entries: list[SourceFile]) -> None:
        raise NotImplementedError

    def _ref(self, digest: str) -> StoredArtifact:
        raise NotImplementedError

    def _changed(self, entry: SourceFile) -> SourceChanged:
        return SourceChanged(
            f"{entry.path} changed while it was being stored in {self.url}",
            "wait until whatever writes it has finished, then run again",
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"


def _place(tmp: Path, target: Path, first: bool = True) -> bool:
    """Commit a finished temp folder under its digest; losing a race to an identical one is
    fine (False: the folder there is the other writer's)."""
    try:
        os.rename(tmp, target)
    except FileNotFoundError:  # the first artifact under this prefix
        if not first:
            raise
        # (tried once more even when the prefix folder is there now: another writer may have
        # made it between the rename and this check, the first two artifacts under it at once)
        target.parent.mkdir(parents=True, exist_ok=True)
        return _place(tmp, target, first=False)
    except OSError as e:
        if e.errno not in (errno.ENOTEMPTY, errno.EEXIST) or not target.is_dir():
            raise
        return False
    return True


def _inside(rel: str) -> bool:
    parts = rel.split("/")
    return bool(rel) and all(p not in ("", ".", "..") for p in parts) and "\0" not in rel




def _local() -> type["ArtifactStore"]:
    from zplan.artifacts.local import LocalArtifactStore

    return LocalArtifactStore
