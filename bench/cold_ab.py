"""Cold ``zplan apply`` of two source trees, interleaved, on the wide (or sweep) workload.

    .venv/bin/python bench/cold_ab.py --before /tmp/base --wide 200 --repeat 5 [--sweep]

Each cold apply starts with state, artifacts and metadata moved aside (``bench/aside.py``; code and stat caches kept,
so the plan does not rehash the inputs) and after ``os.sync()``, so no run pays the previous
one's writeback. A speed probe (``report.speed_probe``) is timed before each run: its median per
tree says whether both trees met the same machine. ``--before`` is a copy of an older zplan (``git archive REV zplan providers``),
put first on PYTHONPATH. Whole processes (``measure.run``): wall, CPU (user + sys, workers
included) and peak RSS, median (min-max); per-step figures divide by the step count.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

import workloads
from measure import expect, run
from report import load_average, speed_probe
from run import WORK, forget_runs

APPLY = ["-m", "zplan.cli", "apply", "-auto-approve"]  # as the `zplan` command runs them, in either tree
PLAN = ["-m", "zplan.cli", "plan"]


def span(values: list[float], scale: float = 1.0, fmt: str = "{:.2f}") -> str:
    xs = [v * scale for v in values]
    return f"{fmt.format(statistics.median(xs))} ({fmt.format(min(xs))}-{fmt.format(max(xs))})"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--before", type=Path, help="an older zplan source tree (default: this one only)")
    p.add_argument("--wide", type=int, default=200)
    p.add_argument("--sweep", action="store_true", help="the leaves as one for_each step")
    p.add_argument("--repeat", type=int, default=5)
    args = p.parse_args(argv)
    make = workloads.sweep if args.sweep else workloads.wide
    wl = make(WORK / f"{'sweep' if args.sweep else 'wide'}{args.wide}-ab" / "zplan", args.wide)
    workloads.write_project(wl)
    workloads.set_param(wl, 1)
    versions = {"this tree": None, **({"before": str(args.before.resolve())} if args.before else {})}
    envs = {name: dict(os.environ, **({"PYTHONPATH": path} if path else {})) for name, path in versions.items()}
    forget_runs(wl.root, keep_caches=True)
    run([sys.executable, *PLAN], wl.root, envs["this tree"])  # parse and stat caches filled
    print(f"load average before: {load_average()}", flush=True)
    walls: dict[str, list[float]] = {v: [] for v in versions}
    cpus: dict[str, list[float]] = {v: [] for v in versions}
    probes: dict[str, list[float]] = {v: [] for v in versions}
    for i in range(args.repeat):
        for name in (versions if i % 2 == 0 else reversed(list(versions))):
            forget_runs(wl.root, keep_caches=True)
            os.sync()
            probes[name].append(speed_probe())
            r = expect(run([sys.executable, *APPLY], wl.root, envs[name]), (0,), f"cold apply ({name})", "Apply complete")
            walls[name].append(r.wall)
            cpus[name].append(r.cpu)
        print(f"round {i + 1}: load {load_average()}", flush=True)
    steps = len(wl.steps)
    print(f"\n| {steps} steps, cold apply | wall s | CPU s | wall ms/step | CPU ms/step | probe ms |\n|---|---|---|---|---|---|")
    for name in versions:
        print(f"| {name} | {span(walls[name])} | {span(cpus[name])} | {span(walls[name], 1000 / steps, '{:.1f}')} "
              f"| {span(cpus[name], 1000 / steps, '{:.1f}')} | {span(probes[name], 1000, '{:.0f}')} |")
    print(f"load average after: {load_average()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
