"""What the metadata store takes in and gives back: plain frozen values, no MLMD types.

Callers (the applier, `zplan runs`, `zplan lineage`) only ever see these, so
they never import ML Metadata and the renderers can be tested without a store.
"""

from __future__ import annotations

from dataclasses import dataclass, field

KINDS = ("output", "snapshot")
EXECUTION_STATES = ("complete", "cached", "failed", "cancelled")
RUN_STATUSES = ("running", "succeeded", "failed", "interrupted")


@dataclass(frozen=True)
class ArtifactRecord:
    """An artifact as the applier knows it when it records a step."""

    digest: str
    uri: str
    materializer: str
    materializer_version: str
    type_name: str
    kind: str = "output"  # "output" | "snapshot" (an external input copied into the store)
    source_path: str | None = None  # for a snapshot: where the data was read from
    size: int = 0


@dataclass(frozen=True)
class StepReason:
    """One reason the plan gave for a step (a ``zplan.plan`` reason code and its text, secrets masked)."""

    code: str
    message: str


@dataclass(frozen=True)
class Applier:
    """Who applied a run: the OS user, and the CI service (with its run's URL) when there was one."""

    user: str | None = None
    ci: str | None = None  # "GitHub Actions", "GitLab CI", ... or "CI" when only CI=true says so
    ci_url: str | None = None


@dataclass(frozen=True)
class ExecutionRecord:
    """One step execution as the applier records it (a run, a cached reuse or a failure)."""

    address: str
    pipeline: str
    step: str
    cache_key: str
    params: dict
    code_hash: str
    state: str  # one of EXECUTION_STATES
    started_at: float
    finished_at: float
    error: str | None
    inputs: dict[str, ArtifactRecord] = field(default_factory=dict)
    outputs: dict[str, ArtifactRecord] = field(default_factory=dict)
    metadata: dict = field(default_factory=dict)  # zplan.log_metadata()
    reasons: tuple[StepReason, ...] = ()  # why the plan ran it (or, cached, nothing)
    cached_from: int | None = None  # the run whose outputs a cached step reused
    sensitive_outputs: bool = False  # its outputs are never shown (zplan.plan.model.StepPlan.sensitive_outputs)


@dataclass(frozen=True)
class GitInfo:
    commit: str | None
    dirty: bool | None
    branch: str | None


@dataclass(frozen=True)
class ArtifactView:
    """An artifact as stored: the record plus its id and creation time (ms since epoch)."""

    id: int
    record: ArtifactRecord
    created_ms: int = 0

    @property
    def uri(self) -> str:
        return self.record.uri

    @property
    def digest(self) -> str:
        return self.record.digest


@dataclass(frozen=True)
class ExecutionView:
    id: int
    address: str
    pipeline: str
    step: str
    state: str  # "complete" | "cached" | "failed"
    cache_key: str
    params: dict  # for people: a sensitive param is "(sensitive)"
    code_hash: str
    started_at: float
    finished_at: float
    error: str | None
    run: int | None
    git: GitInfo
    inputs: dict[str, ArtifactView] = field(default_factory=dict)
    outputs: dict[str, ArtifactView] = field(default_factory=dict)
    metadata: dict = field(default_factory=dict)  # zplan.log_metadata()
    reasons: tuple[StepReason, ...] | None = None  # None: recorded before reasons were kept
    cached_from: int | None = None
    sensitive_outputs: bool = False  # its outputs are never shown
    recorded_params: dict = field(default_factory=dict)  # as recorded (a secret as its digest): to compare, never to show

    @property
    def duration(self) -> float:
        return max(0.0, self.finished_at - self.started_at)


@dataclass(frozen=True)
class RunSummary:
    number: int
    pipeline: str
    stack: str
    status: str  # one of RUN_STATUSES
    started: float
    finished: float | None
    steps_run: int
    steps_cached: int
    steps_failed: int
    git: GitInfo
    host: str | None = None  # the machine that applied it (a developer's, or a CI runner)
    applier: Applier = Applier()  # who applied it (unknown for runs recorded before it was kept)

    @property
    def git_commit(self) -> str | None:
        return self.git.commit


@dataclass(frozen=True)
class RunDetail:
    summary: RunSummary
    executions: list[ExecutionView]  # in the order they were recorded
    skipped: dict[str, list[str]] = field(default_factory=dict)  # a step a failure kept from starting -> the failed steps upstream


@dataclass(frozen=True)
class LineageNode:
    """An artifact, the execution that produced it, and the lineage of that execution's inputs.

    ``produced_by`` is None for a data snapshot (an external input: the end of
    the chain) or an artifact whose producer was never recorded.
    """

    artifact: ArtifactView
    produced_by: ExecutionView | None
    inputs: dict[str, "LineageNode"] = field(default_factory=dict)

    def walk(self):
        """Every node of the tree, depth first, this one first."""
        yield self
        for child in self.inputs.values():
            yield from child.walk()
