"""Fingerprints of configuration files by their tokens, not their bytes.

Whitespace, newlines and comments are not tokens, so a comment or layout edit
does not change a file's fingerprint (and does not make a saved plan stale);
any change of meaning does.
"""

from __future__ import annotations

from pathlib import Path

from zplan.config.hcl import tokenize
from zplan.hashing import hash_value


def file_fingerprint(path: Path) -> str:
    tokens = tokenize(path.read_text(encoding="utf-8"), str(path))
    return hash_value([[kind, value if isinstance(value, (str, int, float, bool, type(None))) else repr(value)] for kind, value, *_ in tokens])


def fingerprints(root: Path, files: list[Path]) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): file_fingerprint(p) for p in files}
