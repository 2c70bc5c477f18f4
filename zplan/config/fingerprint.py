"""Fingerprints of configuration files by their tokens, not their bytes.

Whitespace, newlines and comments are not tokens, so a comment or layout edit
does not change a file's fingerprint (and does not make a saved plan stale);
any change of meaning does.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterable

from zplan.config.hcl import tokenize
from zplan.hashing import hash_bytes, hash_value


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


def fingerprints(root: Path, files: list[Path], read: Iterable[Path] = ()) -> dict[str, str]:
    """Configuration files by their tokens, and the files functions read (``file()``,
    ``templatefile()``) by their bytes: a saved plan depends on both."""
    found = {Path(os.path.relpath(p, root)).as_posix(): file_fingerprint(p) for p in files}  # ../modules/x: a module beside it
    for path in sorted(read):
        found[Path(os.path.relpath(path, root)).as_posix()] = _content(path)
    return found


def _content(path: Path) -> str:
    try:
        return "bytes:" + hash_bytes(path.read_bytes())
    except OSError:
        return "absent"
