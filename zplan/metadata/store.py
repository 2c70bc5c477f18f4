"""Runs, step executions and artifacts recorded in ML Metadata (MLMD).

Mapping: a ``zplan.Run`` context per apply (numbered 1, 2, 3... per store) under
a ``zplan.Pipeline`` context; a ``zplan.Step`` execution per step, its
``last_known_state`` COMPLETE, CACHED or FAILED; ``zplan.Artifact`` and
``zplan.DataSnapshot`` artifacts joined to it by INPUT/OUTPUT events whose path
keys are the input/output names. An artifact recorded again (same uri and
content, as a cached step's outputs are) is the same row.

MLMD is imported only when a store is first used, and nothing is created before
the first write: ``zplan plan`` reads, and must never write.
"""

from __future__ import annotations

from pathlib import Path

from zplan.metadata.reader import Reader
from zplan.metadata.urls import parse_store_url
from zplan.metadata.writer import Writer


class MetadataStore(Writer, Reader):
    """One ML Metadata store: ``writer`` records runs, ``reader`` shows them (see each module)."""

    @staticmethod
    def from_url(url: str, project_dir: Path, password: str | None = None) -> "MetadataStore":
        store = MetadataStore(parse_store_url(url, Path(project_dir), password))
        store.project_dir = Path(project_dir)
        return store
