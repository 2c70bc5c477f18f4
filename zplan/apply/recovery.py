"""Damaged inputs found while a step loads them: drop the artifact, rerun what made it, once.

A worker rehashes every input before calling the step (``zplan.apply.worker``).
When one is damaged or gone, the step is held back rather than failed: the
artifact is deleted from the store (it is never served again), its digest is
marked damaged for the step planner (which then plans its producer to rerun
with the reason ``artifact damaged (digest mismatch)``), and after the walk a
second round runs the producers, the held-back steps and what depends on them.
A second damage in that round is a plain failure: no loop.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Iterable
from zplan.addrs import is_resource

if TYPE_CHECKING:
    from zplan.apply.tracker import RunTracker
    from zplan.apply.worker import StepResult
    from zplan.hooks import Hooks
    from zplan.graph.dag import Dag
    from zplan.plan import model as m
    from zplan.plan.steps import StepPlanner


class DamagedInputs:
    def __init__(self, graph: "Dag", planner: Callable[[], "StepPlanner"], tracker: "RunTracker", store: Callable[[], object],
                 hooks: "Hooks") -> None:
        self.graph = graph
        self._planner = planner  # a destroy has none: asked for only when a step ran
        self.tracker = tracker
        self.store = store  # built on first use: most applies never need it here
        self.hooks = hooks
        self.held: set[str] = set()  # steps to run again in the next round
        self.producers: set[str] = set()
        self.rounds = 0

    @property
    def planner(self) -> "StepPlanner":
        return self._planner()

    def hold(self, plan: "m.StepPlan", result: "StepResult") -> bool:
        """True when ``result`` failed only on damaged inputs and the step will run again."""
        if result.ok or not result.damaged or self.rounds > 0:
            return False
        for digest, why in result.damaged.items():
            self.store().delete(digest)  # type: ignore[attr-defined]
            self.planner.damaged.add(digest)
            producers = _producers(self.tracker.current.values(), digest)
            self.producers |= producers
            again = f"rerunning {', '.join(sorted(producers))}" if producers else "snapshotting the data again"
            self.hooks.notice(f"{plan.address}: {why}; the damaged artifact was dropped, {again}")
        self.held.add(plan.address)
        return True

    def stored_again(self, result: "StepResult") -> None:
        """A producer that ran again stored its outputs afresh: they are sound now."""
        self.planner.damaged.difference_update(o["digest"] for o in result.outputs.values())

    def waits_for_retry(self, address: str) -> bool:
        """Skipped only because a held-back step upstream has not run yet."""
        return bool(self.held) and bool(self.graph.ancestors(address) & self.held)

    def next_round(self) -> list[str]:
        """The nodes of the second round (empty when nothing was held back)."""
        if not self.held or self.rounds > 0:
            return []
        self.rounds += 1
        nodes = set(self.producers) | self.held
        for address in self.held:
            nodes |= self.graph.descendants(address)
        self.held, self.producers = set(), set()
        return sorted(str(n) for n in nodes if not is_resource(str(n)))


def _producers(plans: Iterable["m.StepPlan"], digest: str) -> set[str]:
    """The steps whose reused result holds ``digest`` (content-addressed: identical outputs of
    two steps are one artifact); none for a data snapshot."""
    return {p.address for p in plans if p.cached_from and any(o["digest"] == digest for o in p.cached_from.outputs.values())}
