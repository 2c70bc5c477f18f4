"""Apache Beam steps: datasets as Parquet shards, runner choice from the stack.

Names are loaded on first use: importing apache_beam takes seconds, and code
that only reads a ``ShardedDataset`` (the materializer, plain pandas steps)
should not pay for it.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "beam_step": "zplan.beam.step",
    "BeamStepError": "zplan.beam.step",
    "ShardedDataset": "zplan.beam.dataset",
    "pipeline_options": "zplan.beam.runners",
    "cache_relevant": "zplan.beam.runners",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'zplan.beam' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
