"""Step-module layouts written to a temporary project folder, and what their fingerprints say."""

from __future__ import annotations

import textwrap
from pathlib import Path

from zplan.plan.code_hash import CodeIndex, CodeInfo


def write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root


def info(root: Path, source: str) -> CodeInfo:
    """A fresh reading (no cache): ``source`` is "FILE.py:function"."""
    file, function = source.split(":")
    return CodeIndex(root).info(file, function)


def edit(root: Path, rel: str, old: str, new: str) -> None:
    path = root / rel
    text = path.read_text()
    assert old in text, f"{old!r} not in {rel}"
    path.write_text(text.replace(old, new, 1))


def changed_by(root: Path, source: str, rel: str, old: str, new: str) -> set[str]:
    """The parts of ``source``'s fingerprint an edit changes (added and removed ones included)."""
    before = info(root, source)
    edit(root, rel, old, new)
    after = info(root, source)
    if before.hash == after.hash:
        return set()
    keys = set(before.parts) | set(after.parts)
    return {k for k in keys if before.parts.get(k) != after.parts.get(k)}
