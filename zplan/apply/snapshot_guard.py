"""After a step returns, in its worker: each data snapshot it was handed must still be as stored.

Snapshot files are read-only, but a step running as root (a container) writes through that.
A snapshot it changed would otherwise stay in the store under its old digest, named by
lineage, and be served to the next step as if it were the data. The check is the stamp
check a worker makes before a step: one ``stat`` per snapshot file (sizes and mtimes against
the stamps kept when it was stored or checked), plus the read of its manifest file for a big
snapshot; the files are rehashed only when their stamps moved (a touch without a change passes).
A changed snapshot fails the step, before any output is stored, and is dropped from the store:
stored again at once from the data this worker copied it from, else by the next step that reads it.
"""

from __future__ import annotations

from typing import Any, Iterator, NamedTuple

from zplan.artifacts.base import ArtifactCorrupted, ArtifactNotFound, ArtifactStoreError


class Guarded(NamedTuple):
    what: str  # how the message names it: the input's path in the project
    digest: str
    entries: tuple[Any, ...] | None  # the scan it was stored from, when this worker stored it


def guarded(name: str, spec: Any, stored: dict[str, str]) -> Iterator[Guarded]:
    """The data snapshot a task input ``spec`` hands the step, if any (``stored``: path ->
    digest of the snapshots this worker stored itself)."""
    from zplan.apply.worker import PathArg, SnapshotArg

    if isinstance(spec, SnapshotArg) and spec.path in stored:
        yield Guarded(spec.path, stored[spec.path], spec.entries)
    elif isinstance(spec, PathArg) and spec.digest:  # stored by the apply (a reference has no digest)
        yield Guarded(f'of input "{name}"', spec.digest, None)


def written_into(store: Any, snapshots: list[Guarded]) -> Guarded | None:
    """The first snapshot the step changed or removed, or None."""
    for snapshot in snapshots:
        try:
            store.get(snapshot.digest)  # stamps; rehashed only when they moved
        except (ArtifactCorrupted, ArtifactNotFound):
            return snapshot
    return None


def store_again(store: Any, snapshot: Guarded) -> str:
    """Drop the changed snapshot (never served again) and store it afresh where this worker
    can (each byte hashed as copied); the step's error, saying what became of it."""
    store.delete(snapshot.digest)
    again = "it will be stored again from the data when a step next reads it"
    if snapshot.entries is not None:
        try:
            store.put_scanned(list(snapshot.entries), snapshot.digest)
            again = "it was stored again from the data"
        except ArtifactStoreError:  # the data changed since the scan: the next apply takes it again
            pass
    return (f"the step wrote into its input snapshot {snapshot.what}; inputs are read-only: "
            f"write to an output instead ({again})")
