"""Turning samples into the Markdown tables printed by run.py (and saved as results.md)."""

from __future__ import annotations

import datetime as _dt
import os
import platform
import statistics
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from measure import Sample

PLAN_LIMIT = 0.5  # seconds, no-change plan on wide and data
PLAN_VS_DVC = 5.0  # times faster than `dvc status`
STEP_OVERHEAD = 0.010  # seconds per step
HASH_VS_READ = 0.70
NOOP_VS_PLAN = 1.5
THROUGHPUT_TARGETED = ("chain", "data")  # workloads with enough bytes for GB/s to mean something


@dataclass
class WorkloadResult:
    name: str
    notes: str
    steps: int
    data_bytes: int
    data_files: int
    touches: list[str]
    edit: str
    zplan: dict[str, Sample] = field(default_factory=dict)
    dvc: dict[str, Sample] = field(default_factory=dict)
    zplan_compute: list[float] = field(default_factory=list)  # seconds inside step functions, per cold apply
    dvc_compute: list[float] = field(default_factory=list)
    throughput: dict[str, float] = field(default_factory=dict)
    dvc_cutoff: tuple[float, int, float] | None = None  # a cold repro stopped at the time limit: (wall, stages done, seconds in them)
    error: str | None = None

    def overhead(self, tool: str) -> list[float]:
        """Per cold run: (wall - time inside step functions) / steps."""
        sample = (self.zplan if tool == "zplan" else self.dvc).get("apply_cold")
        compute = self.zplan_compute if tool == "zplan" else self.dvc_compute
        if sample is None:
            return []
        return [(r.wall - c) / self.steps for r, c in zip(sample.runs, compute)]


def load_average() -> str:
    return " / ".join(f"{x:.2f}" for x in os.getloadavg())


def page_cache() -> str:
    """The kernel's page cache and free memory now. On this kind of virtual machine a page the guest never
    touched before costs the host a fault when first written: as the cache grows (each cold apply's
    stored outputs stay in it, the runs being moved aside, not deleted), fresh memory comes from such pages
    and the same apply spends two to three times the system time (results.md, twenty-fifth pass)."""
    info = {}
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                info[key] = int(value.split()[0]) / 2**20  # GiB
    except OSError:
        return "unknown"
    return f"page cache {info.get('Cached', 0):.1f} GiB, free {info.get('MemFree', 0):.1f} GiB"


def speed_probe() -> float:
    """Seconds a fixed pure-Python loop takes now. On a shared virtual machine the same loop can take
    half as long again from one second to the next (other tenants), which the load average does not
    show: printed beside figures, it says whether two trees' runs met the same machine."""
    started, total = time.perf_counter(), 0
    for i in range(1_000_000):
        total += i
    return time.perf_counter() - started


def machine_info(root: Path) -> dict[str, str]:
    mem = "?"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return {
        "date": _dt.datetime.now().isoformat(timespec="minutes"),
        "cores": str(os.cpu_count()),
        "memory": mem,
        "python": platform.python_version(),
        "os": f"{platform.system()} {platform.release()}",
        "zplan": _git(root),
        "load_before": load_average(),
    }


def _git(root: Path) -> str:
    try:
        sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", "zplan"], cwd=root,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return f"{sha}{' + uncommitted changes under zplan/' if dirty else ''}"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


# -- rendering -------------------------------------------------------------------------------------------


def render(results: list[WorkloadResult], machine: dict[str, str], dvc_note: str, args) -> str:
    out = ["# zplan benchmark results", ""]
    out += _machine(machine, dvc_note, args)
    out += ["", "## Commands", "", "Wall seconds per whole process (cold Python start included): median (min-max) over the runs "
            "(zplan / DVC where they differ). CPU = median user+system seconds of the command and every process it "
            "started (step workers included). RSS = peak resident memory of the command's own process.", ""]
    out += _commands(results)
    out += ["", "## Orchestration overhead per step (cold apply)", "",
            "(whole-process wall time - time inside step functions, as the steps report it) / steps. "
            "Step functions time their own bodies, imports they do inside included.", ""]
    out += _overhead(results)
    out += ["", "## First-time hashing vs raw reads", "",
            "In-process, same run, same files, page cache warm (dropping it needs root). zplan = "
            "`StatCache.tree_hash` with an empty cache (what plan does for new data); raw = reading the same "
            "bytes in the same 4 MiB chunks without hashing. The first plan (no caches) is a whole `zplan plan`.", ""]
    out += _throughput(results)
    out += ["", "## Targets", ""]
    out += _targets(results)
    errors = [r for r in results if r.error]
    if errors:
        out += ["", "## Failures", ""] + [f"- **{r.name}**: {r.error.splitlines()[0]}" for r in errors]
    return "\n".join(out) + "\n"


