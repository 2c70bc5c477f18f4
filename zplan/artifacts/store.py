"""The artifact store: content-addressed, immutable folders of files.

An artifact is a folder; its digest is ``zplan.hashing.hash_tree`` of that
folder (relative names and bytes). It lives under ``<root>/<h[:2]>/<h>/``.

* Local stores commit with one ``os.rename`` of a fully written temp folder, so
  an artifact is either complete or absent. Stored files are made read-only
  (hard-linked inputs keep their owner's mode) and the store never modifies a
  stored file in place: that is what makes hard links from snapshots safe.
* Object stores (S3, GCS over fsspec) have no rename: the files are uploaded
  first and a ``.zplan-complete`` marker (hash, files, sizes) is written last.
  An artifact without its marker does not exist. Reads download into a local
  cache and check the hash of the bytes received.

Content is hashed while it is copied or uploaded, so what is stored under a
digest is exactly what was hashed even if the source changes in between.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import re
import secrets
import shutil
import stat
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Iterable, Iterator, Mapping

import xxhash

from zplan.diags import DiagnosticError, error
from zplan.fsutil import atomic_write_text
from zplan.hashing import ALGORITHM, CHUNK, StatCache, canonical_json, combine, hash_file, iter_tree

MARKER = ".zplan-complete"
_DIGEST = re.compile(r"^[0-9a-f]{32}$")
_READ_ONLY = stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH


class ArtifactStoreError(DiagnosticError):
    """The store cannot do what was asked (unreachable, missing bucket, bad URL...)."""

    def __init__(self, summary: str, detail: str = "") -> None:
        super().__init__(error(summary, detail))


class ArtifactNotFound(ArtifactStoreError):
    pass


class ArtifactCorrupted(ArtifactStoreError):
    pass


class SourceChanged(ArtifactStoreError):
    """A file changed between being hashed and being stored."""


@dataclass(frozen=True)
class StoredArtifact:
    digest: str
    uri: str
    size: int  # bytes, all files
    files: int


@dataclass(frozen=True)
class SourceFile:
    rel: str  # posix path inside the artifact
    path: Path
    digest: str
    stat: os.stat_result


def scan(source: Path, stat_cache: StatCache | None = None) -> list[SourceFile]:
    """The files an artifact made from ``source`` holds, each with its content hash.

    A folder contributes its files (the walk of ``hash_tree``); a single file
    becomes a one-file artifact under its own name.
    """
    if source.is_file():
        paths = [(source.name, source)]
    else:
        paths = [(p.relative_to(source).as_posix(), p) for p in iter_tree(source)]
    entries = []
    for rel, path in paths:
        st = path.stat()
        digest = stat_cache.file_hash(path, st) if stat_cache else hash_file(path)
        entries.append(SourceFile(rel, path, digest, st))
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
            return LocalArtifactStore(url, project_dir / url, options)
        if scheme == "file" and rest:
            return LocalArtifactStore(url, project_dir / rest, options)  # "/abs" stays absolute
        if scheme in ("s3", "gs") and rest.strip("/"):
            cache = cache_dir or project_dir / ".zplan" / "cache" / "artifacts"
            return RemoteArtifactStore(url, scheme, rest.strip("/"), cache, options or {})
        raise ArtifactStoreError(
            f"unsupported artifact store {url!r}",
            "use file://PATH (relative to the project or absolute), s3://BUCKET/PREFIX or gs://BUCKET/PREFIX",
        )

    def put(
        self, source: Path, *, stat_cache: StatCache | None = None, link_min_bytes: int | None = None
    ) -> StoredArtifact:
        """Store a folder (or one file) unless its digest is already there.

        ``stat_cache`` spares rehashing unchanged files. ``link_min_bytes`` lets a
        local store hard-link files at least that big instead of copying them
        (None: always copy; other stores ignore it).
        """
        source = Path(source)
        if not source.exists():
            raise ArtifactStoreError(f"cannot store {source}: no such file or folder")
        entries = scan(source, stat_cache)
        if any(e.rel == MARKER for e in entries):  # it would pass for a finished upload
            raise ArtifactStoreError(f"cannot store {source}: the name {MARKER} is reserved", "rename that file")
        digest = tree_digest(entries)
        if not self._present(digest):
            self._write(digest, entries, link_min_bytes)
        return self._ref(digest)

    def exists(self, digest: str) -> bool:
        return self._present(check_digest(digest))

    def get(self, digest: str) -> Path:
        raise NotImplementedError

    def uri(self, digest: str) -> str:
        raise NotImplementedError

    def delete(self, digest: str) -> None:
        raise NotImplementedError

    def _present(self, digest: str) -> bool:
        raise NotImplementedError

    def _write(self, digest: str, entries: list[SourceFile], link_min_bytes: int | None) -> None:
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


class TempArea:
    """Private temp folders under one parent, each guarded by an flock held while in use.

    A process that dies mid-write releases its lock, so the next writer can
    remove the leftovers without ever touching a folder another process is
    still filling (steps store artifacts from parallel processes).
    """

    def __init__(self, parent: Path) -> None:
        self.parent = parent

    @contextlib.contextmanager
    def folder(self) -> Iterator[Path]:
        self.parent.mkdir(parents=True, exist_ok=True)
        self.sweep()
        name = f"{os.getpid()}-{secrets.token_hex(8)}"
        lock = self.parent / f"{name}.lock"
        fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # taken before the folder exists, released after it is gone
            path = self.parent / name
            path.mkdir()
            try:
                yield path
            finally:
                _remove_tree(path)
                lock.unlink(missing_ok=True)
        finally:
            os.close(fd)

    def sweep(self) -> None:
        for lock in self.parent.glob("*.lock"):
            try:
                fd = os.open(lock, os.O_WRONLY)
            except FileNotFoundError:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)  # its writer is alive
                continue
            try:
                _remove_tree(lock.with_suffix(""))
                lock.unlink(missing_ok=True)
            finally:
                os.close(fd)


def _remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def _place(tmp: Path, target: Path) -> None:
    """Commit a finished temp folder under its digest; losing a race to an identical one is fine."""
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.rename(tmp, target)
    except OSError as e:
        if e.errno not in (errno.ENOTEMPTY, errno.EEXIST) or not target.is_dir():
            raise


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


class RemoteArtifactStore(ArtifactStore):
    """An S3 or GCS bucket (and prefix), reached through fsspec.

    The file system is created on first use and again after a fork, so a store
    built in the parent process also works in a worker process.
    """

    def __init__(self, url: str, protocol: str, root: str, cache_dir: Path, options: Mapping[str, Any]) -> None:
        self.url = url
        self.protocol = protocol
        self.root = root
        self.cache_dir = Path(os.path.abspath(cache_dir))
        self.temp = TempArea(self.cache_dir / ".tmp")
        self.options = dict(options)
        self._fs: Any = None
        self._pid = 0

    @property
    def fs(self) -> Any:
        if self._fs is None or self._pid != os.getpid():
            self._fs = _open_filesystem(self.url, self.protocol, self.options)
            self._pid = os.getpid()
        return self._fs

    def key(self, digest: str) -> str:
        return f"{self.root}/{digest[:2]}/{digest}"

    def uri(self, digest: str) -> str:
        return f"{self.protocol}://{self.key(check_digest(digest))}"

    def get(self, digest: str) -> Path:
        target = self.cache_dir / check_digest(digest)
        if target.is_dir():
            return target  # verified when it was downloaded; its files are read-only
        data = self._marker(digest)
        if data is None:
            raise ArtifactNotFound(f"artifact {digest} is not in {self.url}")
        with self.temp.folder() as tmp:
            self._download(digest, data, tmp)
            _place(tmp, target)
        return target

    def delete(self, digest: str) -> None:
        key = self.key(check_digest(digest))
        with self._errors():
            with contextlib.suppress(FileNotFoundError):
                self.fs.rm_file(f"{key}/{MARKER}")  # gone as soon as the marker is
            with contextlib.suppress(FileNotFoundError):
                self.fs.rm(key, recursive=True)
        _remove_tree(self.cache_dir / digest)

    def _present(self, digest: str) -> bool:
        with self._errors():
            return bool(self.fs.exists(f"{self.key(digest)}/{MARKER}"))

    def _write(self, digest: str, entries: list[SourceFile], link_min_bytes: int | None) -> None:
        key = self.key(digest)
        with self._errors():
            for entry in entries:
                with open(entry.path, "rb") as src, self.fs.open(f"{key}/{entry.rel}", "wb") as out:
                    got = _stream(src, out)
                if got != entry.digest:
                    raise self._changed(entry)
            sizes = {e.rel: e.stat.st_size for e in entries}
            self._write_marker(key, manifest(digest, sizes))

    def _write_marker(self, key: str, data: Mapping[str, Any]) -> None:
        self.fs.pipe_file(f"{key}/{MARKER}", canonical_json(data).encode())

    def _marker(self, digest: str) -> dict[str, Any] | None:
        with self._errors():
            try:
                raw = self.fs.cat_file(f"{self.key(digest)}/{MARKER}")
            except FileNotFoundError:
                return None
        try:
            data = json.loads(raw)
        except ValueError:
            raise self._corrupted(digest, "its completion marker is not valid JSON") from None
        if data.get("hash") != digest or not isinstance(data.get("files"), dict):
            raise self._corrupted(digest, "its completion marker names different content")
        if not all(_inside(rel) for rel in data["files"]):  # never write outside the download folder
            raise self._corrupted(digest, "its completion marker names files outside the artifact")
        return data

    def _download(self, digest: str, data: Mapping[str, Any], tmp: Path) -> None:
        key = self.key(digest)
        got = []
        with self._errors():
            for rel in sorted(data["files"], key=walk_order):  # the order the digest was made in
                dst = tmp / rel
                dst.parent.mkdir(parents=True, exist_ok=True)
                try:
                    with self.fs.open(f"{key}/{rel}", "rb") as src, open(dst, "xb") as out:
                        got.append((rel, _stream(src, out)))
                except FileNotFoundError:
                    raise self._corrupted(digest, f"its file {rel!r} is missing") from None
                os.chmod(dst, _READ_ONLY)
        if combine(got) != digest:
            raise self._corrupted(digest, "the downloaded files do not hash to its digest")

    def _corrupted(self, digest: str, why: str) -> ArtifactCorrupted:
        return ArtifactCorrupted(
            f"artifact {digest} in {self.url} is corrupted: {why}",
            f"the stored copy at {self.uri(digest)} was changed or damaged; delete it and rerun the step that made it",
        )

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        """Turn the object store's failures (no bucket, no access, no server) into one clear error."""
        try:
            yield
        except DiagnosticError:
            raise
        except _remote_errors(self.protocol) as e:
            raise ArtifactStoreError(f"artifact store {self.url} failed: {e}", _hint(self.protocol)) from e

    def _ref(self, digest: str) -> StoredArtifact:
        data = self._marker(digest) or {}
        files = data.get("files", {})
        return StoredArtifact(digest, self.uri(digest), sum(files.values()), len(files))


