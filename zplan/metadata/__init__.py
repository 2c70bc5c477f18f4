"""ML Metadata recording: runs, step executions, artifacts and their lineage.

Importing this package does not import ML Metadata; a store loads it on first use. Nor does
it import its modules: each name is loaded when first asked for (``from zplan.metadata import
MetadataStore``), so a command that only reads ``zplan.metadata.urls`` (a no-change plan checking
the stack) pays for nothing else (``who`` imports socket and getpass, ``git`` subprocess).
"""

from __future__ import annotations

import importlib

_HOMES = {
    "applier": "who", "git_info": "git", "MetadataStore": "store",
    **dict.fromkeys(("Applier", "ArtifactRecord", "ArtifactView", "ExecutionRecord", "ExecutionView", "GitInfo",
                     "LineageNode", "RunDetail", "RunSummary", "StepReason"), "records"),
}

__all__ = sorted(_HOMES)


def __getattr__(name: str):
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_HOMES[name]}"), name)
    globals()[name] = value
    return value
