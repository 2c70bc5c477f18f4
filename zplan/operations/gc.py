"""``zplan gc``: remove the artifacts nothing refers to any more.

An artifact in the stack's store is kept when any of these refers to it:

- the latest record of a step (what the next plan takes from the cache), and the inputs
  that execution read (its data snapshots);
- a cache entry of a kept run (every run when ``keep_runs`` is None);
- an input or output of any execution of a kept run (the ``keep_runs`` newest runs, read
  from ML Metadata through ``zplan.api``);
- a recorded output, or a deployed resource (a digest anywhere in its record: a model server
  serving it);
- anything the state records for another stack (other stores may be the same bucket).

Everything else listed in the store goes, and so do the cache entries naming it (the next
plan reruns their steps rather than trusting an artifact that is gone).

**Safe beside a running apply: gc holds the state lock.** An apply holds the same lock from
its plan to its last record, so gc waits for it (``-lock-timeout``) and never lists, judges
or deletes while an apply is writing artifacts or reading its inputs; an apply started
during gc waits in turn. gc changes the state serial when it drops cache entries, so a plan
saved before gc (whose cache hits may be gone) is refused as stale; removing only what no
entry named leaves saved plans valid. Only complete artifacts
are listed: a write in progress (a temp folder, an upload without its marker) is never touched.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterator

from zplan import diags
from zplan.config.values import UNKNOWN
from zplan.operations.opening import ProjectArgs, open_for_reading
from zplan.operations.planning import lock_timeout_seconds
from zplan.operations.state_ops import LockViews
from zplan.project import ensure_state_dir
from zplan.state.model import State, store_key

if TYPE_CHECKING:
    from zplan.api import Project as Results
    from zplan.artifacts.base import ArtifactStore, StoredArtifact

_DIGEST = re.compile(r"(?<![0-9a-f])[0-9a-f]{32}(?![0-9a-f])")


@dataclass
class GcReport:
    store_url: str
    dry_run: bool
    keep_runs: int | None  # None: every run
    kept_runs: list[int]  # run numbers whose artifacts were kept, newest first
    removed: list["StoredArtifact"] = field(default_factory=list)  # or that would be, on a dry run
    kept: int = 0  # artifacts in the store that stay
    dropped_cache_entries: int = 0

    @property
    def bytes_freed(self) -> int:
        return sum(a.size for a in self.removed)


def collect_garbage(args: ProjectArgs, keep_runs: int | None, dry_run: bool, lock_timeout: str, views: LockViews) -> GcReport:
    """List the store and remove (or, on a dry run, only report) what nothing refers to."""
    if keep_runs is not None and keep_runs < 0:
        raise diags.fail(f"-keep-runs must be 0 or more, got {keep_runs}",
                         "give how many of the newest runs keep their artifacts (0: only what state refers to)")
    project = open_for_reading(args)
    settings = project.static_stack_settings()
    if UNKNOWN in (settings.get("artifact_store"), settings.get("metadata_store")):
        raise diags.fail(f"stack {project.stack_name}: its stores are known only after apply", "run `zplan apply` first")
    from zplan.artifacts.base import ArtifactStore

    store = ArtifactStore.from_url(str(settings["artifact_store"]), project.root)  # opened as apply opens it
    key = store_key(str(settings["artifact_store"]), str(settings["metadata_store"]))
    ensure_state_dir(project)
    backend = project.state_backend()
    with backend.lock("gc", lock_timeout_seconds(lock_timeout), views.on_wait, views.on_stale):
        state = State(backend.read())
        report = _judge(state, key, store, _results(args, project.stack_name), keep_runs, dry_run)
        if report.removed and not dry_run:
            gone = {a.digest for a in report.removed}
            report.dropped_cache_entries = _drop_cache_entries(state, key, gone)
            if report.dropped_cache_entries:
                # A plan saved before gc may count on a dropped entry: it is now stale. Artifacts no
                # entry named were nothing a saved plan could take from the cache: its serial stays.
                state.bump()
                backend.write(state.doc)  # state first: a gc cut short leaves orphans, never dangling entries
            for artifact in report.removed:
                store.delete(artifact.digest)
    return report


def _judge(state: State, key: str, store: "ArtifactStore", results: "Results", keep_runs: int | None, dry_run: bool) -> GcReport:
    listed = store.listing()
    kept_runs = _kept_runs(results, keep_runs)
    referenced = _in_state(state, key, None if keep_runs is None else set(kept_runs))
    referenced |= _in_runs(results, kept_runs, _latest_executions(state, key))
    removed = [a for a in listed if a.digest not in referenced]
    return GcReport(store.url, dry_run, keep_runs, kept_runs, removed, len(listed) - len(removed))


def _results(args: ProjectArgs, stack: str) -> "Results":
    from zplan.api import ZplanAPIError, open

    try:
        return open(args.root, stack)
    except ZplanAPIError as exc:
        raise diags.fail(exc.summary, exc.hint) from None


def _kept_runs(results: "Results", keep_runs: int | None) -> list[int]:
    if keep_runs == 0:
        return []
    from zplan.api import ZplanAPIError

    try:
        return [r.number for r in results.runs(limit=keep_runs or 1_000_000)]
    except ZplanAPIError as exc:
        raise diags.fail(f"cannot read the runs: {exc.summary}", exc.hint or "check the stack's metadata_store") from None


def _in_runs(results: "Results", runs: list[int], latest: dict[int, set[str]]) -> set[str]:
    """Inputs and outputs of every execution of ``runs``, and of the executions that wrote the
    latest step records (run -> addresses), read from ML Metadata."""
    from zplan.api import RunNotFound, ZplanAPIError

    found: set[str] = set()
    for number in sorted(set(runs) | set(latest)):
        try:
            executions = results.run(number).executions
        except RunNotFound:
            continue  # recorded in state but not in this metadata store (a copied state)
        except ZplanAPIError as exc:
            raise diags.fail(f"cannot read run {number}: {exc.summary}", exc.hint) from None
        for execution in executions:
            if number in runs or execution.address in latest.get(number, ()):
                found.update(a.digest for a in (*execution.inputs.values(), *execution.outputs.values()))
    return found


def _latest_executions(state: State, key: str) -> dict[int, set[str]]:
    """run -> the steps whose latest record that run wrote."""
    steps = state.doc["stores"].get(key, {}).get("steps", {})
    latest: dict[int, set[str]] = {}
    for address, record in steps.items():
        if isinstance(record.get("run"), int):
            latest.setdefault(record["run"], set()).add(address)
    return latest


def _in_state(state: State, key: str, kept_runs: set[int] | None) -> set[str]:
    """Every digest the state refers to: step records, the cache entries of kept runs (all when
    ``kept_runs`` is None, and always those of other stores), outputs and resources."""
    found: set[str] = set()
    for store, entries in state.doc["stores"].items():
        found |= _digests(entries.get("steps", {}))
        for entry in entries.get("cache", {}).values():
            if store != key or kept_runs is None or entry.get("run") is None or entry["run"] in kept_runs:
                found |= _digests(entry.get("outputs", {}))
    found |= _digests(state.doc.get("outputs", {}))
    found |= _digests(state.doc.get("resources", {}))
    return found


def _drop_cache_entries(state: State, key: str, gone: set[str]) -> int:
    cache = state.doc["stores"].get(key, {}).get("cache", {})
    stale = [k for k, entry in cache.items() if _digests(entry.get("outputs", {})) & gone]
    for k in stale:
        del cache[k]
    return len(stale)


def _digests(value: Any) -> set[str]:
    """Every artifact digest written anywhere in a recorded value (an output's uri, a model
    server's ``model.digest``): over-keeping is harmless, deleting a used artifact is not."""
    return set(_walk_digests(value))


def _walk_digests(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield from _DIGEST.findall(value)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _walk_digests(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _walk_digests(item)
