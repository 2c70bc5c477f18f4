"""The plan: an immutable list of what will happen to each step and resource, and why.

Actions and reasons are two separate, fixed vocabularies: the action drives
apply, the reason is only for people. Their string values are stable because
they appear in the JSON plan (see ``zplan.plan.jsonplan``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Any, Union

from zplan.hashing import hash_value
from zplan.actions import Action
from zplan.state.model import CacheEntry


class ReasonCode(str, Enum):
    """Why a node changes: for people only, never read by apply."""

    def __str__(self) -> str:
        return self.value

    NEVER_RAN = "never_ran"  # steps
    PREVIOUS_FAILED = "previous_failed"
    CODE_CHANGED = "code_changed"
    PARAMS_CHANGED = "params_changed"
    INPUT_CHANGED = "input_changed"
    UPSTREAM_RERUNS = "upstream_reruns"
    ENV_CHANGED = "environment_changed"
    LIBRARY_CHANGED = "library_changed"
    MATERIALIZER_CHANGED = "materializer_changed"
    OUTPUTS_MISSING = "outputs_missing"
    ARTIFACT_MISSING = "artifact_missing"  # a cached output is no longer in the artifact store
    ARTIFACT_DAMAGED = "artifact_damaged"  # a cached output no longer hashes to its digest
    KNOWN_AFTER_APPLY = "known_after_apply"
    REPLACE_REQUESTED = "replace_requested"
    CACHE_DISABLED = "cache_disabled"  # the step says cache = false
    RESOURCE_CHANGED = "resource_changed"  # a step reads a resource created, updated or replaced
    FILE_READ_CHANGED = "file_read_changed"  # a project file its code read undeclared (zplan.plan.file_reads)
    NEW_IN_CONFIG = "new_in_config"  # resources
    REMOVED_FROM_CONFIG = "removed_from_config"
    ATTRIBUTES_CHANGED = "attributes_changed"
    FORCES_REPLACEMENT = "forces_replacement"
    GONE_OUTSIDE = "deleted_outside_zplan"
    DRIFTED = "drifted"
    PROVIDER_CHANGED = "provider_changed"  # a provider block setting the resource takes by default


# Short names, as the rest of the code spells them.
RUN, CACHED = Action.RUN, Action.CACHED
CREATE, UPDATE, REPLACE, DELETE, NOOP = Action.CREATE, Action.UPDATE, Action.REPLACE, Action.DELETE, Action.NOOP
NEVER_RAN, PREVIOUS_FAILED, CODE_CHANGED, PARAMS_CHANGED = ReasonCode.NEVER_RAN, ReasonCode.PREVIOUS_FAILED, ReasonCode.CODE_CHANGED, ReasonCode.PARAMS_CHANGED
INPUT_CHANGED, UPSTREAM_RERUNS, ENV_CHANGED, MATERIALIZER_CHANGED = ReasonCode.INPUT_CHANGED, ReasonCode.UPSTREAM_RERUNS, ReasonCode.ENV_CHANGED, ReasonCode.MATERIALIZER_CHANGED
OUTPUTS_MISSING, KNOWN_AFTER_APPLY, REPLACE_REQUESTED, NEW_IN_CONFIG = ReasonCode.OUTPUTS_MISSING, ReasonCode.KNOWN_AFTER_APPLY, ReasonCode.REPLACE_REQUESTED, ReasonCode.NEW_IN_CONFIG
REMOVED_FROM_CONFIG, ATTRIBUTES_CHANGED, FORCES_REPLACEMENT, GONE_OUTSIDE = ReasonCode.REMOVED_FROM_CONFIG, ReasonCode.ATTRIBUTES_CHANGED, ReasonCode.FORCES_REPLACEMENT, ReasonCode.GONE_OUTSIDE
DRIFTED, RESOURCE_CHANGED, PROVIDER_CHANGED = ReasonCode.DRIFTED, ReasonCode.RESOURCE_CHANGED, ReasonCode.PROVIDER_CHANGED
LIBRARY_CHANGED, ARTIFACT_MISSING, ARTIFACT_DAMAGED = ReasonCode.LIBRARY_CHANGED, ReasonCode.ARTIFACT_MISSING, ReasonCode.ARTIFACT_DAMAGED
FILE_READ_CHANGED = ReasonCode.FILE_READ_CHANGED
REASON_CODES = tuple(ReasonCode)


@dataclass(frozen=True)
class Reason:
    """Why a step reruns or a resource changes: a stable code and the text shown to the user."""

    code: ReasonCode
    message: str  # human text, e.g. "params.c: 1.0 -> 0.5"

    def to_json(self) -> dict:
        return {"code": self.code.value, "message": self.message}


# -- step inputs --------------------------------------------------------------------------------


@dataclass(frozen=True)
class DataInput:
    """A file or folder of the project, fingerprinted by content."""

    path: str  # relative to the project folder
    digest: str
    reference: bool = False  # snapshot = "reference": read in place, never copied into the store
    file_name: str | None = None  # a file's own name, which the step sees in its snapshot's path (None: a folder)

    def to_json(self) -> dict:
        out = {"kind": "data", "path": self.path, "digest": self.digest}
        if self.reference:
            out["snapshot"] = "reference"
        return out


@dataclass(frozen=True)
class StepOutputInput:
    """One output of an upstream step; its digest is None while that step still has to run."""

    step: str  # the upstream step's address
    output: str
    digest: str | None
    loader: str | None = None  # "pandas.arrow 2": the materializer that loads it for the step, and its version

    def to_json(self) -> dict:
        return {"kind": "step", "step": self.step, "output": self.output, "digest": self.digest}


@dataclass(frozen=True)
class ListInput:
    """Several upstream outputs handed to the step as one list, or a map by key (a fan-in)."""

    items: tuple[StepOutputInput, ...]
    keys: tuple[str, ...] | None = None  # a map fan-in ({ for k, s in step.train : k => s.outputs.score }): one key per item

    @property
    def digest(self) -> str | None:
        digests = [i.digest for i in self.items]
        if None in digests:
            return None
        return hash_value(digests if self.keys is None else dict(zip(self.keys, digests)))

    def to_json(self) -> dict:
        if self.keys is not None:
            return {"kind": "map", "keys": list(self.keys), "items": [i.to_json() for i in self.items]}
        return {"kind": "list", "items": [i.to_json() for i in self.items]}


StepInput = Union[DataInput, StepOutputInput, ListInput]


def upstream_inputs(inputs: dict[str, StepInput]) -> list[StepOutputInput]:
    """Every upstream output among ``inputs``, lists flattened."""
    out: list[StepOutputInput] = []
    for spec in inputs.values():
        if isinstance(spec, StepOutputInput):
            out.append(spec)
        elif isinstance(spec, ListInput):
            out.extend(spec.items)
    return out


# -- plans --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StepPlan:
    """What the plan does with one step instance (run or cached), and why."""

    address: str
    pipeline: str
    step: str
    action: Action  # RUN | CACHED
    reasons: list[Reason] = field(default_factory=list)
    cache_key: str | None = None  # None while an input is known only after apply
    code_hash: str = ""
    code_parts: dict[str, str] = field(default_factory=dict)  # "pkg/helpers.py:h" -> digest, per definition reached
    libraries: dict[str, str] = field(default_factory=dict)  # installed distribution -> version, for what the code imports
    materializers: dict[str, str] = field(default_factory=dict)  # name -> "TYPE in FILE": registered by the project modules it imports
    source: str = ""
    tfx: str | None = None  # the TFX component the step runs instead of a source function
    params: dict[str, Any] = field(default_factory=dict)  # real values (never serialised as is)
    inputs: dict[str, StepInput] = field(default_factory=dict)
    resources: dict[str, str | None] = field(default_factory=dict)  # resources read -> digest of their applied record
    outputs: list[str] | None = None
    cached_from: CacheEntry | None = None  # the execution reused, when CACHED
    depends_on: list[str] = field(default_factory=list)
    sensitive_outputs: bool = False  # it receives a sensitive value (or says so): its outputs are sealed, never shown


_STEP_PLAN_FIELDS = frozenset(StepPlan.__dataclass_fields__)


def step_plan(**fields: Any) -> StepPlan:
    """``StepPlan(**fields)`` given every field, made without the frozen class's ``__init__``
    (one ``object.__setattr__`` per field, 18 of them: ~1.3 of its ~2 us, for each step of every plan)."""
    if fields.keys() != _STEP_PLAN_FIELDS:
        return StepPlan(**fields)
    plan = object.__new__(StepPlan)
    plan.__dict__.update(fields)
    return plan


def changed_since_planned(planned: StepPlan, now: StepPlan) -> str | None:
    """What differs between a step as planned and as re-planned when it starts, among what a
    plan knows before anything runs (code, data inputs, params), or None: a saved plan's steps
    must run exactly as reviewed. Upstream outputs are not compared: the plan could not know them."""
    if now.code_hash != planned.code_hash:
        return f"the code of {planned.address} changed"
    was, is_now = dict(_data_inputs(planned.inputs)), dict(_data_inputs(now.inputs))
    for path, digest in was.items():
        if is_now.get(path) != digest:
            return f"input data {path} of {planned.address} changed"
    from zplan.config.values import contains_unknown

    if not contains_unknown(planned.params) and now.params != planned.params:
        return f"the params of {planned.address} changed"
    return None


def file_names(inputs: dict[str, Any]) -> dict[str, str]:
    """Input name -> the file's own name, for each data input that is one file."""
    return {name: spec.file_name for name, spec in inputs.items() if isinstance(spec, DataInput) and spec.file_name}


