"""Fingerprints of configuration files by their tokens, not their bytes.

Whitespace, newlines and comments are not tokens, so a comment or layout edit
does not change a file's fingerprint (and does not make a saved plan stale);
any change of meaning does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from zplan.config.hcl import tokenize
from zplan.hashing import hash_value


def file_fingerprint(path: Path) -> str:
    tokens = tokenize(path.read_text(encoding="utf-8"), str(path))
    return hash_value(_plain_tokens(tokens))


def _plain_tokens(tokens: list) -> list:
    return [[kind, _plain(value)] for kind, value, *_ in tokens]


def _plain(value: Any) -> Any:
    """Token values as plain data: a template holds ``${...}`` objects whose repr
    names a memory address, which would differ in every process."""
    if isinstance(value, (str, int, float, bool, type(None))):
        return value
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "tokens"):  # an interpolation inside a template
        return {"interp": _plain_tokens(value.tokens), "strip": [value.strip_left, value.strip_right]}
    return repr(value)


def fingerprints(root: Path, files: list[Path]) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): file_fingerprint(p) for p in files}
