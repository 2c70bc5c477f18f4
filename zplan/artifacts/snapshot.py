"""Data snapshots: an external input (a file or folder) frozen as an immutable artifact.

Steps then read the snapshot, never the live path, so a rerun sees exactly the
bytes its cache key was computed from.

Cost stays close to zero for unchanged inputs: files are hashed through the
stat cache (an unchanged 10 GB file is not read) and nothing is stored when the
digest is already there. A snapshot is a copy of its own: a local store clones
big files copy-on-write (reflinks) where the file system can and copies them
otherwise, so editing the input in place later never changes an earlier
snapshot. An input too big to copy can opt out with ``snapshot = "reference"``
on the step input: the step then reads the live file, and lineage says so.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from zplan.artifacts.store import ArtifactStore, SourceFile, StoredArtifact
from zplan.diags import fail
from zplan.hashing import StatCache

SNAPSHOT_MODES = ("copy", "reference")


def snapshot(path: Path, store: ArtifactStore, stat_cache: StatCache, sync_later: bool = False) -> StoredArtifact:
    """Store ``path`` (file or folder) unless its content is already stored.

    The caller saves ``stat_cache`` once after all its snapshots. ``sync_later``: see
    ``ArtifactStore.put`` (the caller must ``store.wait_synced()`` before recording the snapshot).
    """
    return store.put(_source(path), stat_cache=stat_cache, sync_later=sync_later)


def scanned_source(path: Path, store: ArtifactStore, stat_cache: StatCache) -> tuple[list[SourceFile], str]:
    """What ``snapshot`` would store (its files, their digests and stamps, the digest), for a
    worker to store with ``store.put_scanned``: the same checks, nothing written."""
    return store.scanned(_source(path), stat_cache)


def _source(path: Path) -> Path:
    path = Path(path).absolute()  # stat cache keys must not depend on the working directory
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise fail(f"input {path} does not exist", "create it, or fix the path the pipeline reads") from None
    if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        raise fail(f"input {path} is neither a file nor a folder")
    return path
