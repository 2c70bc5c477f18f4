"""The project's files, shipped to Dask workers as one zip keyed by its content digest.

Workers are other machines (here: other working folders), so step code cannot be
imported from the client's path. The client zips the project folder (without state,
version control, virtual environments and byte code) in a fixed order with fixed
timestamps, so the same files give the same digest, and uploads it with Dask's own
mechanism (``Client.upload_file``: every worker gets it, and so does a worker that
joins or restarts later). A worker unpacks a digest once into its own folder and every
later step of that digest runs there. A step whose code files were edited since the bundle
was made gets a new one (``outdated``), so what runs is what its cache key was computed from.
"""

from __future__ import annotations

import io
import os
import shutil
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from zplan import diags
from zplan.hashing import hash_bytes

SKIPPED_DIRS = {".zplan", ".git", ".hg", ".venv", "venv", "__pycache__", "node_modules", ".ipynb_checkpoints"}
MAX_BUNDLE_BYTES = 200 * 1024 * 1024  # beyond this, data belongs in the artifact store, not the code bundle
_FIXED_TIME = (2020, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class Bundle:
    digest: str
    data: bytes
    stamps: dict[str, tuple[int, int, int]] = field(default_factory=dict)  # file -> its stamp when zipped


def make_bundle(project_dir: Path) -> Bundle:
    buffer = io.BytesIO()
    total, stamps = 0, {}
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in _project_files(project_dir):
            st = path.stat()  # (before reading: an edit after it leaves the file outdated, never taken as zipped)
            stamps[path.relative_to(project_dir).as_posix()] = _stamp(st)
            total += st.st_size
            if total > MAX_BUNDLE_BYTES:
                raise diags.fail(
                    f"the project folder holds more than {MAX_BUNDLE_BYTES >> 20} MiB of files to ship to Dask workers",
                    "keep large data out of the project folder (a data input is stored in the artifact store), "
                    "or use an artifact_store and project folder every worker shares")
            info = zipfile.ZipInfo(path.relative_to(project_dir).as_posix(), _FIXED_TIME)
            info.external_attr = (st.st_mode & 0o777) << 16
            archive.writestr(info, path.read_bytes(), zipfile.ZIP_DEFLATED)
    data = buffer.getvalue()
    return Bundle(hash_bytes(data), data, stamps)


def outdated(bundle: Bundle, project_dir: Path, files) -> list[str]:
    """Which of ``files`` (relative to ``project_dir``) the bundle does not hold as they are now:
    edited, created or removed since it was made."""
    found = []
    for rel in sorted(f for f in files if _shipped(f)):
        try:
            now = _stamp(os.stat(project_dir / rel))
        except OSError:
            now = None
        if bundle.stamps.get(rel) != now:
            found.append(rel)
    return found


def _shipped(rel: str) -> bool:
    """Whether ``make_bundle`` would hold the file ``rel`` (``_project_files``' rules)."""
    parts = Path(rel).parts
    return bool(parts) and not Path(rel).is_absolute() and ".." not in parts and not _skipped_file(parts[-1]) \
        and not any(part in SKIPPED_DIRS for part in parts[:-1])


def _skipped_file(name: str) -> bool:
    return name.endswith(".pyc")


def _stamp(st: os.stat_result) -> tuple[int, int, int]:
    return st.st_size, st.st_mtime_ns, st.st_ctime_ns  # (ctime: a program cannot set it back)


def _project_files(root: Path) -> list[Path]:
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS)
        found += [Path(folder) / f for f in sorted(files) if not _skipped_file(f) and os.path.isfile(Path(folder) / f)]
    return found


def file_name(digest: str) -> str:
    return f"zplan-project-{digest.replace(':', '-')}.zip"


def unpacked(digest: str, base: Path) -> Path:
    """The folder holding the bundle ``digest`` (uploaded into ``base``), unpacked on first use
    (temp, then rename, so two steps arriving at once never see half a project)."""
    target = base / "zplan-projects" / digest.replace(":", "-")
    if target.is_dir():
        return target
    archive_path = base / file_name(digest)
    if not archive_path.is_file():
        raise FileNotFoundError(f"the project bundle {archive_path.name} was not uploaded to this worker")
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".unpack-", dir=target.parent))
    with zipfile.ZipFile(archive_path) as archive:
        archive.extractall(scratch)
    try:
        os.rename(scratch, target)
    except OSError:  # another step unpacked it first
        shutil.rmtree(scratch, ignore_errors=True)
    return target
