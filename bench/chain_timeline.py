"""When each part of the chain's cold apply happens: the critical path, run by run.

    .venv/bin/python bench/chain_timeline.py [--rows 200000] [--repeat 5]

Each run is ``python -m zplan.cli apply -auto-approve`` (the ``zplan`` command) on the chain workload
of ``workloads.py``, state, artifacts and metadata removed, the code and stat caches kept. A
``sitecustomize`` put first on PYTHONPATH stamps the wall clock, in every process of the apply (the
forked workers too), as the worker's ``run_step`` and ``import_early`` begin and end, and as the cycle
collector pauses any process for more than 2 ms. Each run prints as one line, seconds from the
command's start: which worker ran what, when; the last column is the process's exit. The stamps
cost a few file appends per step: compare runs with runs, not with ``chain_cost.py``'s figures.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

from measure import expect, run
from report import load_average
from run import chain_ready, forget_runs

STAMPS = r'''
import functools, gc, importlib.abc, importlib.util, os, sys, time

LOG = os.environ.get("CHAIN_TIMELINE_LOG")
WRAP = {"zplan.apply.worker": ("run_step",), "zplan.apply.warm_imports": ("import_early",)}


def stamp(label):
    with open(LOG, "a") as f:
        f.write(f"{time.time():.4f} {os.getpid()} {label}\n")


def wrapped(fn):
    @functools.wraps(fn)  # (the pool pickles it by name)
    def stamped(arg):
        label = fn.__name__ + (f" {arg.function}" if fn.__name__ == "run_step" else "")
        stamp(f"> {label}")
        try:
            return fn(arg)
        finally:
            stamp(f"< {label}")
    return stamped


class Stamping(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path, target=None):
        if fullname not in WRAP:
            return None
        sys.meta_path.remove(self)
        try:
            spec = importlib.util.find_spec(fullname)
        finally:
            sys.meta_path.insert(0, self)
        execute = spec.loader.exec_module

        def exec_module(module):
            execute(module)
            for name in WRAP[fullname]:
                setattr(module, name, wrapped(getattr(module, name)))

        spec.loader.exec_module = exec_module
        return spec


def collected(phase, info, began={}):
    if phase == "start":
        began[0] = time.perf_counter()
    elif (spent := time.perf_counter() - began.get(0, time.perf_counter())) > 0.002:
        stamp(f"gc {spent * 1000:.0f}ms")


if LOG:
    stamp("start")
    import atexit
    atexit.register(lambda: stamp("exit"))
    gc.callbacks.append(collected)
    sys.meta_path.insert(0, Stamping())
'''


def timeline(log: Path) -> tuple[str, dict[str, float]]:
    """One run's line, and its marks (seconds from the command's start)."""
    rows = [line.split(None, 2) for line in log.read_text().splitlines()]
    t0, parent = float(rows[0][0]), rows[0][1]
    workers: dict[str, int] = {}
    began: dict[tuple[str, str], float] = {}
    parts, marks = [], {}
    for stamp_at, pid, label in rows:
        t = float(stamp_at) - t0
        if label[:2] in ("> ", "< ") and pid != parent:
            workers.setdefault(pid, len(workers) + 1)
            what = label[2:].replace("run_step ", "")
            if label[0] == ">":
                began[(pid, what)] = t
            else:
                parts.append(f"w{workers[pid]}:{what}[{began.pop((pid, what), 0):.2f}-{t:.2f}]")
                marks[what] = t
        elif label.startswith("gc "):
            parts.append(f"{'parent' if pid == parent else 'worker'}-{label}")
        elif label == "exit" and pid == parent:
            marks["exit"] = t
    return " ".join(parts) + f" exit {marks.get('exit', 0):.2f}", marks


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=200_000)
    p.add_argument("--repeat", type=int, default=5)
    args = p.parse_args(argv)
    wl, python = chain_ready(args.rows)
    apply = [python, "-m", "zplan.cli", "apply", "-auto-approve"]
    expect(run(apply, wl.root), (0,), "first apply")  # (the caches a developer's machine has)
    print(f"load average: {load_average()}")
    ends: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "sitecustomize.py").write_text(STAMPS)
        for i in range(args.repeat):
            forget_runs(wl.root, keep_caches=True)
            os.sync()
            log = Path(folder, f"run-{i}.log")
            env = {**os.environ, "PYTHONPATH": folder, "CHAIN_TIMELINE_LOG": str(log)}
            expect(run(apply, wl.root, env), (0,), "cold apply", "Apply complete")
            line, marks = timeline(log)
            print(line)
            for what, t in marks.items():
                ends.setdefault(what, []).append(t)
    print(f"load average: {load_average()}")
    print("\nends, s from the start | median (min-max)\n|---|---|")
    for what, values in sorted(ends.items(), key=lambda kv: statistics.median(kv[1])):
        print(f"| {what} | {statistics.median(values):.2f} ({min(values):.2f}-{max(values):.2f}) |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
