"""What the file system here charges for the calls an apply makes per step.

    .venv/bin/python bench/fs_cost.py [--files 400] [--repeat 3]

In a fresh folder under bench/.work/ (the disk the benchmarks' projects are on): microseconds
per call to create a file, make a folder, ``stat`` and rename, and milliseconds to ``fsync``
``--files`` small files one by one and from 2, 4 and 8 threads (as ``zplan.fsutil.BackgroundSync``
does). Creating an inode costs far more than the rest, and varies a lot over time on a virtual
disk (after many deletes especially), so the figures are printed with the time of day.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from zplan.fsutil import fsync_path

WORK = Path(__file__).resolve().parent / ".work"


def per_call_us(n: int, call) -> float:
    t = time.perf_counter()
    for i in range(n):
        call(i)
    return (time.perf_counter() - t) / n * 1e6


def calls(folder: str, n: int) -> dict[str, float]:
    def create(i: int) -> None:
        os.close(os.open(f"{folder}/f{i}", os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))

    return {
        "create a file": per_call_us(n, create),
        "make a folder": per_call_us(n, lambda i: os.mkdir(f"{folder}/d{i}")),
        "stat": per_call_us(n, lambda i: os.stat(f"{folder}/f{i}")),
        "rename": per_call_us(n, lambda i: os.rename(f"{folder}/f{i}", f"{folder}/d{i}/f")),
    }


def fsyncs_ms(folder: str, n: int, threads: int) -> float:
    paths = []
    for i in range(n):
        path = f"{folder}/s{threads}-{i}"
        with open(path, "wb") as f:
            f.write(b"x" * 100)
        paths.append(path)

    t = time.perf_counter()
    if threads == 1:
        for path in paths:
            fsync_path(path)
    else:
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(fsync_path, paths))
    return (time.perf_counter() - t) * 1000


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--files", type=int, default=400)
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args()
    WORK.mkdir(exist_ok=True)
    for _ in range(args.repeat):
        folder = tempfile.mkdtemp(dir=WORK, prefix="fs-cost-")
        try:
            us = calls(folder, args.files)
            ms = {t: fsyncs_ms(folder, args.files, t) for t in (1, 2, 4, 8)}
        finally:
            shutil.rmtree(folder)
        print(time.strftime("%H:%M:%S"), ", ".join(f"{k} {v:.0f} us" for k, v in us.items()), "|",
              f"fsync of {args.files} files:", ", ".join(f"{t} thread{'s' if t > 1 else ''} {v:.0f} ms" for t, v in ms.items()))


if __name__ == "__main__":
    main()
