"""``zplan gc``: remove the artifacts nothing refers to any more.

An artifact in the stack's store is kept when any of these refers to it:

- the latest record of a step (what the next plan takes from the cache), and the inputs
  that execution read (its data snapshots);
- a cache entry of a kept run (every run when ``keep_runs`` is None);
- an input or output of any execution of a kept run (the ``keep_runs`` newest runs, read
  from ML Metadata through ``zplan.api``);
- a recorded output, or a deployed resource (a digest anywhere in its record: a model server
  serving it);
- anything the state records for another stack (other stores may be the same bucket);
- everything of the above that another stack of the project on the same artifact store
  refers to: its own state (a MySQL metadata store keeps it apart) and its ML Metadata (the
  data snapshots its latest executions read, its kept runs). A stack sharing the store
  whose records cannot be read (a password not given) refuses gc, unless the user names it
  with ``-ignore-stack``: deleting blind would break that stack's caches.

Everything else listed in the store goes, and so do the cache entries naming it (the next
plan reruns their steps rather than trusting an artifact that is gone).

**Safe beside a running apply: gc holds the state lock.** An apply holds the same lock from
its plan to its last record, so gc waits for it (``-lock-timeout``) and never lists, judges
or deletes while an apply is writing artifacts or reading its inputs; an apply started
during gc waits in turn. gc changes the state serial when it drops cache entries, so a plan
saved before gc (whose cache hits may be gone) is refused as stale; removing only what no
entry named leaves saved plans valid. A local write in progress (a temp folder) is never listed.
An object store's objects under a digest without its completion marker (an upload killed before
its marker, a gc cut short between a marker and the rest), and S3 multipart uploads never
finished, are no artifact: nothing can refer to them, and they go once older than the grace
period, as an upload in progress is recent.

**Safe beside a running Kubeflow/Vertex pipeline: a grace period.** Its tasks hold the lock
only to plan and to record their step, not while it runs, so an output stored and not yet
recorded is referred to by nothing. What was stored within ``grace`` (the store's own time: a
local folder's mtime, S3's LastModified, GCS's updated) stays; storing an artifact that is
already there renews its time, so one a task reuses is recent too, and a task renews the
artifacts it takes from the cache as it plans (``zplan.operations.run_step``).
"""

from __future__ import annotations

import os
import re
import time
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Iterator

from zplan import diags
from zplan.config.values import UNKNOWN
from zplan.operations.opening import ProjectArgs, open_for_reading
from zplan.operations.planning import lock_timeout_seconds
from zplan.operations.state_ops import LockViews
from zplan.project import Project, ensure_state_dir
from zplan.state.model import State, store_key

if TYPE_CHECKING:
    from zplan.api import Project as Results
    from zplan.artifacts.base import ArtifactStore, StoredArtifact
    from zplan.state.backend import StateBackend

_DIGEST = re.compile(r"(?<![0-9a-f])[0-9a-f]{32}(?![0-9a-f])")
# As `git gc --prune=2.weeks.ago`: what a running pipeline's task stored and has not recorded
# yet is recent, and stays (a step that runs longer than this needs a longer -grace).
DEFAULT_GRACE = "24h"


@dataclass
class GcReport:
    store_url: str
    dry_run: bool
    keep_runs: int | None  # None: every run
    kept_runs: list[int]  # run numbers whose artifacts were kept, newest first
    removed: list["StoredArtifact"] = field(default_factory=list)  # or that would be, on a dry run
    kept: int = 0  # artifacts in the store that stay
    grace: float = 0.0  # seconds: what was stored more recently stays, referred to or not
    recent: int = 0  # of those kept, how many nothing referred to but were stored within ``grace``
    dropped_cache_entries: int = 0
    sharing: list[str] = field(default_factory=list)  # other stacks on this store whose references were kept
    ignored: list[str] = field(default_factory=list)  # stacks on this store left out with -ignore-stack
    not_removed: list[tuple["StoredArtifact", str]] = field(default_factory=list)  # (artifact, why) of those a delete failed for
    incomplete: list["StoredArtifact"] = field(default_factory=list)  # objects without a completion marker that go
    recent_incomplete: int = 0  # incomplete ones that stay for being recent (an upload in progress)

    @property
    def bytes_freed(self) -> int:
        return sum(a.size for a in (*self.removed, *self.incomplete))