def loaders(inputs: dict[str, Any]) -> dict[str, Any]:
    """Input name -> the materializer (and version) that loads each upstream output it gets:
    one for an output, the distinct ones of a list or map of them."""
    found: dict[str, Any] = {}
    for name, spec in inputs.items():
        if isinstance(spec, StepOutputInput):
            found[name] = spec.loader
        elif isinstance(spec, ListInput) and spec.items:  # (an empty fan-in is loaded by none)
            found[name] = sorted({i.loader for i in spec.items if i.loader is not None})
    return found


def _data_inputs(inputs: dict[str, Any]):
    """(path, digest) of every data input, in lists too."""
    for spec in inputs.values():
        for item in spec.items if isinstance(spec, ListInput) else (spec,):
            if isinstance(item, DataInput):
                yield item.path, item.digest


@dataclass(frozen=True)
class ResourcePlan:
    """What the plan does with one resource instance: its action, and its inputs before and after."""

    address: str
    type: str
    name: str
    provider: str
    action: Action  # CREATE | UPDATE | REPLACE | DELETE | NOOP
    before: dict[str, Any] | None
    after: dict[str, Any] | None  # desired inputs; UNKNOWN where known only after apply
    reasons: list[Reason] = field(default_factory=list)
    replace_because: list[str] = field(default_factory=list)  # attributes that force replacement
    sensitive: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)  # computed attributes known after apply
    depends_on: list[str] = field(default_factory=list)
    create_before_destroy: bool = False
    prevent_destroy: bool = False
    provider_settings: dict[str, Any] = field(default_factory=dict)  # those it takes, as state records them


