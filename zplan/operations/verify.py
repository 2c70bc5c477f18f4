"""``zplan verify``: read back every artifact the state refers to and compare it with its digest.

``plan`` only checks that cached artifacts exist (cheap: a stat, or one listing
per prefix on an object store); a step's inputs are rehashed when it loads
them. Artifacts nobody loads again (a pipeline's final outputs) are checked
here, and so are the data snapshots lineage says the latest execution of each
step read (those ``zplan gc`` keeps): a step that wrote into its snapshot leaves
it damaged. ``repair`` drops the cache entries that name a damaged or missing one, so the
next ``apply`` reruns the steps that made them (a dropped snapshot is stored again when its
step next runs), then, state written, each damaged artifact: as ``gc``, a repair cut short
never leaves a cache entry naming an artifact it deleted.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any, Callable

from zplan import diags
from zplan.artifacts.base import DAMAGED, INTACT, MISSING, ArtifactStore  # noqa: F401 (the statuses, for callers)
from zplan.config.values import UNKNOWN
from zplan.operations.opening import ProjectArgs, open_for_reading
from zplan.operations.planning import lock_timeout_seconds
from zplan.operations.state_ops import LockViews
from zplan.project import ensure_state_dir
from zplan.state.model import State, store_key

NOT_STORED = "reference ("  # how the materializer lineage gives an input read in place begins (declared or not)


@dataclass
class Finding:
    digest: str
    status: str  # INTACT | MISSING | DAMAGED
    used_by: list[str] = field(default_factory=list)  # "ADDRESS.OUTPUT" that record it, "ADDRESS input NAME (PATH)" that read it
    readers: list[str] = field(default_factory=list)  # for a data snapshot: the steps whose latest execution read it


@dataclass
class Report:
    store_url: str
    findings: list[Finding]
    dropped_cache_entries: int = 0
    rerun: list[str] = field(default_factory=list)  # steps the next apply reruns (after a repair)
    not_deleted: list[tuple[str, str]] = field(default_factory=list)  # (digest, why) of damaged artifacts a repair could not delete

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


def snapshots_read(state: State, store_key: str, run_detail: Callable[[int], Any]) -> dict[str, set[tuple[str, str, str]]]:
    """digest -> (address, input, path) for the data snapshots read by the executions that wrote
    the latest step records (``run_detail``: a run's lineage, None when not recorded)."""
    latest: dict[int, set[str]] = {}
    for address, record in state.doc["stores"].get(store_key, {}).get("steps", {}).items():
        if isinstance(record.get("run"), int):
            latest.setdefault(record["run"], set()).add(address)
    readers: dict[str, set[tuple[str, str, str]]] = {}
    for number in sorted(latest):
        detail = run_detail(number)
        for execution in detail.executions if detail is not None else ():
            if execution.address not in latest[number]:
                continue
            for name, artifact in execution.inputs.items():
                record = artifact.record
                if record.kind == "snapshot" and not record.materializer.startswith(NOT_STORED):
                    readers.setdefault(record.digest, set()).add((execution.address, name, record.source_path or "?"))
    return readers


def verify(state: State, store_key: str, store: ArtifactStore, run_detail: Callable[[int], Any] = lambda number: None) -> Report:
    """Every artifact state names, and every data snapshot the latest executions read, rehashed."""
    users = referenced(state, store_key)
    readers = snapshots_read(state, store_key, run_detail)
    for digest, read in readers.items():
        users[digest] = users.get(digest, []) + [f"{a} input {name} ({path})" for a, name, path in sorted(read)]
    findings = [Finding(d, store.check(d), used, sorted({a for a, _, _ in readers.get(d, ())})) for d, used in sorted(users.items())]
    return Report(store.url, findings)


def _run_details(args: ProjectArgs, stack: str) -> Callable[[int], Any]:
    """A run's lineage from the stack's metadata store (None when it holds no such run)."""
    from zplan.api import RunNotFound, ZplanAPIError, open

    results = None

    def run_detail(number: int) -> Any:
        nonlocal results
        try:
            results = results or open(args.root, stack)
            return results.run(number)
        except RunNotFound:
            return None  # recorded in state but not in this metadata store (a copied state)
        except ZplanAPIError as exc:
            raise diags.fail(f"cannot read run {number}'s lineage: {exc.summary}", exc.hint) from None

    return run_detail


def repair(report: Report, state: State, store_key: str) -> bool:
    """Drop the cache entries naming a bad artifact and those of the steps that read a bad snapshot
    last; True if state changed. The damaged artifacts go after state is written (``drop_damaged``)."""
    bad = {f.digest for f in report.problems}
    store_doc = state.doc["stores"].get(store_key, {})
    cache = store_doc.get("cache", {})
    stale = {key for key, entry in cache.items() if _digests(entry) & bad}
    # a step whose latest execution read a bad snapshot runs again: it stores the snapshot afresh
    readers = {a for f in report.problems for a in f.readers}
    steps = store_doc.get("steps", {})
    stale |= {r["cache_key"] for a, r in steps.items() if a in readers and r.get("cache_key") in cache}
    rerun = {cache[key]["address"] for key in stale}
    for key in stale:
        del cache[key]
    # and a step whose latest record names a bad one, its cache entry gone (dropped by this repair or an earlier one)
    rerun |= {a for a, r in steps.items() if (a in readers or _digests(r) & bad) and r.get("cache_key") not in cache}
    report.rerun = sorted(rerun)
    report.dropped_cache_entries = len(stale)
    return bool(stale)


def drop_damaged(report: Report, store: ArtifactStore) -> None:
    """Delete the damaged artifacts, once no cache entry names them: a delete that fails (a
    read-only store, no permission) leaves an artifact nothing takes from the cache, and the
    next apply, storing the step's output afresh, replaces it."""
    for finding in report.problems:
        if finding.status == DAMAGED and (why := delete_failure(store, finding.digest)):
            report.not_deleted.append((finding.digest, why))


def delete_failure(store: ArtifactStore, digest: str, delete: Callable[[str], None] | None = None) -> str | None:
    """Delete an artifact (by ``delete``: the store's own by default); why it could not be deleted, or None."""
    try:
        (delete or store.delete)(digest)
    except diags.DiagnosticError as exc:  # an object store's failure, made clear
        return exc.diagnostics[0].summary
    except OSError as exc:  # a local store read-only, or not ours to write
        return f"{type(exc).__name__}: {exc}"
    return None


def _digests(entry: dict) -> set[str]:
    return {out["digest"] for out in (entry.get("outputs") or {}).values()}


def verify_artifacts(args: ProjectArgs, repair_damage: bool, lock_timeout: str, views: LockViews) -> Report:
    """Check every artifact the stack's state refers to; with ``repair_damage``, drop the bad ones."""
    project = open_for_reading(args)
    settings = project.recorded_stack_settings()
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
        report = verify(state, key, store, _run_details(args, project.stack_name))
        if repair_damage and repair(report, state, key):
            state.bump()
            backend.write(state.doc)  # state first: a repair cut short leaves damaged artifacts no entry names
        if repair_damage:
            drop_damaged(report, store)
    return report
