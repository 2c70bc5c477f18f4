"""What a running step may know about its run (set by the executor, read by step code).

Step functions stay plain Python; code that needs the run's context (a Beam step
building its pipeline options, a step writing scratch files) calls ``current()``.
"""

from __future__ import annotations

import contextlib
import contextvars
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping


@dataclass(frozen=True)
class StepContext:
    address: str  # pipeline.NAME.step.STEP
    run_id: int
    project_dir: Path
    artifact_store_url: str
    scratch_dir: Path  # private temporary folder, removed after the step
    stack: Mapping[str, Any] = field(default_factory=dict)  # the stack's settings (processing, ...)


_current: contextvars.ContextVar[StepContext | None] = contextvars.ContextVar("zplan_step", default=None)


def current() -> StepContext | None:
    return _current.get()


@contextlib.contextmanager
def running(ctx: StepContext) -> Iterator[StepContext]:
    token = _current.set(ctx)
    try:
        yield ctx
    finally:
        _current.reset(token)
