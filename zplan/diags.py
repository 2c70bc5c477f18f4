"""Diagnostics are values: the core returns them, only the CLI prints them.

A user mistake (bad HCL, a dangling reference, a missing step source) becomes a
``Diagnostic`` with the file and line it comes from and what to do about it,
raised inside ``DiagnosticError`` so the CLI can print it and exit 1 without a
traceback.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from zplan.pickled import tuple_state

ERROR = "error"
WARNING = "warning"


@tuple_state
@dataclass(frozen=True)
class Range:
    """Where something was written: a file and a 1-based line (and column, when known)."""

    file: str
    line: int = 0
    column: int = 0

    def __str__(self) -> str:
        if not self.line:
            return self.file
        return f"{self.file}:{self.line}" + (f":{self.column}" if self.column else "")

    def relative_to(self, root: Path) -> "Range":
        try:
            rel = str(Path(self.file).resolve().relative_to(root.resolve()))
        except ValueError:
            return self
        return Range(rel, self.line, self.column)


@dataclass(frozen=True)
class Diagnostic:
    """One message for the user: what is wrong, what to do, and where."""

    severity: str
    summary: str  # one line: what is wrong
    detail: str = ""  # what to do about it
    range: Range | None = None

    def __str__(self) -> str:
        where = f"{self.range}: " if self.range else ""
        text = f"{where}{self.severity}: {self.summary}"
        return f"{text}\n  {self.detail}" if self.detail else text


def error(summary: str, detail: str = "", range: Range | None = None) -> Diagnostic:
    return Diagnostic(ERROR, summary, detail, range)


def warning(summary: str, detail: str = "", range: Range | None = None) -> Diagnostic:
    return Diagnostic(WARNING, summary, detail, range)


def did_you_mean(name: str, known, then: str = "") -> str:
    """``did you mean "x"? `` for the known name closest to a misspelt one (to start a detail), followed by
    ``then`` (``"or "``, before another way out), or ""."""
    import difflib  # only on an error: the no-change plan does not pay for it

    close = difflib.get_close_matches(name, sorted(known), n=1) or [k for k in sorted(known) if k.lower() == name.lower()]
    return f'did you mean "{close[0]}"? {then}' if close else ""


class DiagnosticError(Exception):
    """Carries one or more error diagnostics up to the CLI."""

    def __init__(self, diagnostics: Diagnostic | Iterable[Diagnostic]) -> None:
        diags = [diagnostics] if isinstance(diagnostics, Diagnostic) else list(diagnostics)
        self.diagnostics = diags
        super().__init__("\n".join(str(d) for d in diags))


def fail(summary: str, detail: str = "", range: Range | None = None) -> "DiagnosticError":
    """Build an error to ``raise``: ``raise fail("unknown block", "use ...", rng)``."""
    return DiagnosticError(error(summary, detail, range))


class Collector:
    """Gathers diagnostics so validation reports every mistake at once, not the first."""

    def __init__(self) -> None:
        self.items: list[Diagnostic] = []

    def add(self, diag: Diagnostic) -> None:
        self.items.append(diag)

    def error(self, summary: str, detail: str = "", range: Range | None = None) -> None:
        self.add(error(summary, detail, range))

    def extend(self, diags: Iterable[Diagnostic]) -> None:
        self.items.extend(diags)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.items if d.severity == ERROR]

    def raise_if_errors(self) -> None:
        if self.errors:
            raise DiagnosticError(self.errors)
