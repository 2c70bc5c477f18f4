"""The plan: an immutable list of what will happen to each step and resource, and why.

Actions and reasons are two separate, fixed vocabularies: the action drives
apply, the reason is only for people. Their string values are stable because
they appear in the JSON plan (see ``zplan.plan.jsonplan``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Step actions
RUN = "run"
CACHED = "cached"

# Resource actions (Terraform's)
CREATE = "create"
UPDATE = "update"
REPLACE = "replace"
DELETE = "delete"
NOOP = "no-op"

# Reasons a step reruns
NEVER_RAN = "never_ran"
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

# Reasons a resource changes
NEW_IN_CONFIG = "new_in_config"
REMOVED_FROM_CONFIG = "removed_from_config"
ATTRIBUTES_CHANGED = "attributes_changed"
FORCES_REPLACEMENT = "forces_replacement"
GONE_OUTSIDE = "deleted_outside_zplan"
DRIFTED = "drifted"

REASON_CODES = (
    NEVER_RAN, PREVIOUS_FAILED, CODE_CHANGED, PARAMS_CHANGED, INPUT_CHANGED, UPSTREAM_RERUNS,
    ENV_CHANGED, LIBRARY_CHANGED, MATERIALIZER_CHANGED, OUTPUTS_MISSING, ARTIFACT_MISSING, ARTIFACT_DAMAGED,
    KNOWN_AFTER_APPLY, REPLACE_REQUESTED,
    NEW_IN_CONFIG, REMOVED_FROM_CONFIG, ATTRIBUTES_CHANGED, FORCES_REPLACEMENT, GONE_OUTSIDE, DRIFTED,
)


@dataclass(frozen=True)
class Reason:
    code: str
    message: str  # human text, e.g. "params.c: 1.0 -> 0.5"

    def to_json(self) -> dict:
        return {"code": self.code, "message": self.message}


@dataclass
class StepPlan:
    address: str
    pipeline: str
    step: str
    action: str  # RUN | CACHED
    reasons: list[Reason] = field(default_factory=list)
    cache_key: str | None = None  # None while an input is known only after apply
    code_hash: str = ""
    code_parts: dict[str, str] = field(default_factory=dict)  # "pkg/helpers.py:h" -> digest, per definition reached
    libraries: dict[str, str] = field(default_factory=dict)  # installed distribution -> version, for what the code imports
    source: str = ""
    params: dict[str, Any] = field(default_factory=dict)  # real values (never serialised as is)
    inputs: dict[str, dict] = field(default_factory=dict)  # name -> {"kind": "step"|"data", ...}
    outputs: list[str] | None = None
    cached_from: dict | None = None  # {"run", "finished_at", "outputs"} when CACHED
    depends_on: list[str] = field(default_factory=list)


@dataclass
class ResourcePlan:
    address: str
    type: str
    name: str
    provider: str
    action: str  # CREATE | UPDATE | REPLACE | DELETE | NOOP
    before: dict[str, Any] | None
    after: dict[str, Any] | None  # desired inputs; UNKNOWN where known only after apply
    reasons: list[Reason] = field(default_factory=list)
    replace_because: list[str] = field(default_factory=list)  # attributes that force replacement
    sensitive: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)  # computed attributes known after apply
    depends_on: list[str] = field(default_factory=list)
    create_before_destroy: bool = False
    prevent_destroy: bool = False


@dataclass
class Plan:
    stack: str
    state_serial: int
    state_lineage: str
    store_key: str | None
    steps: list[StepPlan] = field(default_factory=list)
    resources: list[ResourcePlan] = field(default_factory=list)
    outputs: dict[str, dict] = field(default_factory=dict)  # name -> {"value", "known", "sensitive"}
    destroy: bool = False
    options: dict[str, Any] = field(default_factory=dict)  # targets, excludes, replace, vars (names only)
    config_fingerprint: dict[str, str] = field(default_factory=dict)  # file -> hash of parsed content
    secrets: list[str] = field(default_factory=list)  # values to mask anywhere they appear; never serialised
    created_at: str = ""

    def step(self, address: str) -> StepPlan | None:
        index = self.__dict__.get("_steps_by_address")
        if index is None or len(index) != len(self.steps):
            index = self.__dict__["_steps_by_address"] = {s.address: s for s in self.steps}
        return index.get(address)

    def resource(self, address: str) -> ResourcePlan | None:
        return next((r for r in self.resources if r.address == address), None)

    @property
    def steps_to_run(self) -> list[StepPlan]:
        return [s for s in self.steps if s.action == RUN]

    @property
    def resource_changes(self) -> list[ResourcePlan]:
        return [r for r in self.resources if r.action != NOOP]

    def has_changes(self) -> bool:
        return bool(self.steps_to_run or self.resource_changes)

    def summary(self) -> dict[str, int]:
        count = lambda *actions: sum(1 for r in self.resources if r.action in actions)  # noqa: E731
        return {
            "add": count(CREATE, REPLACE),
            "change": count(UPDATE),
            "destroy": count(DELETE, REPLACE),
            "steps_run": len(self.steps_to_run),
            "steps_cached": sum(1 for s in self.steps if s.action == CACHED),
        }
