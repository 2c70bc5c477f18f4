"""The run, kept apart from the plan (as Dagster keeps the active execution apart from its plan).

The plan says what was decided; the tracker says what is happening: each node's
outcome, each step as re-planned when it started, the snapshots its data inputs
were read from, and the stack settings once its resources exist.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from zplan.graph.walk import FAILED
from zplan.plan import model as m

SUBMITTED = "submitted"  # handed to an external orchestrator
CACHED = "cached"
STOPPED = "stopped"  # running when the apply was interrupted, and stopped


@dataclass
class ApplyResult:
    run_id: int | None = None
    outcome: dict[str, str] = field(default_factory=dict)  # address -> ok | failed | skipped | cached | submitted
    changed: bool = False
    interrupted: int | None = None  # the signal (SIGINT, SIGTERM) that stopped the apply
    state_not_written: bool = False  # a state write failed, which stopped the apply

    @property
    def status(self) -> str:
        """What the run is recorded as."""
        return "interrupted" if self.interrupted else "failed" if self.failed or self.state_not_written else "succeeded"

    @property
    def failed(self) -> list[str]:
        return [a for a, o in self.outcome.items() if o == FAILED]

    @property
    def ok(self) -> bool:
        return not self.failed


@dataclass
class Snapshot:
    """The immutable copy of a data input a step read."""

    digest: str
    uri: str


class RunTracker:
    def __init__(self, plan: m.Plan, stack_settings: Mapping[str, Any], read_elsewhere: Mapping[str, frozenset[str]] | None = None) -> None:
        self.result = ApplyResult()
        self.stack_settings = dict(stack_settings)  # replaced once the stack's resources exist
        self.store_key = plan.store_key  # None until then
        # Each step as the run sees it: planned, then re-planned at start, then cached once done.
        # The step planner of the run reads upstream digests from here.
        self.current: dict[str, m.StepPlan] = {s.address: s for s in plan.steps}
        self.read_elsewhere = read_elsewhere or {}  # step -> its outputs read by steps left out of this apply (-target)
        self.snapshots: dict[tuple[str, str], Snapshot] = {}  # (step address, input path) -> snapshot
        self.started_at: dict[str, float] = {}
        self.skipped: dict[str, list[str]] = {}  # a step not started after a failure -> what failed upstream of it

    def settle(self, settings: Mapping[str, Any], store_key: str) -> None:
        self.stack_settings, self.store_key = dict(settings), store_key

    def outcome(self, address: str, outcome: str) -> None:
        self.result.outcome[address] = outcome

    def summary(self) -> dict:
        counts: dict[str, int] = {}
        for outcome in self.result.outcome.values():
            counts[outcome] = counts.get(outcome, 0) + 1
        interrupted = {"interrupted": self.result.interrupted} if self.result.interrupted else {}
        return {"run": self.result.run_id, **counts, **interrupted}