def collect_garbage(args: ProjectArgs, keep_runs: int | None, dry_run: bool, lock_timeout: str, views: LockViews,
                    ignore_stacks: tuple[str, ...] = (), grace: str = DEFAULT_GRACE) -> GcReport:
    """List the store and remove (or, on a dry run, only report) what nothing refers to and
    was stored longer than ``grace`` ago."""
    if keep_runs is not None and keep_runs < 0:
        raise diags.fail(f"-keep-runs must be 0 or more, got {keep_runs}",
                         "give how many of the newest runs keep their artifacts (0: only what state refers to)")
    grace_seconds = _grace_seconds(grace)
    project = open_for_reading(args)
    settings = project.recorded_stack_settings()
    if UNKNOWN in (settings.get("artifact_store"), settings.get("metadata_store")):
        raise diags.fail(f"stack {project.stack_name}: its stores are known only after apply", "run `zplan apply` first")
    from zplan.artifacts.base import ArtifactStore

    _check_ignored(project, ignore_stacks)
    store = ArtifactStore.from_url(str(settings["artifact_store"]), project.root)  # opened as apply opens it
    key = store_key(str(settings["artifact_store"]), str(settings["metadata_store"]))
    ensure_state_dir(project)
    backend = project.state_backend()
    sharing, ignored = _sharing_stacks(args, project, str(settings["artifact_store"]), ignore_stacks)
    with _locked({project.stack_name: backend, **{s.name: s.backend for s in sharing}}, lock_timeout, views, str(settings["artifact_store"])):
        state = State(backend.read())
        others = _shared_references(sharing, state, backend, key, keep_runs, str(settings["artifact_store"]))
        others |= _in_recovery_files(project)
        report = _judge(state, key, store, _results(args, project.stack_name), keep_runs, dry_run, others, grace_seconds)
        report.sharing, report.ignored = [s.name for s in sharing], ignored
        if (report.removed or report.incomplete) and not dry_run:
            gone = {a.digest for a in report.removed}
            report.dropped_cache_entries = _drop_cache_entries(state, key, gone)
            if report.dropped_cache_entries:
                # A plan saved before gc may count on a dropped entry: it is now stale. Artifacts no
                # entry named were nothing a saved plan could take from the cache: its serial stays.
                state.bump()
                backend.write(state.doc)  # state first: a gc cut short leaves orphans, never dangling entries
            _delete(report, store)
    return report


def _delete(report: GcReport, store: "ArtifactStore") -> None:
    """Delete what goes; one that cannot be deleted (a read-only store) stays listed apart."""
    from zplan.operations.verify import delete_failure

    for artifact in report.removed:
        if why := delete_failure(store, artifact.digest):
            report.not_removed.append((artifact, why))
    for artifact in report.incomplete:
        if why := delete_failure(store, artifact.digest, lambda d, at=artifact.modified: store.delete_incomplete(d, at)):
            report.not_removed.append((artifact, why))
    failed = {a.digest for a, _ in report.not_removed}
    report.removed = [a for a in report.removed if a.digest not in failed]
    report.incomplete = [a for a in report.incomplete if a.digest not in failed]


def _grace_seconds(text: str) -> float:
    from zplan.durations import parse_seconds

    try:
        seconds = parse_seconds(text)
    except ValueError:
        seconds = -1.0
    if seconds < 0:
        raise diags.fail(f"invalid -grace {text.strip().lower()!r}",
                         "use a duration of zero or more, like 24h, 2h30m or 0 (0: also what a running pipeline may be about to record)")
    return seconds


