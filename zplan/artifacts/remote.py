"""An object-store artifact store (S3, GCS over fsspec).

Object stores have no rename: the files are uploaded first and a
``.zplan-complete`` marker (hash, files, sizes) is written last. An artifact
without its marker does not exist. Reads download into a local cache and check
the hash of the bytes received.
"""

from __future__ import annotations

import contextlib
import json
import os
import warnings
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

from zplan.artifacts.base import (
    _DIGEST,
    _READ_ONLY,
    DAMAGED,
    INTACT,
    MISSING,
    MARKER,
    ArtifactCorrupted,
    ArtifactNotFound,
    ArtifactStore,
    ArtifactStoreError,
    SourceFile,
    StoredArtifact,
    _inside,
    _place,
    _stream,
    check_digest,
    manifest,
    walk_order,
)
from zplan.artifacts.temp_area import TempArea, remove_tree
from zplan.diags import DiagnosticError
from zplan.hashing import canonical_json, combine, hash_tree

# An object store that does not answer is an error, not a hang. Seconds to connect; seconds
# S3 waits for each read from the connection (not the whole transfer); seconds one GCS request
# may take (gcsfs moves data in requests of one block, 5 MiB, and retries a request that
# times out while connecting or reading, but not one over this limit).
CONNECT_TIMEOUT = 10
READ_TIMEOUT = 30
GCS_REQUEST_TIMEOUT = 60
S3_RETRIES = 3  # s3fs retries a failed call; botocore's own retries are off so they do not multiply


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

    def get(self, digest: str, verify: bool = False) -> Path:
        target = self.cache_dir / check_digest(digest)
        if target.is_dir():
            if not verify or hash_tree(target) == digest:
                return target  # verified when it was downloaded; its files are read-only
            remove_tree(target)  # the local copy was damaged: fetch it again
        data = self._marker(digest)
        if data is None:
            raise ArtifactNotFound(f"artifact {digest} is not in {self.url}")
        with self.temp.folder() as tmp:
            self._download(digest, data, tmp)
            _place(tmp, target)
        return target

    def check(self, digest: str) -> str:
        try:
            data = self._marker(check_digest(digest))
            if data is None:
                return MISSING
            with self.temp.folder() as tmp:
                self._download(digest, data, tmp)
        except ArtifactCorrupted:
            return DAMAGED
        return INTACT

    def presence(self) -> Callable[[str], bool]:
        listed: dict[str, set[str]] = {}
        return lambda digest: digest in self._listed(check_digest(digest)[:2], listed)

    def _listed(self, prefix: str, memo: dict[str, set[str]]) -> set[str]:
        """The complete artifacts (those with a marker) under one prefix: one listing, remembered in ``memo``."""
        if prefix not in memo:
            with self._errors():
                try:
                    keys = self.fs.find(f"{self.root}/{prefix}/")
                except FileNotFoundError:
                    keys = []
            memo[prefix] = {k.rsplit("/", 2)[-2] for k in keys if k.endswith("/" + MARKER)}
        return memo[prefix]

    def delete(self, digest: str) -> None:
        key = self.key(check_digest(digest))
        with self._errors():
            with contextlib.suppress(FileNotFoundError):
                self.fs.rm_file(f"{key}/{MARKER}")  # gone as soon as the marker is
            with contextlib.suppress(FileNotFoundError):
                self.fs.rm(key, recursive=True)
        remove_tree(self.cache_dir / digest)

    def listing(self) -> list[StoredArtifact]:
        return self.inventory(uploads=False)[0]

    def inventory(self, uploads: bool = True) -> tuple[list[StoredArtifact], list[StoredArtifact]]:
        """One recursive listing of the prefix: the artifacts whose marker is there, and the
        digests with objects but no marker (an upload in progress or killed, a delete cut short)
        or, with ``uploads``, with S3 multipart uploads never finished."""
        with self._errors():
            try:
                objects = self.fs.find(self.root, detail=True)
            except FileNotFoundError:
                objects = {}
        sizes: dict[str, list[int]] = {}
        modified: dict[str, list[float | None]] = {}
        complete: set[str] = set()
        for key, info in objects.items():
            prefix, _, rest = key.removeprefix(self.root + "/").partition("/")
            digest, _, rel = rest.partition("/")
            if not (rel and _DIGEST.match(digest) and digest[:2] == prefix):
                continue
            modified.setdefault(digest, []).append(_modified(info))
            if rel == MARKER:
                complete.add(digest)
            else:
                sizes.setdefault(digest, []).append(int(info.get("size") or 0))
        pending = self._multipart_uploads() if uploads else {}
        for digest, (size, when) in pending.items():
            if digest not in complete:  # (those of a complete one are listed apart: ``unfinished``)
                modified.setdefault(digest, []).append(when)
                sizes.setdefault(digest, []).append(size)

        def listed(d: str) -> StoredArtifact:
            return StoredArtifact(d, self.uri(d), sum(sizes.get(d, [])), len(sizes.get(d, [])), modified=_newest(modified[d]))

        def unfinished(d: str) -> StoredArtifact:  # an artifact's upload begun again and killed: only its parts
            return StoredArtifact(d, self.uri(d), pending[d][0], 0, modified=pending[d][1])

        return ([listed(d) for d in sorted(complete)],
                sorted([listed(d) for d in set(modified) - complete] + [unfinished(d) for d in complete & set(pending)],
                       key=lambda a: a.digest))

    def _multipart_uploads(self) -> dict[str, tuple[int, float | None]]:
        """digest -> (bytes, newest time) of the S3 multipart uploads begun under the prefix and never
        finished (a file of 50 MiB or more whose upload was killed): their parts are stored, and
        billed, but no listing shows them. GCS keeps no such parts."""
        found: dict[str, tuple[int, float | None]] = {}
        if self.protocol != "s3":
            return found
        with self._errors():
            try:
                uploads = list(self._uploads())
            except PermissionError:  # a role that may list objects but not uploads: gc goes on without them
                return found
        for key, upload in uploads:
            prefix, _, rest = key.removeprefix(self.root + "/").partition("/")
            digest = rest.partition("/")[0]
            if _DIGEST.match(digest) and digest[:2] == prefix:
                size, times = self._parts(key, upload)
                before = found.get(digest, (0, 0.0))
                found[digest] = (before[0] + size, _newest([before[1], *times]))
        return found

    def _uploads(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """(bucket/key, upload) of each unfinished multipart upload under the prefix (S3's errors raised as they come)."""
        bucket, _, path = self.root.partition("/")
        page: dict[str, Any] = {"Bucket": bucket, "Prefix": f"{path}/" if path else ""}
        while True:
            out = self.fs.call_s3("list_multipart_uploads", **page)
            for upload in out.get("Uploads", []):
                yield f"{bucket}/{upload['Key']}", upload
            if not out.get("IsTruncated"):
                return
            page.update(KeyMarker=out["NextKeyMarker"], UploadIdMarker=out["NextUploadIdMarker"])

    def _parts(self, key: str, upload: Mapping[str, Any]) -> tuple[int, list[float | None]]:
        bucket, _, name = key.partition("/")
        page: dict[str, Any] = {"Bucket": bucket, "Key": name, "UploadId": upload["UploadId"]}
        size, times = 0, [_modified({"LastModified": upload.get("Initiated")})]
        with self._errors():
            while True:
                out = self.fs.call_s3("list_parts", **page)
                for part in out.get("Parts", []):
                    size += int(part.get("Size") or 0)
                    times.append(_modified(part))
                if not out.get("IsTruncated"):
                    return size, times
                page["PartNumberMarker"] = out["NextPartNumberMarker"]

    def delete_incomplete(self, digest: str, listed_at: float | None = None) -> None:
        key = self.key(check_digest(digest))
        with self._errors():
            for name, upload in self._uploads() if self.protocol == "s3" else ():
                begun = _modified({"LastModified": upload.get("Initiated")})
                # (an upload begun after the listing is in progress: not the leftover listed)
                if name.startswith(key + "/") and (listed_at is None or (begun is not None and begun <= listed_at)):
                    bucket, _, rest = name.partition("/")
                    self.fs.call_s3("abort_multipart_upload", Bucket=bucket, Key=rest, UploadId=upload["UploadId"])
        # An upload that has just written its marker is an artifact now: it is not the leftover listed.
        if not self._present(digest):
            with self._errors(), contextlib.suppress(FileNotFoundError):
                self.fs.rm(key, recursive=True)

    def _present(self, digest: str) -> bool:
        with self._errors():
            return bool(self.fs.exists(f"{self.key(digest)}/{MARKER}"))

    def renew(self, digest: str) -> bool:
        return self._freshen(check_digest(digest))  # (it reads the marker: no request to ask first)

    def _freshen(self, digest: str) -> bool:
        # An object's time cannot be set: the marker is written again, as it was (one small PUT).
        marker = f"{self.key(digest)}/{MARKER}"
        with self._errors():
            try:
                data = self.fs.cat_file(marker)
            except FileNotFoundError:
                return False
        # Where the writer may create objects but not replace them (GCS's objectCreator role),
        # the artifact is served as it is, not renewed.
        with contextlib.suppress(*_remote_errors(self.protocol)):
            self.fs.pipe_file(marker, data)
        return True

    def _write(self, digest: str, entries: list[SourceFile]) -> None:
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
        return self.damaged(digest, f"the stored copy at {self.uri(digest)} is corrupted: {why}")

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        """Turn the object store's failures (no bucket, no access, no server) into one clear error."""
        try:
            yield
        except DiagnosticError:
            raise
        except _remote_errors(self.protocol) as e:
            if isinstance(e, TimeoutError) or "Timeout" in type(e).__name__:
                raise ArtifactStoreError(
                    f"artifact store {self.url} did not answer in time ({type(e).__name__}: {e})".replace(": )", ")"),
                    "check the endpoint address and the network: the server could not be reached or stopped answering",
                ) from e
            raise ArtifactStoreError(f"artifact store {self.url} failed: {e}", _hint(self.protocol)) from e

    def _ref(self, digest: str) -> StoredArtifact:
        data = self._marker(digest) or {}
        files = data.get("files", {})
        return StoredArtifact(digest, self.uri(digest), sum(files.values()), len(files))


def _modified(info: Mapping[str, Any]) -> float | None:
    """When an object was last written, from a listing: S3's ``LastModified`` (a datetime),
    GCS's ``updated`` (RFC 3339 text); None when the server does not say."""
    value = info.get("LastModified") or info.get("updated")
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if not isinstance(value, datetime):
        return None
    return (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).timestamp()  # both servers give UTC


def _newest(times: list[float | None]) -> float | None:
    """An artifact's time: its newest object's (the marker, written last or again); None if any is unknown."""
    return None if None in times else max(times)


def _open_filesystem(url: str, protocol: str, options: Mapping[str, Any]) -> Any:
    # No listing cache: another process may add an artifact at any time. Instances are
    # shared per options (fsspec rebuilds them after a fork): a new S3 client costs ~0.5 s.
    opts = {"use_listings_cache": False, **options}
    try:
        if protocol == "s3":
            import s3fs

            limits = {"connect_timeout": CONNECT_TIMEOUT, "read_timeout": READ_TIMEOUT, "retries": {"max_attempts": 1}}
            opts["config_kwargs"] = {**limits, **opts.get("config_kwargs", {})}
            fs = s3fs.S3FileSystem(**opts)
            fs.retries = S3_RETRIES  # a class attribute (5), not an option
            return fs
        # Read by gcsfs at import time; its default (true) stalls every call on a gRPC handshake.
        os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")
        # google-api-core warns about future Python support on import and first use: noise in
        # every command's output and every step's log, and nothing the user can act on here.
        warnings.filterwarnings("ignore", message="You are using a Python version", category=FutureWarning)
        from gcsfs.core import GCSFileSystem

        if "token" not in opts and os.environ.get("STORAGE_EMULATOR_HOST"):
            opts["token"] = "anon"  # the emulator takes no credentials
        if "requests_timeout" not in opts:  # gcsfs waits forever by default
            import aiohttp

            opts["requests_timeout"] = aiohttp.ClientTimeout(total=GCS_REQUEST_TIMEOUT, sock_connect=CONNECT_TIMEOUT)
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