@dataclass(frozen=True)
class Plan:
    """A whole plan: every step and resource planned, the outputs, and the state it was made against."""

    stack: str
    state_serial: int
    state_lineage: str
    store_key: str | None
    steps: tuple[StepPlan, ...] = ()
    resources: tuple[ResourcePlan, ...] = ()
    outputs: dict[str, dict] = field(default_factory=dict)  # name -> {"value", "known", "sensitive"; a changed one "before", "before_sensitive"}
    destroy: bool = False
    options: dict[str, Any] = field(default_factory=dict)  # targets, excludes, replace, vars (names only)
    secrets: list[str] = field(default_factory=list)  # values to mask anywhere they appear; never serialised
    created_at: str = ""
    moved: tuple[tuple[str, str], ...] = ()  # (old address, new address) moved in state by moved blocks
    edges: tuple[tuple[str, str], ...] = ()  # (needed, needing) between planned steps and resources
    other_stacks: tuple[tuple[str, str], ...] = ()  # (address, stack; "" unknown) of recorded resources left to another stack
    output_changes: tuple[tuple[str, str], ...] = ()  # (name, "add"|"change"|"remove"): recorded outputs apply would change
    restored: tuple[str, ...] = ()  # cached steps whose latest record is another run's: apply records them again, outs checked out
    checkouts: tuple[tuple[str, str, str], ...] = ()  # (out, step, reason): script outs apply writes back into the project folder

    def step(self, address: str) -> StepPlan | None:
        index = self.__dict__.get("_steps_by_address")
        if index is None:  # the plan never changes: index it once
            index = self.__dict__["_steps_by_address"] = {s.address: s for s in self.steps}
        return index.get(address)

    def resource(self, address: str) -> ResourcePlan | None:
        return next((r for r in self.resources if r.address == address), None)

    def only_step(self, address: str) -> "Plan":
        """A new plan of just this step (a task of an external orchestrator: upstream steps ran elsewhere)."""
        return replace(self, steps=tuple(s for s in self.steps if s.address == address), resources=())

    @property
    def steps_to_run(self) -> list[StepPlan]:
        return [s for s in self.steps if s.action == RUN]

    @property
    def resource_changes(self) -> list[ResourcePlan]:
        return [r for r in self.resources if r.action != NOOP]

    def has_changes(self) -> bool:
        return bool(self.steps_to_run or self.resource_changes or self.moved or self.output_changes or self.restored)

    def summary(self) -> dict[str, int]:
        count = lambda *actions: sum(1 for r in self.resources if r.action in actions)  # noqa: E731
        return {
            "add": count(CREATE, REPLACE),
            "change": count(UPDATE),
            "destroy": count(DELETE, REPLACE),
            "steps_run": len(self.steps_to_run),
            "steps_cached": sum(1 for s in self.steps if s.action == CACHED),
            "checkouts": len(self.checkouts),
        }