def _judge(state: State, key: str, store: "ArtifactStore", results: "Results", keep_runs: int | None, dry_run: bool,
           others: set[str], grace: float) -> GcReport:
    started = time.time()  # (before the listing: an artifact stored during it is recent either way)
    listed, incomplete = store.inventory()
    kept_runs = _kept_runs(results, keep_runs)
    referenced = _in_state(state, key, None if keep_runs is None else set(kept_runs))
    referenced |= _in_runs(results, kept_runs, _latest_executions(state, key))
    referenced |= others
    unreferenced = [a for a in listed if a.digest not in referenced]
    removed = [a for a in unreferenced if not _recent(a, started, grace)]
    report = GcReport(store.url, dry_run, keep_runs, kept_runs, removed, len(listed) - len(removed), grace=grace)
    report.recent = len(unreferenced) - len(removed)
    # Objects without a marker are no artifact, referred to or not: only an upload in progress stays.
    report.incomplete = [a for a in incomplete if not _recent(a, started, grace)]
    report.recent_incomplete = len(incomplete) - len(report.incomplete)
    return report


def _recent(artifact: "StoredArtifact", now: float, grace: float) -> bool:
    """Stored within ``grace``: a pipeline's task (which holds no lock while its step runs) may
    have stored it and not recorded it yet. One whose time the store does not give stays too."""
    return grace > 0 and (artifact.modified is None or now - artifact.modified < grace)


# -- other stacks on the same artifact store -------------------------------------------------------

@dataclass
class _Sharer:
    """Another stack of the project whose artifact store is this one: its records are read too."""

    name: str
    key: str  # its store key in state
    backend: "StateBackend"
    results: "Results"

    def references(self, ours: State, our_backend: "StateBackend", our_key: str, keep_runs: int | None) -> set[str]:
        """What this stack's state and ML Metadata refer to, with its own ``keep_runs`` newest runs.
        Every cache entry in its state counts, whatever ``keep_runs``: gc drops only its own
        stack's entries, so another's naming a deleted artifact would be left dangling. In the
        state file gc's stack shares, that stack's entries are judged by ``keep_runs`` alone."""
        shared = self.backend.describe() == our_backend.describe()
        state = ours if shared else State(self.backend.read())
        kept = _kept_runs(self.results, keep_runs)
        found = _in_state(state, self.key, None, judged=our_key if shared else None)
        return found | _in_runs(self.results, kept, _latest_executions(state, self.key))


def _shared_references(sharing: list[_Sharer], ours: State, backend: "StateBackend", key: str, keep_runs: int | None, url: str) -> set[str]:
    found: set[str] = set()
    for sharer in sharing:
        try:
            found |= sharer.references(ours, backend, key, keep_runs)
        except diags.DiagnosticError as exc:
            raise _unreadable(sharer.name, url, exc) from None
    return found


def _check_ignored(project: Project, ignore_stacks: tuple[str, ...]) -> None:
    for name in ignore_stacks:
        if name not in project.config.stacks or name == project.stack_name:
            raise diags.fail(f"-ignore-stack {name}: " + ("that is the stack gc runs on" if name == project.stack_name else "no such stack"),
                             f"declared stacks: {', '.join(sorted(project.config.stacks)) or '(none)'}")


def _sharing_stacks(args: ProjectArgs, project: Project, url: str, ignore: tuple[str, ...]) -> tuple[list[_Sharer], list[str]]:
    """The other declared stacks on the artifact store at ``url``, opened for reading, and those of
    them the user chose to leave out; one that shares it (or may) but cannot be read is an error."""
    here = _location(url, project.root)
    sharing: list[_Sharer] = []
    ignored: list[str] = []
    for name in sorted(project.config.stacks):
        if name == project.stack_name:
            continue
        try:
            other = open_for_reading(replace(args, stack=name))
            there = _artifact_store_of(other)
            if there is None or _location(there, project.root) != here:
                continue
            if name in ignore:
                ignored.append(name)
                continue
            opened = _opened(args, other)
            sharing += [opened] if opened is not None else []
        except diags.DiagnosticError as exc:
            if name in ignore:
                ignored.append(name)
                continue
            raise _unreadable(name, url, exc) from None
    return sharing, ignored


def _artifact_store_of(other: Project) -> str | None:
    """The stack's artifact store URL; None when it is made by a resource not applied yet (so
    nothing was ever stored there). One that reads a variable without a value is an error."""
    from zplan.stack import select

    value = select.settings(other.config, other.stack_name, other.scope().eval).get("artifact_store")
    if value is UNKNOWN:  # from a resource (read as state records it) or a variable without a value (its error)
        value = other.recorded_stack_settings().get("artifact_store")
    return None if value is UNKNOWN else str(value)