def _machine(m: dict[str, str], dvc_note: str, args) -> list[str]:
    sizes = f"chain {args.rows:,} rows; wide {args.wide:,}; deep {args.deep}; data {args.data_gb:g} GB ({args.files:,} small files)"
    return [
        f"- Date: {m['date']}; zplan {m['zplan']}",
        f"- Machine: {m['cores']} cores, {m['memory']} memory, {m['os']}, Python {m['python']}",
        f"- Load average (1/5/15 min) before: {m['load_before']}; after: {m.get('load_after', '?')}"
        + (" (other processes were running: wall times include waiting for a core)" if _busy(m) else ""),
        f"- DVC: {dvc_note}",
        f"- Sizes: {sizes}; {args.repeat} run(s) per figure{' (smoke run: figures mean little)' if args.smoke else ''}",
    ]


def _busy(m: dict[str, str]) -> bool:
    try:
        loads = [float(x) for x in (m["load_before"].split(" / ")[0], m.get("load_after", "0").split(" / ")[0])]
    except ValueError:
        return False
    return max(loads) > 0.5


def _ops(r: WorkloadResult) -> list[tuple[str, str, str | None]]:
    ops = [("plan_first", "plan, first (no caches)", None), ("plan", "plan, no change", "status")]
    ops += [(t, f"plan, {t.split(':', 1)[1]} touched", "status") for t in r.touches]
    ops += [("byte", f"plan, 1 byte of {r.edit} changed", "status"), ("apply_cold", "apply, cold", "repro (cold)"),
            ("apply_noop", "apply, no-op", "repro (no-op)"), ("apply_param", "apply, p changed", "repro (p changed)")]
    return ops


