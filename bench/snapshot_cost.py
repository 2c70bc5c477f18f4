"""Per-snapshot cost of small data inputs in the apply's parent, in-process.

    .venv/bin/python bench/snapshot_cost.py [--n 300] [--repeat 3] [--before OLD_TREE]

N new 48-byte files, hashed first (as the plan does), then snapshotted one by one the way
``StepRunner._snapshot`` does it (snapshot, then the folder the step reads). Per snapshot:
median (min-max) of the wall time on the caller's path, CPU time of the process (the background sync thread
included), and the time left waiting for the syncs at the end. With ``--before`` the same
runs for an older zplan tree (first on PYTHONPATH), alternated.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

ONE = r'''
import inspect, os, shutil, sys, tempfile, time
from pathlib import Path
from zplan.artifacts.snapshot import snapshot
from zplan.artifacts.store import ArtifactStore
from zplan.hashing import StatCache

n, work = int(sys.argv[1]), sys.argv[2]
root = Path(tempfile.mkdtemp(dir=work))
data = root / "data"
data.mkdir()
for i in range(n):
    (data / f"{i:04d}.txt").write_bytes(os.urandom(24).hex().encode())
store = ArtifactStore.from_url("file://.zplan/artifacts", root)
cache = StatCache(None)
for i in range(n):
    cache.file_hash(data / f"{i:04d}.txt")
later = "sync_later" in inspect.signature(snapshot).parameters
os.sync()
c0, t0 = time.process_time(), time.perf_counter()
for i in range(n):
    src = data / f"{i:04d}.txt"
    if later:
        s = snapshot(src, store, cache, sync_later=True)
        folder = s.folder or store.get(s.digest)
    else:
        s = snapshot(src, store, cache)
        folder = store.get(s.digest)
    path = folder / src.name if src.is_file() and (folder / src.name).exists() else folder
t1 = time.perf_counter()
if later:
    store.wait_synced()
t2 = time.perf_counter()
print(f"{1000 * (t1 - t0) / n:.3f} {1000 * (time.process_time() - c0) / n:.3f} {1000 * (t2 - t1) if later else -1:.0f}")
shutil.rmtree(root, ignore_errors=True)
'''


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=300)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--before", type=Path)
    args = p.parse_args(argv)
    work = Path(__file__).resolve().parent / ".work"
    work.mkdir(exist_ok=True)
    versions = {"this tree": None, **({"before": str(args.before.resolve())} if args.before else {})}
    rows: dict[str, list[list[float]]] = {v: [] for v in versions}
    for _ in range(args.repeat):
        for name, path in versions.items():
            env = dict(os.environ, **({"PYTHONPATH": path} if path else {}))
            out = subprocess.run([sys.executable, "-c", ONE, str(args.n), str(work)], cwd=work, env=env, capture_output=True, text=True, check=True)
            rows[name].append([float(x) for x in out.stdout.split()])
    print(f"| {args.n} snapshots of 48 bytes | caller's wall ms each | CPU ms each (sync thread included) | sync wait at the end, ms |")
    print("|---|---|---|---|")
    for name, runs in rows.items():
        cols = list(zip(*runs))
        shown, wait = (f"{statistics.median(c):.2f} ({min(c):.2f}-{max(c):.2f})" for c in cols[:2]), cols[2]
        waited = "-" if min(wait) < 0 else f"{statistics.median(wait):.0f} ({min(wait):.0f}-{max(wait):.0f})"
        print(f"| {name} | {' | '.join(shown)} | {waited} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