def _opened(args: ProjectArgs, other: Project) -> _Sharer | None:
    """The stack's records to read; None when its metadata store is made by a resource not applied
    yet: no step of it ever ran, so nothing in the store is its."""
    settings = other.recorded_stack_settings()
    if UNKNOWN in (settings.get("artifact_store"), settings.get("metadata_store")):
        return None
    key = store_key(str(settings["artifact_store"]), str(settings["metadata_store"]))
    return _Sharer(other.stack_name, key, other.state_backend(), _results(args, other.stack_name))


def _unreadable(name: str, url: str, exc: diags.DiagnosticError) -> diags.DiagnosticError:
    """The stack's own error (its place and what to do kept), as the reason gc cannot go on."""
    first = exc.diagnostics[0]
    return diags.fail(
        f'stack "{name}" may share the artifact store {url}, and its records cannot be read: {first.summary}',
        (f"{first.detail}. " if first.detail else "") + "gc would remove artifacts only that stack refers to, breaking its "
        f"caches: give what it needs to read them, or pass -ignore-stack {name} to remove what only it refers to",
        first.range,
    )


def _location(url: str, root) -> tuple[str, str]:
    """Where an artifact store keeps its objects, however its URL is spelled."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme == "file":
        return "file", os.path.realpath(root / (rest if sep else url))
    return scheme, rest.strip("/")


@contextmanager
def _locked(backends: dict[str, "StateBackend"], lock_timeout: str, views: LockViews, url: str) -> Iterator[None]:
    """The state lock of every stack on this store (stack -> backend), each once (stacks may share
    a state file), taken in one order so two gcs on different stacks never wait for each other."""
    distinct = {b.describe(): (name, b) for name, b in reversed(backends.items())}  # ours first wins
    ours = next(iter(backends))
    with ExitStack() as held:
        for _, (name, backend) in sorted(distinct.items()):
            try:
                held.enter_context(backend.lock("gc", lock_timeout_seconds(lock_timeout), views.on_wait, views.on_stale))
            except diags.DiagnosticError as exc:
                if name == ours:
                    raise
                raise _unreadable(name, url, exc) from None
        yield


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
        runs = results.runs(limit=1_000_000)
    except ZplanAPIError as exc:
        raise diags.fail(f"cannot read the runs: {exc.summary}", exc.hint or "check the stack's metadata_store") from None
    if keep_runs is None:
        return [r.number for r in runs]
    # the N newest runs of this stack: another one recording in the same metadata store has other artifacts
    return [r.number for r in runs if r.stack == results.stack][:keep_runs]


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


def _in_state(state: State, key: str, kept_runs: set[int] | None, judged: str | None = None) -> set[str]:
    """Every digest the state refers to: step records, the cache entries of kept runs (all when
    ``kept_runs`` is None, and always those of other stores but ``judged``'s, which gc judges
    apart), outputs and resources."""
    found: set[str] = set()
    for store, entries in state.doc["stores"].items():
        found |= _digests(entries.get("steps", {}))
        for entry in entries.get("cache", {}).values() if store != judged else ():
            if store != key or kept_runs is None or entry.get("run") is None or entry["run"] in kept_runs:
                found |= _digests(entry.get("outputs", {}))
    found |= _digests(state.doc.get("outputs", {}))
    found |= _digests(state.doc.get("resources", {}))
    return found


def _in_recovery_files(project: Project) -> set[str]:
    """Every digest a recovery file refers to (``zplan.apply.state_writes``): the state a command
    could not record, waiting to be pushed back, or a record a Kubeflow/Vertex task's retry takes."""
    from zplan.apply.state_writes import RECOVERY_NAME
    from zplan.state.checks import parse_document

    found: set[str] = set()
    for path in (project.state_dir / RECOVERY_NAME, project.root / RECOVERY_NAME):
        try:
            found |= _in_state(State(parse_document(path.read_bytes(), str(path), "")), "", None)
        except (OSError, diags.DiagnosticError):
            continue  # none there (or not one zplan can read)
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
