"""What verified reads and the plan-time existence check cost on a local artifact store.

    .venv/bin/python bench/verify_cost.py [--mib 1024] [--artifacts 1000] [--dir DIR]

Prints, for one artifact of --mib MiB held in page cache: `get` with the stamp check only, `get(verify=True)`
(every byte rehashed, what a step worker does before loading an input), and the throughput of the latter;
then the existence check plan makes for --artifacts cached outputs (`presence()`, a stat each).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from zplan.artifacts.store import ArtifactStore


def best(fn, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times), statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mib", type=int, default=1024)
    ap.add_argument("--artifacts", type=int, default=1000)
    ap.add_argument("--dir", type=Path, default=None)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        root = Path(tmp)
        store = ArtifactStore.from_url(f"file://{root}/store", root)
        src = root / "big"
        src.mkdir()
        with open(src / "data.bin", "wb") as f:
            for _ in range(args.mib):
                f.write(os.urandom(1 << 20))
        digest = store.put(src).digest
        store.get(digest, verify=True)  # warm the page cache
        stamp = best(lambda: store.get(digest))
        full = best(lambda: store.get(digest, verify=True))
        gbps = args.mib / 1024 / full[0]
        print(f"get, stamp check only    : {stamp[0] * 1e3:8.2f} ms (median {stamp[1] * 1e3:.2f})")
        print(f"get(verify=True), {args.mib} MiB: {full[0] * 1e3:8.1f} ms (median {full[1] * 1e3:.1f}) = {gbps:.2f} GiB/s")
        digests = []
        for i in range(args.artifacts):
            one = root / f"small{i}"
            one.mkdir()
            (one / "value.json").write_text(str(i))
            digests.append(store.put(one).digest)
        present = store.presence()
        exist = best(lambda: all(present(d) for d in digests))
        print(f"plan existence check, {args.artifacts} artifacts: {exist[0] * 1e3:.1f} ms (median {exist[1] * 1e3:.1f})")


if __name__ == "__main__":
    main()
