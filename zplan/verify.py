"""``zplan verify``: read back every artifact the state refers to and compare it with its digest.

``plan`` only checks that cached artifacts exist (cheap: a stat, or one listing
per prefix on an object store); a step's inputs are rehashed when it loads
them. Artifacts nobody loads again (a pipeline's final outputs) are checked
here. ``repair`` drops each damaged artifact and the cache entries that name a
damaged or missing one, so the next ``apply`` reruns the steps that made them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from zplan.artifacts.base import DAMAGED, INTACT, MISSING, ArtifactStore  # noqa: F401 (the statuses, for callers)
from zplan.state.model import State


@dataclass
class Finding:
    digest: str
    status: str  # INTACT | MISSING | DAMAGED
    used_by: list[str] = field(default_factory=list)  # "ADDRESS.OUTPUT" that record it


@dataclass
class Report:
    store_url: str
    findings: list[Finding]
    dropped_cache_entries: int = 0
    rerun: list[str] = field(default_factory=list)  # steps the next apply reruns (after a repair)

    def count(self, status: str) -> int:
        return sum(1 for f in self.findings if f.status == status)

    @property
    def problems(self) -> list[Finding]:
        return [f for f in self.findings if f.status != INTACT]


def referenced(state: State, store_key: str) -> dict[str, list[str]]:
    """digest -> the step outputs that record it (latest records and cache entries)."""
    store = state.doc["stores"].get(store_key, {})
    users: dict[str, set[str]] = {}
    records = [(a, r) for a, r in store.get("steps", {}).items() if r.get("status") == "succeeded"]
    records += [(e.get("address", "?"), e) for e in store.get("cache", {}).values()]
    for address, record in records:
        for name, out in (record.get("outputs") or {}).items():
            users.setdefault(out["digest"], set()).add(f"{address}.{name}")
    return {d: sorted(u) for d, u in sorted(users.items())}


def verify(state: State, store_key: str, store: ArtifactStore) -> Report:
    findings = [Finding(d, store.check(d), used) for d, used in referenced(state, store_key).items()]
    return Report(store.url, findings)


def repair(report: Report, state: State, store_key: str, store: ArtifactStore) -> bool:
    """Drop damaged artifacts and the cache entries naming a bad one; True if state changed."""
    bad = {f.digest for f in report.problems}
    for finding in report.problems:
        if finding.status == DAMAGED:
            store.delete(finding.digest)
    cache = state.doc["stores"].get(store_key, {}).get("cache", {})
    stale = [key for key, entry in cache.items() if _digests(entry) & bad]
    report.rerun = sorted({cache[key]["address"] for key in stale})
    for key in stale:
        del cache[key]
    report.dropped_cache_entries = len(stale)
    return bool(stale)


def _digests(entry: dict) -> set[str]:
    return {out["digest"] for out in (entry.get("outputs") or {}).values()}
