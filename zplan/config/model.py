"""The typed configuration model: what the HCL files declare, with where each part was written.

Values stay expressions here (``zplan.config.expr.Expr``); they are evaluated
later by ``zplan.config.scope`` once variables, state and upstream steps are known.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zplan.addrs import ResourceAddr, StepAddr
from zplan.config.once import computed_once
from zplan.config.types import ANY, Type
from zplan.diags import Range

if TYPE_CHECKING:
    from zplan.config.expr import Expr, Ref
    from zplan.config.scripts import ScriptConfig
    from zplan.config.step_resources import StepResources

NO_DEFAULT = object()


@dataclass
class Validation:
    """A ``validation { condition, error_message }`` block of a variable."""

    condition: "Expr"  # refers only to the variable itself
    error_message: "Expr"
    range: Range


@dataclass
class Variable:
    """A ``variable`` block: its type constraint, default and validations."""

    name: str
    range: Range
    default: Any = NO_DEFAULT
    type: Type = ANY
    description: str = ""
    sensitive: bool = False
    validations: list[Validation] = field(default_factory=list)


@dataclass
class Local:
    """One entry of a ``locals`` block."""

    name: str
    expr: "Expr"
    range: Range


@dataclass
class StepConfig:
    """A ``step`` block (or one instance of it, after expansion)."""

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
    repeat: "Repeat | None" = None  # count / for_each as written (None: one instance)
    where: "Where | None" = None  # the module instance and key it was expanded in (None: the root, no key)
    script: "ScriptConfig | None" = None  # a command step (zplan.config.scripts): source is then ""
    tfx: str | None = None  # a TFX standard component run as this step (zplan.tfx); source is then ""
    resources: "StepResources | None" = None  # what the step needs (cpu, memory, gpu): for placement
    cache: bool = True  # false: the step runs on every apply
    backend: str | None = None  # "vertex" / "sagemaker": run as that service's training job (zplan.backends)

    @property
    def addr(self) -> StepAddr:
        return StepAddr(self.pipeline, self.name, self.where.module.path if self.where else "")

    @computed_once  # (nothing assigns pipeline, name or where after a step is made)
    def address(self) -> str:
        """``str(self.addr)`` without making the record (asked a few times per step on every plan)."""
        own = f"pipeline.{self.pipeline}.step.{self.name}"
        module = self.where.module.path if self.where else ""
        return f"{module}.{own}" if module else own

    @property
    def file(self) -> str:
        return self.source.rpartition(":")[0]

    @property
    def function(self) -> str:
        return self.source.rpartition(":")[2]


@dataclass
class Pipeline:
    """A ``pipeline`` block and its steps, by name."""

    name: str
    range: Range
    steps: dict[str, StepConfig] = field(default_factory=dict)


@dataclass
class Output:
    """An ``output`` block: a value shown after apply and read by `zplan output`."""

    name: str
    expr: "Expr"
    range: Range
    description: str = ""
    sensitive: bool = False


@dataclass
class Stack:
    """A ``stack`` block: where steps run and artifacts, metadata and state are kept."""

    name: str
    range: Range
    settings: dict[str, "Expr"] = field(default_factory=dict)
    setting_ranges: dict[str, Range] = field(default_factory=dict)  # where each setting is written


@dataclass
class Lifecycle:
    """A resource's ``lifecycle`` block."""

    prevent_destroy: bool = False
    create_before_destroy: bool = False
    ignore_changes: list[str] = field(default_factory=list)
    ignore_changes_range: Range | None = None  # where ignore_changes is written, for its errors


@dataclass
class ResourceConfig:
    """A ``resource`` block: its attributes stay expressions until planned."""

    type: str
    name: str
    range: Range
    attributes: dict[str, "Expr"] = field(default_factory=dict)
    attribute_ranges: dict[str, Range] = field(default_factory=dict)
    depends_on: list["Ref"] = field(default_factory=list)
    lifecycle: Lifecycle = field(default_factory=Lifecycle)
    repeat: "Repeat | None" = None
    where: "Where | None" = None

    @property
    def addr(self) -> ResourceAddr:
        return ResourceAddr(self.type, self.name, self.where.module.path if self.where else "")


@dataclass(frozen=True)
class Repeat:
    """``count = N`` or ``for_each = MAP_OR_SET`` on a block, as written."""

    kind: str  # "count" | "for_each"
    expr: "Expr"
    range: Range


@dataclass
class ModuleCall:
    """``module "NAME" { source = ..., inputs... }``."""

    name: str
    source: str
    range: Range
    source_range: Range
    inputs: dict[str, "Expr"] = field(default_factory=dict)
    input_ranges: dict[str, Range] = field(default_factory=dict)
    depends_on: list["Ref"] = field(default_factory=list)
    repeat: Repeat | None = None


@dataclass(frozen=True)
class Moved:
    """``moved { from = OLD, to = NEW }``: addresses as canonical strings."""

    from_addr: str
    to_addr: str
    range: Range


@dataclass(frozen=True)
class Each:
    """The key of one instance: ``count.index`` (an int) or ``each.key`` / ``each.value``."""

    key: str | int
    value: Any


@dataclass(eq=False)
class ModuleInstance:
    """One instance of a module (the root is one too, with path "" and no call)."""

    path: str  # "" | module.a | module.a["x"].module.b
    config: "Config"  # the module's declarations, as loaded from its folder
    call: ModuleCall | None = None
    parent: "ModuleInstance | None" = None
    each: Each | None = None

    def child_path(self, name: str, key_suffix: str = "") -> str:
        own = f"module.{name}{key_suffix}"
        return f"{self.path}.{own}" if self.path else own


@dataclass(frozen=True, eq=False)
class Where:
    """Where an expression of an expanded block is evaluated: its module instance and its key."""

    module: ModuleInstance
    each: Each | None = None


@dataclass(frozen=True)
class Instances:
    """The instance keys of one declared block: None for a block without count / for_each."""

    kind: str  # "single" | "count" | "for_each"
    keys: tuple = ()


SINGLE = Instances("single")  # (frozen: every block without count or for_each shares it)


@dataclass
class ProviderConfig:
    """A ``provider`` block: settings handed to the provider plugin of that name."""

    name: str
    range: Range
    settings: dict[str, "Expr"] = field(default_factory=dict)
    setting_ranges: dict[str, Range] = field(default_factory=dict)  # where each setting is written


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
    modules: dict[str, ModuleCall] = field(default_factory=dict)
    moved: list[Moved] = field(default_factory=list)
    read_files: set[Path] = field(default_factory=set)  # read by file(), templatefile(), ... while evaluating
    # after expansion (zplan.config.expand): declared address (no key) -> its instances,
    # and the module instances by path ("" the root)
    instances: dict[str, Instances] = field(default_factory=dict)
    module_instances: dict[str, ModuleInstance] = field(default_factory=dict)
    _step_index: dict[str, StepConfig] | None = field(default=None, repr=False)

    def steps(self) -> list[StepConfig]:
        return [s for p in self.pipelines.values() for s in p.steps.values()]

    def step(self, addr: str) -> StepConfig | None:
        if self._step_index is None:
            self._step_index = {s.address: s for s in self.steps()}
        return self._step_index.get(addr)
