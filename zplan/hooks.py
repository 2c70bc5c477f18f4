"""The only way the engine talks to a user interface: calls on a ``Hooks`` object.

The applier never prints; the CLI passes a view (rich live table on a terminal,
one line per event in CI logs) that implements these methods.
"""

from __future__ import annotations


class Hooks:
    def run_started(self, run_id: int | None, steps: int, resources: int) -> None: ...

    def resource_started(self, address: str, action: str) -> None: ...

    def resource_finished(self, address: str, action: str, ok: bool, seconds: float, error: str | None) -> None: ...

    def step_started(self, address: str) -> None: ...

    def step_cached(self, address: str, reason: str) -> None: ...

    def step_finished(self, address: str, ok: bool, seconds: float, error: str | None, trace: str | None, log: str | None) -> None: ...

    def step_skipped(self, address: str, because: str) -> None: ...

    def step_stopped(self, address: str, seconds: float, why: str) -> None: ...

    def notice(self, text: str) -> None: ...

    def run_finished(self, summary: dict) -> None: ...


class Recorder(Hooks):
    """Keeps every event in a list (used by tests and by the JSON apply report)."""

    def __init__(self) -> None:
        self.events: list[tuple] = []

    def __getattribute__(self, name: str):
        if name.startswith(("run_", "resource_", "step_", "notice")):
            events = object.__getattribute__(self, "events")
            return lambda *args: events.append((name, *args))
        return object.__getattribute__(self, name)
