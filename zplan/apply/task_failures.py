"""How a task of the worker pool can fail without an answer from its step: its process died, it ran past its
timeout, or the pool was stopped (``zplan.apply.workers``)."""

from __future__ import annotations

import signal


class WorkerDied(Exception):
    """The process running a task exited before it answered."""

    def __init__(self, exitcode: int | None) -> None:
        self.exitcode = exitcode
        super().__init__(describe_exit(exitcode))


class TaskTimedOut(Exception):
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        super().__init__(f"timed out after {format_seconds(seconds)} and was stopped")


class TaskCancelled(Exception):
    """The pool was shut down while the task waited or ran."""


def describe_exit(exitcode: int | None) -> str:
    if exitcode is None:
        return "the worker process vanished"
    if exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        return f"the step's process was killed by {name}"
    return f"the step's process exited with code {exitcode}"


def format_seconds(seconds: float) -> str:
    if seconds >= 60 and seconds % 60 == 0:
        return f"{seconds / 60:g}m"
    return f"{seconds:g}s"
