"""Cold applies of the wide workload in pairs, this tree and an older one back to back, each pair printed.

    .venv/bin/python bench/cold_pairs.py --before /tmp/base [--wide 200] [--pairs 10]

For a machine whose speed drifts during the runs (shared cores): the two runs of a pair see
nearly the same machine, so the difference within each pair is the figure to read, not the
medians of the two columns. Same cold apply as ``cold_ab.py`` (state, artifacts and metadata
moved aside, code and stat caches kept, ``os.sync()`` before each); wall/CPU seconds per run, CPU
with the workers.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

import workloads
from cold_ab import APPLY, PLAN
from measure import run
from report import load_average
from run import WORK, forget_runs


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--before", type=Path, required=True, help="an older zplan source tree (git archive REV zplan providers)")
    p.add_argument("--wide", type=int, default=200)
    p.add_argument("--pairs", type=int, default=10)
    args = p.parse_args(argv)
    wl = workloads.wide(WORK / f"wide{args.wide}-ab" / "zplan", args.wide)
    workloads.write_project(wl)
    workloads.set_param(wl, 1)
    envs = {"after": dict(os.environ), "before": dict(os.environ, PYTHONPATH=str(args.before.resolve()))}
    forget_runs(wl.root, keep_caches=True)
    run([sys.executable, "-c", PLAN], wl.root, envs["after"])  # parse and stat caches filled
    diffs = []
    for i in range(args.pairs):
        got = {}
        for name in ("after", "before") if i % 2 == 0 else ("before", "after"):
            forget_runs(wl.root, keep_caches=True)
            os.sync()
            got[name] = run([sys.executable, "-c", APPLY], wl.root, envs[name])
        diffs.append(got["after"].cpu - got["before"].cpu)
        print(f"pair {i + 1}: after {got['after'].wall:.2f} s wall / {got['after'].cpu:.2f} s CPU, "
              f"before {got['before'].wall:.2f} / {got['before'].cpu:.2f}; load {load_average()}", flush=True)
    print(f"CPU after - before, per pair: median {statistics.median(diffs):+.3f} s ({min(diffs):+.3f} to {max(diffs):+.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
