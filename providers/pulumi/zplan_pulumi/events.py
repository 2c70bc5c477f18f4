"""What the Pulumi engine said about each resource during one run.

When ``pulumi up`` fails half-way, some resources were changed and some were
not. The structured event stream tells which: a finished step per URN, and
the error diagnostics attached to a URN. Imports nothing from Pulumi so it can
be fed plain objects in tests.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Mapping

DELETE_OPS = frozenset({"delete", "delete-replaced", "discard", "discard-replaced", "remove-pending-replace"})


@dataclass(frozen=True)
class Step:
    """The last finished step of one resource."""

    op: str
    resource_id: str | None
    outputs: Mapping[str, Any]

    @property
    def deleted(self) -> bool:
        return self.op in DELETE_OPS


class EventLog:
    """An ``on_event`` callback that keeps per-resource outcomes and errors."""

    def __init__(self) -> None:
        self.steps: dict[str, Step] = {}
        self.errors: dict[str, list[str]] = defaultdict(list)
        self.general: list[str] = []  # errors not tied to one resource (program failures)

    def __call__(self, event: Any) -> None:
        diag = getattr(event, "diagnostic_event", None)
        if diag is not None and diag.severity == "error":
            message = diag.message.strip()
            if message:
                (self.errors[diag.urn] if diag.urn else self.general).append(message)
        done = getattr(event, "res_outputs_event", None)
        if done is not None:
            meta = done.metadata
            state = meta.new or meta.old
            op = getattr(meta.op, "value", meta.op)
            self.steps[meta.urn] = Step(
                op=str(op),
                resource_id=getattr(state, "id", None) if state else None,
                outputs=dict(getattr(state, "outputs", None) or {}) if state else {},
            )

    def error_for(self, urn: str) -> str | None:
        messages = self.errors.get(urn)
        return "\n".join(messages) if messages else None


def engine_message(exc: BaseException, log: EventLog) -> str:
    """The most useful one-paragraph account of why a run failed."""
    if log.general:
        return "\n".join(log.general)
    text = str(exc)
    # CommandError renders "code: .. stdout: .. stderr: ..": the stderr part says why.
    stderr = text.rsplit("\n stderr:", 1)[-1].strip()
    return stderr or text.strip() or type(exc).__name__
