"""A recorded step output, read back: where it is, who made it, and its value loaded and verified."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterator

from zplan.api.errors import ArtifactDamaged, MaterializerMissing, StoreUnreachable

if TYPE_CHECKING:
    from zplan.artifacts.base import ArtifactStore
    from zplan.metadata.records import ArtifactView, ExecutionView, LineageNode


@dataclass(frozen=True)
class Execution:
    """The step execution that produced an artifact."""

    address: str  # pipeline.P.step.S
    params: dict  # the parameters it was given
    code_fingerprint: str  # hash of the step's code (and what it imports) when it ran
    git_commit: str | None  # the project's commit at that run, when it was a git repository
    run: int | None  # the run number (`zplan runs`)
    state: str  # "complete" | "cached" | "failed"
    started: float  # seconds since the epoch
    finished: float
    reasons: tuple[tuple[str, str], ...] | None = None  # the plan's (code, message) for it; None when not recorded
    cached_from: int | None = None  # a cached execution: the run whose outputs it reused
    sensitive_outputs: bool = False  # it was given a sensitive value: its outputs are shown nowhere

    @staticmethod
    def of(view: "ExecutionView") -> "Execution":
        reasons = None if view.reasons is None else tuple((r.code, r.message) for r in view.reasons)
        return Execution(view.address, dict(view.params), view.code_hash, view.git.commit, view.run,
                         view.state, view.started_at, view.finished_at, reasons, view.cached_from, view.sensitive_outputs)


class Artifact:
    """One stored step output. Nothing is read from the store until ``load()``."""

    def __init__(self, view: "ArtifactView", producer: "ExecutionView | None", store: "Callable[[], ArtifactStore]",
                 lineage: "Callable[[], LineageNode]") -> None:
        self._view = view
        self._producer = producer
        self._store = store
        self._lineage = lineage

    @property
    def id(self) -> int:
        """The artifact's id in the metadata store (``project.lineage(id)``)."""
        return self._view.id

    @property
    def uri(self) -> str:
        """Where the artifact lives in the artifact store."""
        return self._view.uri

    @property
    def digest(self) -> str:
        """The content digest every load is checked against."""
        return self._view.digest

    @property
    def size(self) -> int:
        """Bytes stored."""
        return self._view.record.size

    @property
    def materializer(self) -> str:
        """The name of the materializer that wrote it (and reads it back)."""
        return self._view.record.materializer

    @property
    def type_name(self) -> str:
        return self._view.record.type_name

    @property
    def produced_by(self) -> Execution | None:
        """The execution that wrote it; None for a data snapshot."""
        return Execution.of(self._producer) if self._producer is not None else None

    @property
    def sensitive(self) -> bool:
        """Made by a step given a sensitive value: ``load()`` gives it in clear, no view shows it."""
        return self._producer is not None and self._producer.sensitive_outputs

    def lineage(self) -> "LineageNode":
        """This artifact, its producer, and recursively the producer's inputs down to data snapshots."""
        return self._lineage()

    def load(self) -> Any:
        """The value, read through its materializer after rehashing every byte against ``digest``.

        Raises ``ArtifactDamaged`` on a mismatch or a missing artifact, ``StoreUnreachable``
        when the store cannot be read. Only the value's own library is imported (scikit-learn
        for a model), never the step code.
        """
        from zplan.artifacts.materializers import NoMaterializer, get_materializer

        try:
            materializer = get_materializer(self.materializer)
        except NoMaterializer:
            raise MaterializerMissing(
                f"artifact {self.digest[:12]}: no materializer named {self.materializer!r} is registered",
                "import the project's module that registers it first (the API never imports step code), or install "
                "the package exposing it in the 'zplan.materializers' entry points") from None
        folder = self.path()
        with store_errors(f"artifact {self.digest}"):
            return materializer.load(folder)

    def path(self):
        """A local folder with the artifact's files, verified against ``digest`` (downloaded once for S3/GCS)."""
        with store_errors(f"artifact {self.digest}"):
            return self._store().get(self.digest, verify=True)

    def __repr__(self) -> str:
        by = self._producer.address if self._producer else "snapshot"
        return f"<Artifact {by} {self.digest[:12]} {self.size} bytes>"


@contextmanager
def store_errors(what: str) -> Iterator[None]:
    """Store failures as API errors: a damaged or missing artifact, or a store that does not answer."""
    from zplan.artifacts.base import ArtifactCorrupted, ArtifactNotFound, ArtifactStoreError

    try:
        yield
    except (ArtifactCorrupted, ArtifactNotFound) as exc:
        raise ArtifactDamaged(f"{what}: {_first(exc)}", "`zplan verify -repair` then `zplan apply` rebuilds it") from None
    except ArtifactStoreError as exc:
        raise StoreUnreachable(f"{what}: {_first(exc)}", "check the stack's artifact_store and credentials") from None
    except (OSError, ConnectionError) as exc:
        raise StoreUnreachable(f"{what}: {type(exc).__name__}: {exc}", "check the stack's artifact_store") from None


def _first(exc: Exception) -> str:
    found = getattr(exc, "diagnostics", None)
    return found[0].summary if found else str(exc)
