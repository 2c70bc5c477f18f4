"""Printing: the one place that knows about colours and terminals (rich stays here)."""

from __future__ import annotations

import os
import sys
from functools import lru_cache

from zplan.diags import Diagnostic, Range

STYLES = {
    "bold": "bold", "create": "green", "update": "yellow", "replace": "magenta", "delete": "red",
    "run": "yellow", "cached": "dim", "dim": "dim", "no-op": "", "": "", "error": "bold red", "warning": "yellow",
}


def json_text(value, **options) -> str:
    """``value`` as JSON for people: letters of every script as they are (``"café ☕"``, as Terraform
    shows them, not ``"caf\\u00e9"``), but characters a terminal would act on or hide (controls,
    direction overrides, odd spaces) escaped, so what is shown is what is there. Still valid JSON."""
    import json

    return printable(json.dumps(value, ensure_ascii=False, **options))


def printable(text: str) -> str:
    """JSON text with the characters a terminal would act on or hide escaped (see ``json_text``)."""
    if text.isascii():
        return text
    import json

    return "".join(c if c.isprintable() or c == "\n" else json.dumps(c)[1:-1] for c in text)


_plain = False  # set by -no-color


def plain_output() -> None:
    """-no-color: from now on, plain text only, as under NO_COLOR."""
    global _plain
    _plain = True


def is_terminal() -> bool:
    """Whether output goes to a terminal that may be styled: escape codes (colours, bold, a live
    table) are never written under -no-color, NO_COLOR or ZPLAN_NO_COLOR."""
    plain = _plain or os.environ.get("NO_COLOR") or os.environ.get("ZPLAN_NO_COLOR")
    return not plain and sys.stdout.isatty() and os.environ.get("TERM") != "dumb"


@lru_cache(maxsize=2)
def console(stderr: bool = False):
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=True)


def print_lines(lines: list[tuple[str, str]]) -> None:
    if not is_terminal():
        sys.stdout.write("".join(text + "\n" for _, text in lines))
        return
    from rich.text import Text

    out = console()
    for style, text in lines:
        out.print(Text(text, style=STYLES.get(style, "")))


def say(text: str, style: str = "") -> None:
    print_lines([(style, text)])


def print_diagnostics(diags: list[Diagnostic], root=None) -> None:
    err = sys.stderr
    for d in diags:
        rng = d.range.relative_to(root) if (d.range and root is not None) else d.range
        where = f"{rng}: " if isinstance(rng, Range) else ""
        label = "Error" if d.severity == "error" else "Warning"
        err.write(f"{label}: {where}{d.summary}\n")
        if d.detail:
            for line in d.detail.splitlines():
                err.write(f"  {line}\n")
    err.flush()
