"""zplan benchmarks, side by side with DVC: ``python bench/run.py [--workload all] [--smoke]``.

Generates the workloads under bench/.work/ (fixed seed), installs DVC into its
own virtualenv there, times whole processes (cold Python start included) and
prints tables with PASS/MISS against the targets. It never fails on speed; it
exits 1 only when a tool misbehaves (an error exit, or a plan that reports
changes where there are none, or none where there are).
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import aside
import measure
import report
import workloads
from dvc_peer import DvcProject, ensure
from measure import BenchError, Sample, expect, repeat, run
from workloads import COMPUTE_MARK, Workload

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
WORK = BENCH / ".work"
NAMES = ("chain", "wide", "sweep", "deep", "data")

DEFAULTS = {"rows": 200_000, "wide": 1000, "deep": 200, "data_gb": 2.0, "files": 20_000, "repeat": 5}
SMOKE = {"rows": 2_000, "wide": 20, "deep": 10, "data_gb": 0.005, "files": 200, "repeat": 1}


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--workload", choices=(*NAMES, "all"), default="all")
    p.add_argument("--rows", type=int, help=f"chain: table rows (default {DEFAULTS['rows']:,})")
    p.add_argument("--wide", type=int, help=f"wide and sweep: independent steps / for_each instances (default {DEFAULTS['wide']:,})")
    p.add_argument("--deep", type=int, help=f"deep: steps in the chain (default {DEFAULTS['deep']})")
    p.add_argument("--data-gb", type=float, help=f"data: GB of inputs (default {DEFAULTS['data_gb']:g})")
    p.add_argument("--files", type=int, help=f"data: small files in the folder (default {DEFAULTS['files']:,})")
    p.add_argument("--repeat", type=int, help=f"runs per figure (default {DEFAULTS['repeat']})")
    p.add_argument("--dvc-repeat", type=int, help="runs per DVC figure (default: --repeat)")
    p.add_argument("--dvc-limit", type=float, default=600, help="stop a cold `dvc repro` after this many seconds (default 600)")
    p.add_argument("--smoke", action="store_true", help="tiny sizes, one run each, no DVC (for CI)")
    p.add_argument("--no-dvc", action="store_true", help="skip the DVC columns")
    p.add_argument("--out", type=Path, help="also write the report as Markdown to this file")
    p.add_argument("--profile", action="store_true", help="profile a no-change plan on wide (cProfile, -X importtime)")
    args = p.parse_args(argv)
    base = SMOKE if args.smoke else DEFAULTS
    for key, value in base.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    args.dvc_repeat = args.dvc_repeat or args.repeat
    return args


def zplan_exe() -> str:
    exe = Path(sys.executable).with_name("zplan")
    if exe.exists():
        return str(exe)
    found = shutil.which("zplan")
    if found is None:
        sys.exit("error: no zplan command next to this Python or on PATH; run with the project's .venv/bin/python")
    return found


def chain_ready(rows: int) -> tuple[Workload, str]:
    """The chain workload written out under ``WORK`` with its param at 1, and the Python of the zplan
    command (chain_cost, chain_profile and chain_timeline run the same project)."""
    wl = workloads.chain(WORK / "chain" / "zplan", rows)
    workloads.write_project(wl)
    workloads.set_param(wl, 1)
    return wl, str(Path(zplan_exe()).with_name("python"))


def make(name: str, args: argparse.Namespace) -> Workload:
    root = WORK / name / "zplan"
    print(f"[{name}] preparing {root.relative_to(ROOT)} ...", flush=True)
    if name == "chain":
        return workloads.chain(root, args.rows)
    if name == "wide":
        return workloads.wide(root, args.wide)
    if name == "sweep":
        return workloads.sweep(root, args.wide)
    if name == "deep":
        return workloads.deep(root, args.deep)
    return workloads.data(root, args.data_gb, args.files)


# -- zplan ----------------------------------------------------------------------------------------------


def forget_runs(root: Path, keep_caches: bool) -> None:
    """Back to "never applied"; the code and stat caches may stay, as they would on a developer's machine."""
    state = root / ".zplan"
    if not state.exists():
        return
    for child in state.iterdir():
        if keep_caches and child.name == "cache":
            continue
        aside.put_aside(child)  # not deleted now: bench/aside.py says why


