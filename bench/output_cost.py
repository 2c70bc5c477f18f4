"""Per-output cost of storing a step's outputs in its worker, in-process.

    .venv/bin/python bench/output_cost.py [--n 300] [--big-mb 50] [--repeat 5] [--before OLD_TREE]

What ``zplan.apply.worker._store_output`` does for each output of a step: N small JSON values
(a tiny step's int), then 4 DataFrames of ``--big-mb`` MB handed on to another step (Arrow IPC).
Per output: wall time on the step's path (what the worker spends before its result can go back),
CPU time of the process, and, for a tree whose workers leave the syncs to the parent, the parent's
part measured after them in the same process (queueing the syncs and waiting for the background
thread: its CPU is in the CPU column). The store is under bench/.work (the project's file system).
With ``--before`` the same runs for an older zplan tree (first on PYTHONPATH), alternated.
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
import numpy as np, pandas as pd
from zplan.apply import worker
from zplan.artifacts.store import ArtifactStore

n, big_mb, kind, work = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
root = Path(tempfile.mkdtemp(dir=work))
store = ArtifactStore.from_url("file://.zplan/artifacts", root)
scratch = Path(tempfile.mkdtemp(prefix="zplan-step-"))
new = "unsynced" in inspect.signature(worker._store_output).parameters
if kind == "small":
    values = [1_000_000 + i for i in range(n)]
else:
    rows = big_mb * 1024 * 1024 // (8 * 10)
    values = [pd.DataFrame(np.random.default_rng(i).random((rows, 10)), columns=[f"c{j}" for j in range(10)]) for i in range(4)]
os.sync()
unsynced = {}
c0, t0 = time.process_time(), time.perf_counter()
for v in values:
    if new:
        worker._store_output(store, "output", v, True, False, unsynced)
    else:
        worker._store_output(store, "output", v, scratch, True)
t1 = time.perf_counter()
for digest, files in unsynced.items():  # the parent's part, when the result arrives
    store.sync_stored(digest, files)
store.wait_synced()
t2 = time.perf_counter()
k = len(values)
print(f"{1000 * (t1 - t0) / k:.3f} {1000 * (time.process_time() - c0) / k:.3f} {1000 * (t2 - t1) if new else -1:.0f}")
shutil.rmtree(root, ignore_errors=True)
shutil.rmtree(scratch, ignore_errors=True)
'''


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=300)
    p.add_argument("--big-mb", type=int, default=50)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--before", type=Path)
    args = p.parse_args(argv)
    work = Path(__file__).resolve().parent / ".work"
    work.mkdir(exist_ok=True)
    versions = {"this tree": None, **({"before": str(args.before.resolve())} if args.before else {})}
    for kind, label in (("small", f"{args.n} JSON outputs (an int)"), ("big", f"4 DataFrames of {args.big_mb} MB")):
        rows: dict[str, list[list[float]]] = {v: [] for v in versions}
        for i in range(args.repeat):
            for name in (versions if i % 2 == 0 else reversed(list(versions))):
                path = versions[name]
                env = dict(os.environ, **({"PYTHONPATH": path} if path else {}))
                out = subprocess.run([sys.executable, "-c", ONE, str(args.n), str(args.big_mb), kind, str(work)], cwd=work,
                                     env=env, capture_output=True, text=True, check=True)
                rows[name].append([float(x) for x in out.stdout.split()])
        print(f"\n| {label} | step's path, wall ms each | CPU ms each (syncs included) | parent's sync wait at the end, ms |")
        print("|---|---|---|---|")
        for name, runs in rows.items():
            cols = list(zip(*runs))
            shown = (f"{statistics.median(c):.2f} ({min(c):.2f}-{max(c):.2f})" for c in cols[:2])
            wait = cols[2]
            waited = "-" if min(wait) < 0 else f"{statistics.median(wait):.0f} ({min(wait):.0f}-{max(wait):.0f})"
            print(f"| {name} | {' | '.join(shown)} | {waited} |")
    print(f"\nload average: {open('/proc/loadavg').read().split()[:3]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