def _commands(results: list[WorkloadResult]) -> list[str]:
    rows = ["| workload | operation | runs | zplan wall s | CPU s | RSS MB | DVC | DVC wall s | DVC CPU s | DVC RSS MB | zplan/DVC |",
            "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        for key, label, peer in _ops(r):
            z, d = r.zplan.get(key), r.dvc.get(key)
            if z is None:
                continue
            runs = f"{len(z.runs)}" + (f" / {len(d.runs)}" if d and len(d.runs) != len(z.runs) else "")
            cells = [r.name, label, runs, z.span(), f"{z.cpu:.2f}", f"{z.rss_mb:.0f}"]
            if d and peer:
                cells += [f"`dvc {peer}`", d.span(), f"{d.cpu:.2f}", f"{d.rss_mb:.0f}", f"{z.median / d.median:.2f}"]
            elif key == "apply_cold" and r.dvc_cutoff:
                wall, done, _ = r.dvc_cutoff
                cells += [f"`dvc {peer}`", f"> {wall:.0f} (stopped: {done} of {r.steps} stages done)", "", "", f"< {z.median / wall:.2f}"]
            else:
                cells += ["", "", "", "", ""]
            rows.append("| " + " | ".join(cells) + " |")
    return rows


def _overhead(results: list[WorkloadResult]) -> list[str]:
    rows = ["| workload | steps | zplan cold apply s | in steps s | zplan ms/step | DVC cold repro s | in steps s | DVC ms/step | target |",
            "|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        z = r.overhead("zplan")
        if not z:
            continue
        d = r.overhead("dvc")
        med = statistics.median(z)
        cells = [r.name, str(r.steps), r.zplan["apply_cold"].span(), f"{statistics.median(r.zplan_compute):.3f}", _ms(z)]
        if d:
            cells += [r.dvc["apply_cold"].span(), f"{statistics.median(r.dvc_compute):.3f}", _ms(d)]
        elif r.dvc_cutoff:
            wall, done, spent = r.dvc_cutoff
            cells += [f"> {wall:.0f} (stopped)", f"{spent:.3f}", f"{(wall - spent) / max(done, 1) * 1000:.1f} (first {done} stages)"]
        else:
            cells += ["", "", ""]
        cells.append(_verdict(med <= STEP_OVERHEAD, f"<= {STEP_OVERHEAD * 1000:.0f} ms"))
        rows.append("| " + " | ".join(cells) + " |")
    return rows


def _ms(values: list[float]) -> str:
    med = statistics.median(values) * 1000
    return f"{med:.1f}" if len(values) == 1 else f"{med:.1f} ({min(values) * 1000:.1f}-{max(values) * 1000:.1f})"


def _throughput(results: list[WorkloadResult]) -> list[str]:
    rows = ["| workload | bytes | files | raw read | zplan hash | hash/raw | first plan s | target |", "|---|---|---|---|---|---|---|---|"]
    for r in results:
        t = r.throughput
        if not t:
            continue
        ratio = t["hash_gbps"] / t["raw_gbps"]
        first = r.zplan.get("plan_first")
        target = _verdict(ratio >= HASH_VS_READ, f">= {HASH_VS_READ:.0%}") if r.name in THROUGHPUT_TARGETED else "(tiny files: not targeted)"
        rows.append(f"| {r.name} | {_bytes(r.data_bytes)} | {r.data_files:,} | {_rate(t['raw_gbps'])} | {_rate(t['hash_gbps'])} | "
                    f"{ratio:.0%} | {first.span() if first else ''} | {target} |")
    return rows


def _rate(gbps: float) -> str:
    return f"{gbps:.2f} GB/s" if gbps >= 0.1 else f"{gbps * 1000:.1f} MB/s"


def _bytes(n: int) -> str:
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:.2f} {unit}"
    return f"{n} B"


def _targets(results: list[WorkloadResult]) -> list[str]:
    rows = ["| target | workload | measured (wall) | result | measured (CPU) | result on CPU |", "|---|---|---|---|---|---|"]

    def add(target: str, name: str, wall: str, ok: bool, cpu: str = "", cpu_ok: bool | None = None) -> None:
        rows.append(f"| {target} | {name} | {wall} | {_verdict(ok)} | {cpu} | {'' if cpu_ok is None else _verdict(cpu_ok)} |")

    for r in results:
        plan, noop = r.zplan.get("plan"), r.zplan.get("apply_noop")
        if plan and r.name in ("wide", "data"):
            add(f"no-change plan <= {PLAN_LIMIT} s", r.name, f"{plan.median:.3f} s", plan.median <= PLAN_LIMIT,
                f"{plan.cpu:.3f} s", plan.cpu <= PLAN_LIMIT)
            status = r.dvc.get("plan")
            if status:
                add(f"no-change plan >= {PLAN_VS_DVC:g}x faster than `dvc status`", r.name, f"{status.median / plan.median:.1f}x",
                    status.median / plan.median >= PLAN_VS_DVC, f"{status.cpu / plan.cpu:.1f}x", status.cpu / plan.cpu >= PLAN_VS_DVC)
        over = r.overhead("zplan")
        if over:  # no CPU variant: steps report wall time, which includes waiting for a core
            add(f"overhead <= {STEP_OVERHEAD * 1000:.0f} ms/step", r.name, f"{statistics.median(over) * 1000:.1f} ms",
                statistics.median(over) <= STEP_OVERHEAD)
        if r.throughput and r.name in THROUGHPUT_TARGETED:
            ratio = r.throughput["hash_gbps"] / r.throughput["raw_gbps"]
            add(f"hashing >= {HASH_VS_READ:.0%} of raw read", r.name, f"{ratio:.0%}", ratio >= HASH_VS_READ)
        if plan and noop:
            add(f"no-op apply <= {NOOP_VS_PLAN}x no-change plan", r.name, f"{noop.median / plan.median:.2f}x",
                noop.median <= NOOP_VS_PLAN * plan.median, f"{noop.cpu / plan.cpu:.2f}x", noop.cpu <= NOOP_VS_PLAN * plan.cpu)
    return rows


def _verdict(ok: bool, target: str = "") -> str:
    word = "PASS" if ok else "MISS"
    return f"{word} ({target})" if target else word
