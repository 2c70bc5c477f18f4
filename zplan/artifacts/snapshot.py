"""Data snapshots: an external input (a file or folder) frozen as an immutable artifact.

Steps then read the snapshot, never the live path, so a rerun sees exactly the
bytes its cache key was computed from.

Cost stays close to zero for unchanged inputs: files are hashed through the
stat cache (an unchanged 10 GB file is not read) and nothing is stored when the
digest is already there.

A local store on the same file system hard-links big files (``LINK_MIN_BYTES``
and up) instead of copying them, so a 10 GB input is not held twice. A link
shares the input's bytes: that is safe from the store's side because it never
writes to a stored file, but an input rewritten in place (``open(path, "w")``)
changes the snapshot of its earlier version too. The store notices at the next
``get`` (sizes and mtimes, then the content) and refuses the damaged copy
rather than serve wrong bytes; the new content gets a new snapshot as usual.
Small files are always copied: for them a copy is cheap and keeps every
earlier snapshot intact.
"""

from __future__ import annotations

from pathlib import Path

from zplan.artifacts.store import ArtifactStore, LocalArtifactStore, StoredArtifact
from zplan.diags import fail
from zplan.hashing import StatCache

LINK_MIN_BYTES = 64 * 1024 * 1024


def snapshot(path: Path, store: ArtifactStore, stat_cache: StatCache) -> StoredArtifact:
    """Store ``path`` (file or folder) unless its content is already stored.

    The caller saves ``stat_cache`` once after all its snapshots.
    """
    path = Path(path).absolute()  # stat cache keys must not depend on the working directory
    if not path.exists():
        raise fail(f"input {path} does not exist", "create it, or fix the path the pipeline reads")
    if not (path.is_file() or path.is_dir()):
        raise fail(f"input {path} is neither a file nor a folder")
    link = LINK_MIN_BYTES if isinstance(store, LocalArtifactStore) else None
    return store.put(path, stat_cache=stat_cache, link_min_bytes=link)
