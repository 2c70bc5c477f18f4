"""A cold apply of the chain workload, next to calling its five functions by hand in one process.

    .venv/bin/python bench/chain_cost.py [--rows 200000] [--repeat 3] [--before GIT_REVISION]

The chain workload of ``workloads.py`` (load, split, scale, train, evaluate over a generated CSV).
Whole processes (``measure.run``: wall, CPU of the process and of everything it started, peak RSS),
alternated in each round so every version sees the same load:

- by hand: one process importing ``steps.py`` and calling the five functions in order, each
  given its upstream's return value: the least any tool must do;
- zplan: the ``zplan apply -auto-approve`` command with state, artifacts, metadata and logs removed, the code and
  stat caches kept (as on a developer's machine), after ``os.sync()``.

With ``--before REV`` the zplan row runs for both versions: that revision's ``zplan/`` is
exported under ``bench/.work/`` and put first on PYTHONPATH, with a ``sitecustomize`` taking the
editable install's import hook for ``zplan`` out of the way (that hook comes before PYTHONPATH, in
the workers too). The last column sums what the step bodies report about themselves (their imports
included): the rest of a row is what runs around them.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import statistics
import sys
from pathlib import Path

from measure import Run, compute_in_text, compute_seconds, expect, run
from report import load_average, page_cache
from run import WORK, chain_ready, forget_runs
from workloads import COMPUTE_MARK

BY_HAND = '''import sys
sys.path.insert(0, ".")
from pathlib import Path
import steps
data = steps.load(Path("data/train.csv"))
parts = steps.split(data, test_size=0.25, seed=42)
scaled = steps.scale(parts["train"], parts["test"])
model = steps.train(scaled["train"], c={c}, seed=42)
steps.evaluate(model, scaled["test"])
'''



ROOT = Path(__file__).resolve().parent.parent
SITECUSTOMIZE = """import sys  # this exported zplan, not the editable install's
sys.meta_path[:] = [f for f in sys.meta_path if not getattr(f, "__module__", "").startswith("__editable___zplan_0")]
"""


def export(revision: str) -> str:
    """``revision``'s zplan package in a folder of its own, importable ahead of the editable install."""
    commit = subprocess.run(["git", "rev-parse", "--short", revision], cwd=ROOT, check=True, capture_output=True, text=True).stdout.strip()
    folder = WORK / f"zplan-{commit}"
    if not (folder / "zplan").is_dir():
        folder.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(["git", "archive", commit, "zplan"], cwd=ROOT, check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(folder / "zplan")], check=True)
    (folder / "sitecustomize.py").write_text(SITECUSTOMIZE)
    return str(folder)


def env_for(path: str | None) -> dict[str, str]:
    return dict(os.environ, **({"PYTHONPATH": path} if path else {}))


def span(xs: list[float]) -> str:
    return f"{statistics.median(xs):.2f} ({min(xs):.2f}-{max(xs):.2f})"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=200_000)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--before", help="a git revision to compare with (e.g. HEAD~3)")
    args = p.parse_args(argv)
    wl, python = chain_ready(args.rows)
    apply = [python, "-m", "zplan.cli", "apply", "-auto-approve"]  # the `zplan` command, as either version has it
    by_hand = [python, "-c", BY_HAND.format(c=wl.param)]
    versions = {"this tree": None, **({f"before, {args.before}": export(args.before)} if args.before else {})}
    rows: dict[str, list[Run]] = {}
    bodies: dict[str, list[float]] = {}
    loads, cache_before = [load_average()], page_cache()
    run(by_hand, wl.root)  # the page cache warm before the first timed run
    forget_runs(wl.root, keep_caches=False)
    for path in versions.values():  # untimed: fills the code and stat caches
        forget_runs(wl.root, keep_caches=True)
        expect(run(apply, wl.root, env_for(path)), (0,), "first apply")
    for i in range(args.repeat):
        r = expect(run(by_hand, wl.root), (0,), "by hand")
        rows.setdefault("by hand", []).append(r)
        bodies.setdefault("by hand", []).append(compute_in_text(r.output, COMPUTE_MARK)[0])
        for name, path in versions.items():
            env = env_for(path)
            forget_runs(wl.root, keep_caches=True)
            os.sync()  # the previous run's writes flushed now: no run pays another's writeback
            label = f"zplan cold apply ({name})"
            rows.setdefault(label, []).append(expect(run(apply, wl.root, env), (0,), label, "Apply complete"))
            bodies.setdefault(label, []).append(compute_seconds(wl.root / ".zplan" / "logs", COMPUTE_MARK)[0])
        loads.append(load_average())
        print(f"round {i + 1} done (load {loads[-1]})", flush=True)
    print(f"\nload average: {loads[0]} before, {loads[-1]} after; {cache_before} before, {page_cache()} after")
    print(f"\nchain, {args.rows:,} rows | wall s | CPU s | peak RSS MB | inside the step bodies s\n|---|---|---|---|---|")
    for label, runs in rows.items():
        print(f"| {label} | {span([r.wall for r in runs])} | {span([r.cpu for r in runs])} | "
              f"{max(r.rss_mb for r in runs):.0f} | {span(bodies[label])} |")
    hand = rows["by hand"]
    for label, runs in rows.items():
        if label != "by hand":
            wall = statistics.median(r.wall for r in runs) / statistics.median(r.wall for r in hand)
            cpu = statistics.median(r.cpu for r in runs) / statistics.median(r.cpu for r in hand)
            print(f"{label}: {wall:.2f}x wall, {cpu:.2f}x CPU of by hand")
    return 0


if __name__ == "__main__":
    sys.exit(main())
