"""ML Metadata recording: runs, step executions, artifacts and their lineage.

Importing this package does not import ML Metadata; a store loads it on first use.
"""

from __future__ import annotations

from zplan.metadata.who import applier
from zplan.metadata.git import git_info
from zplan.metadata.records import (
    Applier,
    ArtifactRecord,
    ArtifactView,
    ExecutionRecord,
    ExecutionView,
    GitInfo,
    LineageNode,
    RunDetail,
    RunSummary,
    StepReason,
)
from zplan.metadata.store import MetadataStore

__all__ = [
    "Applier",
    "ArtifactRecord",
    "ArtifactView",
    "ExecutionRecord",
    "ExecutionView",
    "GitInfo",
    "LineageNode",
    "MetadataStore",
    "RunDetail",
    "RunSummary",
    "StepReason",
    "applier",
    "git_info",
]