def bench_zplan(wl: Workload, n: int, res: report.WorkloadResult) -> None:
    zp = zplan_exe()
    plan, apply = [zp, "plan", "-detailed-exitcode"], [zp, "apply", "-auto-approve"]
    workloads.write_project(wl)
    workloads.set_param(wl, 1)
    forget_runs(wl.root, keep_caches=False)
    say = lambda what: print(f"[{wl.name}] zplan: {what}", flush=True)  # noqa: E731

    say("hashing throughput")
    res.throughput = measure.throughput([wl.root / p for p in wl.data], wl.data_bytes, n)
    say("first plan (no caches)")
    res.zplan["plan_first"] = repeat(n, lambda i: forget_runs(wl.root, False), lambda i: expect(run(plan, wl.root), (2,), "first plan"))
    say("cold apply")

    def cold(i: int) -> measure.Run:
        r = expect(run(apply, wl.root), (0,), "cold apply", "Apply complete")
        spent, count = measure.compute_seconds(wl.root / ".zplan" / "logs", COMPUTE_MARK)
        if count != len(wl.steps):
            raise BenchError(f"cold apply ran {count} step functions, expected {len(wl.steps)}")
        res.zplan_compute.append(spent)
        return r

    res.zplan["apply_cold"] = repeat(n, lambda i: forget_runs(wl.root, True), cold)
    say("no-change plan, no-op apply")
    res.zplan["plan"] = repeat(n, lambda i: None, lambda i: expect(run(plan, wl.root), (0,), "no-change plan"))
    res.zplan["apply_noop"] = repeat(n, lambda i: None, lambda i: expect(run(apply, wl.root), (0,), "no-op apply", "No changes"))
    for rel in wl.touch:
        say(f"plan after touching {rel}")
        res.zplan[f"touch:{rel}"] = repeat(n, lambda i: workloads.touch(wl.root / rel),
                                           lambda i: expect(run(plan, wl.root), (0,), f"plan after touching {rel}"))
    say(f"plan after changing one byte of {wl.edit}")
    original = workloads.last_byte(wl.root / wl.edit)
    try:
        res.zplan["byte"] = repeat(n, lambda i: workloads.set_byte(wl.root / wl.edit, _other_byte(original, i)),
                                   lambda i: expect(run(plan, wl.root), (2,), f"plan after changing {wl.edit}"))
    finally:
        workloads.set_byte(wl.root / wl.edit, original)
    say("apply after one param change")

    def param(i: int) -> measure.Run:
        logs = wl.root / ".zplan" / "logs"
        before = set(logs.rglob("run-*"))  # one folder of step logs per run
        r = expect(run(apply, wl.root), (0,), "apply after a param change", "Apply complete")
        ran = sum(measure.compute_seconds(d, COMPUTE_MARK)[1] for d in set(logs.rglob("run-*")) - before)
        _check_reruns(wl, ran, "zplan apply")
        return r

    res.zplan["apply_param"] = repeat(n, lambda i: workloads.set_param(wl, 2 + i), param)
    workloads.set_param(wl, 1)  # the configuration as generated; the DVC peer starts from it too


def _check_reruns(wl: Workload, ran: int, what: str) -> None:
    if ran != wl.param_reruns:
        raise BenchError(f"{what} after changing p ran {ran} step functions, expected {wl.param_reruns}")


def _other_byte(original: int, i: int) -> int:
    return (original + 1 + i) % 256


# -- DVC -------------------------------------------------------------------------------------------------


