"""Where a cold apply of the chain workload spends its CPU time, part by part.

    .venv/bin/python bench/chain_profile.py [--rows 200000] [--repeat 3]

Two views, each the minimum over ``--repeat`` runs of CPU seconds (``time.process_time``, this
process only; pandas' and pyarrow's threads count):

- the worker's side: the five steps' tasks replayed in this one process with ``run_step``, exactly
  as a single worker runs them in order, each task naming its upstream's stored outputs; the
  worker's phases are timed by wrapping its functions (importing the step module, verifying an
  input, loading it, the step function, materializing an output, storing it);
- the parent's side: ``zplan apply`` as a whole process and a no-op ``zplan apply`` (start, plan,
  ML Metadata, no step run), as ``measure.run`` sees them.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from measure import expect, run
from report import load_average
from run import chain_ready, forget_runs

REPLAY = r'''
import json, sys, tempfile, time
from collections import defaultdict
from pathlib import Path

spent = defaultdict(float)
t_start = time.process_time()
from zplan.apply import worker as w
from zplan.artifacts import materializers as mat
spent["import zplan.apply.worker"] += time.process_time() - t_start


def timed(label, fn):
    def wrapper(*args, **kwargs):
        t0 = time.process_time()
        try:
            return fn(*args, **kwargs)
        finally:
            spent[label] += time.process_time() - t0
    return wrapper


w.load_function = timed("import the step module (pandas, sklearn)", w.load_function)
w._verified = timed("verify inputs (rehash)", w._verified)
store_put = None


def materializer_timed(m):
    class Timed:
        name, version = m.name, m.version
        save = staticmethod(timed(f"materialize outputs ({m.name})", m.save))
        load = staticmethod(timed(f"load inputs ({m.name})", m.load))
    return Timed()


mat_for, mat_get = mat.materializer_for, mat.get_materializer
mat.materializer_for = lambda *a, **k: materializer_timed(mat_for(*a, **k))
mat.get_materializer = lambda *a, **k: materializer_timed(mat_get(*a, **k))

root, store_url, csv = sys.argv[1], sys.argv[2], sys.argv[3]
store = w._store(store_url, root)
store.put = timed("store outputs (hash, copy, fsync)", store.put)
if hasattr(store, "put_owned"):  # outputs moved into the store, synced by the apply's parent (not here)
    store.put_owned = timed("store outputs (hash, move)", store.put_owned)
steps = {
    "load": ({"csv": ("path", csv)}, {}, None),
    "split": ({"data": ("load", "output")}, {"test_size": 0.25, "seed": 42}, ["train", "test"]),
    "scale": ({"train": ("split", "train"), "test": ("split", "test")}, {}, ["train", "test"]),
    "train": ({"train": ("scale", "train")}, {"c": 1, "seed": 42}, None),
    "evaluate": ({"model": ("train", "output"), "test": ("scale", "test")}, {}, None),
}
read = {(up, out) for inputs, _, _ in steps.values() for up, out in inputs.values() if up != "path"}
outputs = {}
log = tempfile.mktemp()
compute = 0.0
for name, (inputs, params, declared) in steps.items():
    args = {}
    for arg, (up, out) in inputs.items():
        if up == "path":
            args[arg] = w.PathArg(out)
        else:
            rec = outputs[up][out]
            args[arg] = w.ArtifactArg(rec["digest"], rec["materializer"])
    task = w.StepTask(f"step.{name}", root, "steps.py", name, params, args, declared, store_url, 1, log)
    if hasattr(task, "sync_outputs"):  # as the runner sets it for a worker of this machine
        task.sync_outputs = False
    if hasattr(task, "handed_on"):  # as the runner sets it: the outputs another step reads
        task.handed_on = tuple(sorted(out for up, out in read if up == name))
    t0 = time.process_time()
    result = w.run_step(task)
    spent["whole tasks"] += time.process_time() - t0
    assert result.ok, result.error
    outputs[name] = result.outputs
for line in open(log):
    if line.startswith("bench-compute-seconds "):
        compute += float(line.split()[1])
spent["step bodies (their own timers, wall)"] = compute
print(json.dumps(spent))
'''


def replay(python: str, root: Path) -> dict[str, float]:
    store = Path(tempfile.mkdtemp(prefix="chain-store-"))
    try:
        r = expect(run([python, "-c", REPLAY, str(root), store.as_uri(), str(root / "data" / "train.csv")], root), (0,), "replay")
        return json.loads(r.output.strip().splitlines()[-1])
    finally:
        shutil.rmtree(store, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=200_000)
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args(argv)
    wl, python = chain_ready(args.rows)
    apply = [python, "-m", "zplan.cli", "apply", "-auto-approve"]  # the `zplan` command
    print(f"load average: {load_average()}")
    parts: dict[str, list[float]] = defaultdict(list)
    whole: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for _ in range(args.repeat):
        for label, value in replay(python, wl.root).items():
            parts[label].append(value)
        forget_runs(wl.root, keep_caches=True)
        os.sync()
        r = expect(run(apply, wl.root), (0,), "cold apply")
        whole["cold apply (whole process, workers included)"].append((r.wall, r.cpu))
        r = expect(run(apply, wl.root), (0,), "no-op apply")
        whole["no-op apply (start, plan, ML Metadata)"].append((r.wall, r.cpu))
    print(f"load average: {load_average()}")
    print("\nworker's side, replayed in one process | CPU s (min of runs)\n|---|---|")
    for label, values in sorted(parts.items(), key=lambda kv: -min(kv[1])):
        print(f"| {label} | {min(values):.3f} |")
    print("\nwhole processes | wall s | CPU s\n|---|---|---|")
    for label, values in whole.items():
        walls, cpus = [v[0] for v in values], [v[1] for v in values]
        print(f"| {label} | {statistics.median(walls):.2f} ({min(walls):.2f}-{max(walls):.2f}) | "
              f"{statistics.median(cpus):.2f} ({min(cpus):.2f}-{max(cpus):.2f}) |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
