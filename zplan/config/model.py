"""The typed configuration model: what the HCL files declare, with where each part was written.

Values stay expressions here (``zplan.config.expr.Expr``); they are evaluated
later by ``zplan.config.scope`` once variables, state and upstream steps are known.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zplan.addrs import ResourceAddr, StepAddr
from zplan.diags import Range

if TYPE_CHECKING:
    from zplan.config.expr import Expr, Ref
    from zplan.config.step_resources import StepResources

NO_DEFAULT = object()


@dataclass
class Variable:
    name: str
    range: Range
    default: Any = NO_DEFAULT
    type: str = "any"  # string | number | bool | list | map | any
    description: str = ""
    sensitive: bool = False


@dataclass
class Local:
    name: str
    expr: "Expr"
    range: Range


@dataclass
class StepConfig:
    pipeline: str
    name: str
    source: str  # "path/to/file.py:function" as written
    source_range: Range
    range: Range
    inputs: "Expr | None" = None  # an object: name -> step.X.outputs.Y or a project path
    params: "Expr | None" = None  # an object: name -> value
    outputs: list[str] | None = None  # declared in HCL; otherwise read from the decorator
    depends_on: list["Ref"] = field(default_factory=list)
    timeout: float | None = None  # seconds; the stack's step_timeout applies when None
    resources: "StepResources | None" = None  # what the step needs (cpu, memory, gpu): for placement
    cache: bool = True  # false: the step runs on every apply

    @property
    def addr(self) -> StepAddr:
        return StepAddr(self.pipeline, self.name)

    @property
    def file(self) -> str:
        return self.source.rsplit(":", 1)[0]

    @property
    def function(self) -> str:
        return self.source.rsplit(":", 1)[1]


@dataclass
class Pipeline:
    name: str
    range: Range
    steps: dict[str, StepConfig] = field(default_factory=dict)


@dataclass
class Output:
    name: str
    expr: "Expr"
    range: Range
    description: str = ""
    sensitive: bool = False


@dataclass
class Stack:
    name: str
    range: Range
    settings: dict[str, "Expr"] = field(default_factory=dict)


@dataclass
class Lifecycle:
    prevent_destroy: bool = False
    create_before_destroy: bool = False
    ignore_changes: list[str] = field(default_factory=list)


@dataclass
class ResourceConfig:
    type: str
    name: str
    range: Range
    attributes: dict[str, "Expr"] = field(default_factory=dict)
    attribute_ranges: dict[str, Range] = field(default_factory=dict)
    depends_on: list["Ref"] = field(default_factory=list)
    lifecycle: Lifecycle = field(default_factory=Lifecycle)

    @property
    def addr(self) -> ResourceAddr:
        return ResourceAddr(self.type, self.name)


@dataclass
class ProviderConfig:
    name: str
    range: Range
    settings: dict[str, "Expr"] = field(default_factory=dict)


@dataclass
class Config:
    """Everything declared in one project folder."""

    project_dir: Path
    files: list[Path] = field(default_factory=list)
    variables: dict[str, Variable] = field(default_factory=dict)
    locals: dict[str, Local] = field(default_factory=dict)
    pipelines: dict[str, Pipeline] = field(default_factory=dict)
    outputs: dict[str, Output] = field(default_factory=dict)
    stacks: dict[str, Stack] = field(default_factory=dict)
    resources: dict[str, ResourceConfig] = field(default_factory=dict)  # by str(addr)
    providers: dict[str, ProviderConfig] = field(default_factory=dict)
    _step_index: dict[str, StepConfig] | None = field(default=None, repr=False)

    def steps(self) -> list[StepConfig]:
        return [s for p in self.pipelines.values() for s in p.steps.values()]

    def step(self, addr: str) -> StepConfig | None:
        if self._step_index is None:
            self._step_index = {str(s.addr): s for s in self.steps()}
        return self._step_index.get(addr)