def _inside(rel: str) -> bool:
    parts = rel.split("/")
    return bool(rel) and all(p not in ("", ".", "..") for p in parts) and "\0" not in rel


def _open_filesystem(url: str, protocol: str, options: Mapping[str, Any]) -> Any:
    # No listing cache: another process may add an artifact at any time. Instances are
    # shared per options (fsspec rebuilds them after a fork): a new S3 client costs ~0.5 s.
    opts = {"use_listings_cache": False, **options}
    try:
        if protocol == "s3":
            import s3fs

            return s3fs.S3FileSystem(**opts)
        # Read by gcsfs at import time; its default (true) stalls every call on a gRPC handshake.
        os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")
        # google-api-core warns about future Python support on import and first use: noise in
        # every command's output and every step's log, and nothing the user can act on here.
        warnings.filterwarnings("ignore", message="You are using a Python version", category=FutureWarning)
        from gcsfs.core import GCSFileSystem

        if "token" not in opts and os.environ.get("STORAGE_EMULATOR_HOST"):
            opts["token"] = "anon"  # the emulator takes no credentials
        return GCSFileSystem(**opts)
    except ImportError as e:
        raise ArtifactStoreError(
            f"artifact store {url} needs {(e.name or 'fsspec').partition('.')[0]}",
            "install zplan's remote extra: pip install 'zplan[remote]'",
        ) from None
    except TypeError as e:
        raise ArtifactStoreError(f"bad options for artifact store {url}: {e}") from None


def _remote_errors(protocol: str) -> tuple[type[BaseException], ...]:
    errors: list[type[BaseException]] = [OSError]
    if protocol == "s3":
        from botocore.exceptions import BotoCoreError, ClientError

        errors += [BotoCoreError, ClientError]
    else:
        from gcsfs.retry import HttpError

        errors.append(HttpError)
    return tuple(errors)


def _hint(protocol: str) -> str:
    if protocol == "s3":
        return "check the bucket exists and AWS credentials (AWS_ACCESS_KEY_ID..., AWS_ENDPOINT_URL for a local server)"
    return "check the bucket exists and Google credentials (STORAGE_EMULATOR_HOST for a local emulator)"
