"""``zplan verify``: read back every artifact the state refers to and compare it with its digest.

``plan`` only checks that cached artifacts exist (cheap: a stat, or one listing
per prefix on an object store); a step's inputs are rehashed when it loads
them. Artifacts nobody loads again (a pipeline's final outputs) are checked
here. ``repair`` drops each damaged artifact and the cache entries that name a
damaged or missing one, so the next ``apply`` reruns the steps that made them.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

from zplan import diags
from zplan.artifacts.base import DAMAGED, INTACT, MISSING, ArtifactStore  # noqa: F401 (the statuses, for callers)
from zplan.config.values import UNKNOWN
from zplan.operations.opening import ProjectArgs, open_project
from zplan.operations.planning import lock_timeout_seconds
from zplan.operations.state_ops import LockViews
from zplan.project import ensure_state_dir
from zplan.state.model import State, store_key


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


def verify_artifacts(args: ProjectArgs, repair_damage: bool, lock_timeout: str, views: LockViews) -> Report:
    """Check every artifact the stack's state refers to; with ``repair_damage``, drop the bad ones."""
    project = open_project(args)
    settings = project.static_stack_settings()
    if UNKNOWN in (settings.get("artifact_store"), settings.get("metadata_store")):
        raise diags.fail(f"stack {project.stack_name}: its stores are known only after apply", "run `zplan apply` first")
    key = store_key(str(settings["artifact_store"]), str(settings["metadata_store"]))
    store = ArtifactStore.from_url(str(settings["artifact_store"]), project.root)
    ensure_state_dir(project)
    backend = project.state_backend()
    # Checking only reads: the lock is needed only to change state.
    lock = (backend.lock("verify -repair", lock_timeout_seconds(lock_timeout), views.on_wait, views.on_stale)
            if repair_damage else contextlib.nullcontext())
    with lock:
        state = State(backend.read())
        report = verify(state, key, store)
        if repair_damage and repair(report, state, key, store):
            state.bump()
            backend.write(state.doc)
    return report
