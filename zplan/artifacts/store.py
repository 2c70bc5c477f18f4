"""The artifact store: one import point for the contract and its two kinds.

See ``zplan.artifacts.base`` (the contract, shared helpers), ``.local`` (a
folder) and ``.remote`` (S3 / GCS).
"""

from __future__ import annotations

from zplan.artifacts.base import (
    MARKER,
    ArtifactCorrupted,
    ArtifactNotFound,
    ArtifactStore,
    ArtifactStoreError,
    SourceChanged,
    SourceFile,
    StoredArtifact,
    check_digest,
    scan,
    tree_digest,
    walk_order,
)
from zplan.artifacts.local import LocalArtifactStore
from zplan.artifacts.remote import RemoteArtifactStore

__all__ = [
    "MARKER",
    "ArtifactCorrupted",
    "ArtifactNotFound",
    "ArtifactStore",
    "ArtifactStoreError",
    "LocalArtifactStore",
    "RemoteArtifactStore",
    "SourceChanged",
    "SourceFile",
    "StoredArtifact",
    "check_digest",
    "scan",
    "tree_digest",
    "walk_order",
]