def bench_dvc(dvc: Path, wl: Workload, n: int, limit: float, res: report.WorkloadResult) -> None:
    peer = DvcProject(dvc, wl, WORK / wl.name / "dvc")
    say = lambda what: print(f"[{wl.name}] dvc: {what}", flush=True)  # noqa: E731
    peer.setup()
    dvc_run = lambda *a: run(peer.cmd(*a), peer.root, peer.env)  # noqa: E731
    up_to_date = "up to date"

    say("cold repro")
    cold = Sample()
    for _ in range(n):
        peer.reset()
        r = run(peer.cmd("repro"), peer.root, peer.env, limit)
        spent, count = measure.compute_in_text(r.output, COMPUTE_MARK)
        if r.timed_out:  # too slow to repeat: record how far it got, then finish the pipeline another way
            res.dvc_cutoff = (r.wall, count, spent)
            say(f"stopped after {limit:.0f} s with {count} of {len(wl.steps)} stages done; completing with `dvc commit`")
            peer.complete()
            break
        expect(r, (0,), "dvc repro (cold)")
        if count != len(wl.steps):
            raise BenchError(f"dvc repro ran {count} step functions, expected {len(wl.steps)}")
        res.dvc_compute.append(spent)
        cold.add(r)
    if cold.runs:
        res.dvc["apply_cold"] = cold
    say("status, no-op repro")
    res.dvc["plan"] = repeat(n, lambda i: None, lambda i: expect(dvc_run("status"), (0,), "dvc status", up_to_date))
    res.dvc["apply_noop"] = repeat(n, lambda i: None, lambda i: expect(dvc_run("repro"), (0,), "dvc repro (no-op)", up_to_date))
    for rel in wl.touch:
        say(f"status after touching {rel}")
        res.dvc[f"touch:{rel}"] = repeat(n, lambda i: workloads.touch(peer.root / rel),
                                         lambda i: expect(dvc_run("status"), (0,), "dvc status after touch", up_to_date))
    say(f"status after changing one byte of {wl.edit}")
    original = workloads.last_byte(peer.root / wl.edit)
    try:
        res.dvc["byte"] = repeat(n, lambda i: workloads.set_byte(peer.root / wl.edit, _other_byte(original, i)),
                                 lambda i: expect(dvc_run("status"), (0,), "dvc status after a change", "changed"))
    finally:
        workloads.set_byte(peer.root / wl.edit, original)
    say("repro after one param change")

    def param(i: int) -> measure.Run:
        r = expect(dvc_run("repro"), (0,), "dvc repro (param)")
        _check_reruns(wl, measure.compute_in_text(r.output, COMPUTE_MARK)[1], "dvc repro")
        return r

    res.dvc["apply_param"] = repeat(n, lambda i: peer.set_param(2 + i), param)


# -- main ------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    WORK.mkdir(parents=True, exist_ok=True)
    machine = report.machine_info(ROOT)
    dvc, dvc_note = (None, "skipped (--smoke)" if args.smoke else "skipped (--no-dvc)")
    if not (args.smoke or args.no_dvc):
        print("checking DVC (installed into bench/.work/dvc-venv on first use) ...", flush=True)
        dvc, dvc_note = ensure(WORK)
        if dvc is None:
            print(f"DVC columns skipped: {dvc_note}", flush=True)
    names = NAMES if args.workload == "all" else (args.workload,)
    results, failures = [], []
    for name in names:
        wl = make(name, args)
        res = report.WorkloadResult(wl.name, wl.notes, len(wl.steps), wl.data_bytes, wl.data_files, [f"touch:{t}" for t in wl.touch], wl.edit)
        results.append(res)
        try:
            bench_zplan(wl, args.repeat, res)
            if dvc is not None:
                bench_dvc(dvc, wl, args.dvc_repeat, args.dvc_limit, res)
        except BenchError as exc:
            res.error = str(exc)
            failures.append(name)
            print(f"[{name}] FAILED: {exc}", file=sys.stderr, flush=True)
    machine["load_after"] = report.load_average()
    text = report.render(results, machine, dvc_note, args)
    print("\n" + text)
    if args.out:
        args.out.write_text(text)
        print(f"(written to {args.out})")
    if args.profile:
        import profile_plan

        print(profile_plan.profile(make("wide", args), zplan_exe(), WORK))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
