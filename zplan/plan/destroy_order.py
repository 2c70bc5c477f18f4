"""Which resources a destroy takes, and in which order: each resource after what depends on it,
as Terraform destroys. The dependencies come from the records and from the configuration as it is
now; a destroy target takes what depends on it along, an excluded resource keeps what it needs."""

from __future__ import annotations

from zplan.addrs import is_resource, matches_any
from zplan.graph.dag import Dag


def resource_ancestors(graph: Dag, address: str) -> list[str]:
    """The nearest resources ``address`` depends on, looking through steps (an endpoint
    serving a model trained from a bucket depends on the bucket): destroy goes the other way."""
    out, seen, frontier = set(), set(), list(graph.predecessors(address))
    while frontier:
        node = frontier.pop()
        if node in seen:
            continue
        seen.add(node)
        if is_resource(node):
            out.add(node)
        else:
            frontier.extend(graph.predecessors(node))
    return sorted(out)


def with_declared_dependencies(recorded: dict[str, dict], graph: Dag) -> dict[str, dict]:
    """Each record's dependencies with those its block declares now, as Terraform orders a
    destroy: a ``depends_on`` added by a plan that changed nothing else is in no record."""
    out = {}
    for addr, rec in recorded.items():
        declared = resource_ancestors(graph, addr) if addr in graph.nodes else []
        recorded_deps = list(rec.get("dependencies", []))
        extra = [d for d in declared if d not in recorded_deps]
        out[addr] = {**rec, "dependencies": recorded_deps + extra} if extra else rec
    return out


def dependents_closure(recorded: dict, targets: list[str]) -> set[str]:
    """Destroying a target destroys what depends on it too."""
    def dependents(found: set[str]) -> set[str]:
        return {a for a, r in recorded.items() if set(r.get("dependencies", [])) & found}

    return _closure(recorded, targets, dependents)


def dependencies_closure(recorded: dict, excludes: list[str]) -> set[str]:
    """Keeping an excluded resource keeps what it depends on too: it cannot be destroyed under it."""
    def dependencies(found: set[str]) -> set[str]:
        return {d for a in found for d in recorded[a].get("dependencies", []) if d in recorded}

    return _closure(recorded, excludes, dependencies)


def _closure(recorded: dict, selectors: list[str], step) -> set[str]:
    """The resources ``selectors`` match, and what ``step`` reaches from them, again and again."""
    out: set[str] = set()
    frontier = {a for a in recorded if matches_any(a, selectors)}
    while frontier:
        out |= frontier
        frontier = step(frontier) - out
    return out
