"""No-change ``zplan plan`` of two source trees, interleaved, on projects already applied.

    .venv/bin/python bench/plan_ab.py --before /tmp/base --repeat 9 bench/.work/chain/zplan bench/.work/wide/zplan

``--before`` is a copy of an older zplan (``git archive REV zplan providers | tar -x -C DIR``;
compile it with ``python -m compileall``): it is put first on PYTHONPATH. Each version first
applies its copy, so the state holds its own cache keys (the key's format may differ). Runs alternate
between the two versions so both see the same machine load, each version on its own copy of
each project (under bench/.work/plan_ab/: the cache of installed libraries is keyed by the Python
path, which PYTHONPATH changes, so a shared project would rescan them every run); each figure is a whole
process (``measure.run``): wall, CPU (user + sys) and peak RSS, median (min-max). The load
average is printed before and after.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
from pathlib import Path

from measure import expect, run
from report import load_average

PLAN = ["-m", "zplan.cli", "plan", "-detailed-exitcode"]  # as the `zplan` command runs it, in either tree


def span(values: list[float]) -> str:
    return f"{statistics.median(values):.3f} ({min(values):.3f}-{max(values):.3f})"


def _copy(project: Path, version: str, fresh: bool = False) -> Path:
    """The project for one version alone: the cache of installed libraries is keyed by the Python
    path, which PYTHONPATH changes, so one project shared by both would rescan them on every run."""
    # named by the project's folder and its parent's: the workloads' projects are all called "zplan"
    copy = Path(__file__).resolve().parent / ".work" / "plan_ab" / version.replace(" ", "-") / "-".join(project.resolve().parts[-2:])
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(project, copy, symlinks=True, ignore=shutil.ignore_patterns(".zplan") if fresh else None)
    return copy


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("projects", nargs="+", type=Path)
    p.add_argument("--before", type=Path, help="an older zplan source tree (default: this one only)")
    p.add_argument("--repeat", type=int, default=9)
    p.add_argument("--made", action="store_true", help="every plan made, none shown again from the kept no-change plan "
                   "(ZPLAN_PLAN_MEMO=off: what a plan costs when something changed, or the first after an apply)")
    p.add_argument("--fresh", action="store_true", help="copy without .zplan: each version applies from scratch "
                   "(an older zplan may not open what a newer one wrote)")
    args = p.parse_args(argv)
    versions = {"this tree": None, **({"before": str(args.before.resolve())} if args.before else {})}
    base = {**os.environ, **({"ZPLAN_PLAN_MEMO": "off"} if args.made else {})}
    print(f"load average before: {load_average()}")
    print("| project | version | wall s | CPU s | RSS MB |\n|---|---|---|---|---|")
    for project in args.projects:
        walls: dict[str, list[float]] = {v: [] for v in versions}
        cpus: dict[str, list[float]] = {v: [] for v in versions}
        rss: dict[str, float] = {v: 0.0 for v in versions}
        copies = {name: _copy(project, name, args.fresh) for name in versions}
        for name, path in versions.items():  # each version's own cache keys recorded (their formats may differ)
            env = dict(base, **({"PYTHONPATH": path} if path else {}))
            expect(run([sys.executable, "-m", "zplan.cli", "apply", "-auto-approve"], copies[name], env), (0,), f"apply ({name})")
        for _ in range(args.repeat):
            for name, path in versions.items():
                env = dict(base, **({"PYTHONPATH": path} if path else {}))
                r = expect(run([sys.executable, *PLAN], copies[name], env), (0,), f"no-change plan ({name})")
                walls[name].append(r.wall)
                cpus[name].append(r.cpu)
                rss[name] = max(rss[name], r.rss_mb)
        for name in versions:
            print(f"| {project} | {name} | {span(walls[name])} | {span(cpus[name])} | {rss[name]:.0f} |", flush=True)
    print(f"load average after: {load_average()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
