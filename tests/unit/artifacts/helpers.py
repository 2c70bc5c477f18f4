from __future__ import annotations

from pathlib import Path
from typing import Mapping


def make_tree(root: Path, files: Mapping[str, bytes]) -> Path:
    """Write ``files`` (relative posix name -> bytes) under ``root``; return ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


def read_tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


SAMPLE = {
    "model.bin": b"\x00\x01weights" * 1000,
    "meta/info.json": b'{"a": 1}',
    "meta/deeper/empty.txt": b"",
    "z.txt": "é unicode".encode(),
}
