"""The read-only Python API: ``zplan.open(path, stack)`` -> ``Project`` (runs, artifacts, outputs, plan).

Every error it raises is a ``ZplanAPIError``; see ``zplan.api.errors`` for each kind.
"""

from __future__ import annotations

from zplan.api.artifact import Artifact, Execution
from zplan.api.errors import (
    ArtifactDamaged,
    InvalidProject,
    MaterializerMissing,
    RunNotFound,
    SensitiveOutput,
    StoreUnreachable,
    UnknownAddress,
    UnknownOutput,
    ZplanAPIError,
)
from zplan.api.project import Project, open
from zplan.api.views import Graph, GraphNode, MetricPoint, PlanFileOutside, Resource

__all__ = ["Project", "open", "Artifact", "Execution", "ZplanAPIError", "UnknownAddress", "UnknownOutput",
           "SensitiveOutput", "RunNotFound", "StoreUnreachable", "ArtifactDamaged", "InvalidProject", "MaterializerMissing",
           "Resource", "MetricPoint", "Graph", "GraphNode", "PlanFileOutside"]
