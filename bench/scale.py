"""Scale: the sweep workload at growing sizes; cold apply, no-change plan, peak memory.

    .venv/bin/python bench/scale.py [--sizes 1000,5000,20000] [--repeat 3] [--out bench/scale.json]

For each size N: the ``sweep`` workload (one ``for_each`` step with N instances, each reading
its own small file, and one step gathering their outputs), a cold apply (state, artifacts and
metadata moved aside; code and stat caches kept), then the no-change plan ``--repeat`` times.
Whole processes (``measure.run``): wall, CPU (user + sys, step workers included), peak RSS of
the zplan process. The no-change plan is measured made (``ZPLAN_PLAN_MEMO=off``) and kept (shown
again from ``.zplan/cache/plan.memo`` after one plan keeps it). Per-step overhead = (cold wall - time inside step functions) / steps. The
figures go to a JSON file that ``bench/plot.py`` draws as a PNG.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from pathlib import Path

import measure
import workloads
from measure import BenchError, expect, run
from report import load_average
from run import WORK, forget_runs, zplan_exe

BENCH = Path(__file__).resolve().parent


def one_size(n: int, repeat: int) -> dict:
    wl = workloads.sweep(WORK / f"sweep{n}" / "zplan", n)
    workloads.write_project(wl)
    workloads.set_param(wl, 1)
    zp = zplan_exe()
    forget_runs(wl.root, keep_caches=True)
    expect(run([zp, "plan", "-detailed-exitcode"], wl.root), (2,), "plan before the cold apply")  # parse cache filled
    forget_runs(wl.root, keep_caches=True)
    load = load_average()
    cold = expect(run([zp, "apply", "-auto-approve"], wl.root), (0,), "cold apply", "Apply complete")
    spent, count = measure.compute_seconds(wl.root / ".zplan" / "logs", workloads.COMPUTE_MARK)
    if count != len(wl.steps):
        raise BenchError(f"cold apply ran {count} step functions, expected {len(wl.steps)}")
    # made: the plan worked out from the configuration and state; kept: the kept no-change plan shown again
    # (zplan.operations.plan_memo: every recorded path looked at again), after one plan that keeps it
    made = {**os.environ, "ZPLAN_PLAN_MEMO": "off"}
    plans = [expect(run([zp, "plan", "-detailed-exitcode"], wl.root, made), (0,), "no-change plan") for _ in range(repeat)]
    expect(run([zp, "plan", "-detailed-exitcode"], wl.root), (0,), "no-change plan (kept)")
    kept = [expect(run([zp, "plan", "-detailed-exitcode"], wl.root), (0,), "kept plan") for _ in range(repeat)]
    return {
        "steps": len(wl.steps),
        "load": load,
        "load_after": load_average(),
        "cold": {"wall": cold.wall, "cpu": cold.cpu, "rss_mb": cold.rss_mb, "compute": spent,
                 "ms_per_step": 1000 * (cold.wall - spent) / len(wl.steps)},
        "plan": {"wall": [r.wall for r in plans], "cpu": [r.cpu for r in plans], "rss_mb": max(r.rss_mb for r in plans)},
        "kept": {"wall": [r.wall for r in kept], "cpu": [r.cpu for r in kept], "rss_mb": max(r.rss_mb for r in kept)},
    }


def table(rows: list[dict]) -> str:
    def span(xs: list[float]) -> str:
        return f"{statistics.median(xs):.2f} ({min(xs):.2f}-{max(xs):.2f})"

    out = ["| steps | load | no-change plan wall s | plan CPU s | plan peak RSS MB | kept plan wall s | kept CPU s | kept peak RSS MB "
           "| cold apply wall s | cold CPU s | ms/step (wall - step bodies) | CPU ms/step | cold peak RSS MB |",
           "|---:|---|---|---|---:|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        c, p, k = r["cold"], r["plan"], r["kept"]
        out.append(f"| {r['steps']:,} | {r['load']} | {span(p['wall'])} | {span(p['cpu'])} | {p['rss_mb']:.0f} | "
                   f"{span(k['wall'])} | {span(k['cpu'])} | {k['rss_mb']:.0f} | "
                   f"{c['wall']:.1f} | {c['cpu']:.1f} | {c['ms_per_step']:.1f} | {1000 * c['cpu'] / r['steps']:.1f} | {c['rss_mb']:.0f} |")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default="1000,5000,20000", help="for_each instances per run, comma-separated")
    p.add_argument("--repeat", type=int, default=3, help="no-change plans per size")
    p.add_argument("--out", type=Path, default=BENCH / "scale.json")
    args = p.parse_args(argv)
    rows = []
    for n in (int(s) for s in args.sizes.split(",")):
        print(f"[sweep {n:,}] ...", flush=True)
        rows.append(one_size(n, args.repeat))
        args.out.write_text(json.dumps(rows, indent=1))  # kept as it grows: a long run can be stopped
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
