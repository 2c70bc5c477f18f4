from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping

import pytest


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


def evicted(path: Path) -> None:
    """Out of memory, as data that arrived a while ago (a file in memory is read where it lies); the test is
    skipped where the file system keeps its files in memory (tmpfs)."""
    from zplan.fsutil import share_in_memory

    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        if share_in_memory(fd, os.fstat(fd).st_size) >= 0.5:
            pytest.skip("this file system keeps its files in memory (tmpfs): nothing is read from a disk")
    finally:
        os.close(fd)
