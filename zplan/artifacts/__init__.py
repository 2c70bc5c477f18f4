"""Artifacts: the content-addressed store, materializers and data snapshots.

Importing this package is cheap: object-store clients (s3fs, gcsfs) and data
libraries (pandas, numpy, pyarrow, scikit-learn) load only when used.
"""

from __future__ import annotations

from zplan.artifacts.materializers import (
    Materializer,
    NoMaterializer,
    declared_version,
    get_materializer,
    materializer,
    materializer_for,
    unregister,
)
from zplan.artifacts.snapshot import snapshot
from zplan.artifacts.store import (
    ArtifactCorrupted,
    ArtifactNotFound,
    ArtifactStore,
    ArtifactStoreError,
    SourceChanged,
    StoredArtifact,
)

__all__ = [
    "ArtifactCorrupted",
    "ArtifactNotFound",
    "ArtifactStore",
    "ArtifactStoreError",
    "Materializer",
    "NoMaterializer",
    "SourceChanged",
    "StoredArtifact",
    "declared_version",
    "get_materializer",
    "materializer",
    "materializer_for",
    "snapshot",
    "unregister",
]
