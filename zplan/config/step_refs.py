"""A step output referenced by an expression: kept symbolic (``StepOutputRef``) until the plan or
the apply knows its value, then replaced (``map_step_refs``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from zplan.config.once import computed_once


@dataclass(frozen=True)
class StepOutputRef:
    """A reference to one output of a step, kept symbolic until apply."""

    __zplan_symbolic__ = True

    pipeline: str
    step: str  # with its instance key
    output: str
    module: str = ""  # the module instance path ("" for the root)

    @computed_once  # asked for its sensitivity, then planned (frozen: its fields never change)
    def address(self) -> str:
        own = f"pipeline.{self.pipeline}.step.{self.step}"
        return f"{self.module}.{own}" if self.module else own

    def __str__(self) -> str:
        return f"step.{self.step}.outputs.{self.output}"


def map_step_refs(value: Any, replace: Callable[[StepOutputRef], Any]) -> Any:
    """``value`` with every step output reference in it (at any depth) replaced."""
    if isinstance(value, StepOutputRef):
        return replace(value)
    if isinstance(value, dict):
        return {k: map_step_refs(v, replace) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [map_step_refs(v, replace) for v in value]
    return value
