"""The apply's state writes, and what it does when one fails (a full disk, a folder made read-only).

As Terraform halts when it cannot persist state, the first failed write stops the apply: nothing
new starts (resources or steps whose results could not be recorded), what is under way finishes,
and no write is tried again until the last one, which may find room again. When that last write
fails too, the state the apply could not record is kept in a recovery file (Terraform's
``errored.tfstate``) where one can be written, and what it holds that state does not is named:
each resource created, changed or deleted and each step run, so nothing that ran is lost silently.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from zplan import diags
from zplan.state.backend import StateNotWritten, os_error_in_words
from zplan.state.model import State

RECOVERY_NAME = "errored.state.json"


@dataclass(frozen=True)
class Recovery:
    """Where the state an apply could not record goes, and how it compares with what is stored."""

    read_recorded: Callable[[], dict | None]  # the state as stored: what the failed writes left
    folders: tuple[Path, ...]  # where a recovery file may be written, in order
    stack: str | None = None  # the -stack `zplan state push` needs to put it in place (state in a database)


class StateWrites:
    def __init__(self, write: Callable[[State], None], write_last: Callable[[State], None], recovery: Recovery | None = None,
                 command: str = "apply") -> None:
        """``command``: what the messages name, to be run again ("apply", "destroy", "task")."""
        self._write = write
        self._write_last = write_last
        self._recovery = recovery or Recovery(lambda: None, ())
        self._command = command
        self.failed: StateNotWritten | None = None

    def write(self, state: State) -> None:
        """Write as the apply goes; after a failure, nothing until the last write."""
        if self.failed is not None:
            return
        try:
            self._write(state)
        except StateNotWritten as exc:
            self.failed = exc

    def write_last(self, state: State, not_started: list[str]) -> None:
        """The apply's last write, tried again after a failure; raises what the user must know when
        state does not hold everything the apply did, or the apply stopped early for a failed write."""
        first = self.failed
        try:
            self._write_last(state)
        except StateNotWritten as exc:
            raise self._not_recorded(state, first or exc, stopped=first is not None) from None
        if first is not None:
            raise _stopped_early(first, not_started, self._command)

    def _not_recorded(self, state: State, failure: StateNotWritten, stopped: bool) -> diags.DiagnosticError:
        unrecorded = differences(self._recorded(), state.doc)
        kept, tried = self._keep_recovery(state)
        what = f"these ran but are not recorded in state: {', '.join(unrecorded)}" if unrecorded else "nothing it changed is missing from state"
        summary = f"{failure.summary}; {f'the {self._command} stopped' if stopped else 'that was its last write'}, and {what}"
        if kept is None:
            return diags.fail(summary, f"{failure.remedy}; {failure.unchanged}. The state this {self._command} could not record could not be "
                                       f"kept either ({tried}): the next plan plans what is not recorded again (a resource listed "
                                       "above may then exist already: import it, or delete it by hand)")
        push = f"zplan state push{f' -stack {self._recovery.stack}' if self._recovery.stack else ''} {kept}"
        return diags.fail(summary, f"{failure.remedy}; {failure.unchanged}. The state this {self._command} could not record is kept in {kept}: "
                                   f"{failure.put_back(kept, push, self._command)}")

    def _recorded(self) -> dict:
        try:
            return State(self._recovery.read_recorded()).doc
        except Exception:  # unreadable as well: everything the apply did counts as unrecorded
            return State().doc

    def _keep_recovery(self, state: State) -> tuple[Path | None, str]:
        """The recovery file written (private, as state: its secrets are sealed), or None and why."""
        from zplan.fsutil import atomic_write_bytes
        from zplan.state.checks import dump_document

        data = (dump_document(state.doc) + "\n").encode()
        why = []
        for folder in self._recovery.folders:
            path = folder / RECOVERY_NAME
            try:
                atomic_write_bytes(path, data)
                return path, ""
            except OSError as exc:
                why.append(f"{path}: {os_error_in_words(exc)}")
        return None, "; ".join(why) or "no place to keep it"


def _stopped_early(failure: StateNotWritten, not_started: list[str], command: str) -> diags.DiagnosticError:
    """The last write succeeded after an earlier one failed: all that ran is recorded, but what the
    failure kept from starting did not run."""
    skipped = f": {', '.join(not_started)} did not run" if not_started else ""
    return diags.fail(f"{failure.summary}; the {command} stopped there{skipped}",
                      f"what ran is recorded (a later write succeeded): run the {command} again to finish it")


def differences(recorded: dict, current: dict) -> list[str]:
    """Resources and steps whose record in ``current`` is not the one in ``recorded``."""
    changed = _changed_keys(recorded["resources"], current["resources"])
    for key, store in current["stores"].items():
        changed |= _changed_keys(recorded["stores"].get(key, {}).get("steps", {}), store["steps"])
    return sorted(changed)


def _changed_keys(before: dict, after: dict) -> set[str]:
    return {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
