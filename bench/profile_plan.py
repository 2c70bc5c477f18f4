"""Where a no-change ``zplan plan`` spends its time: import costs (-X importtime) and cProfile (CPU time).

Run through ``bench/run.py --profile``; the figures are for the lead optimising
the plan path, so they are printed, not judged.
"""

from __future__ import annotations

import io
import pstats
from pathlib import Path

import workloads
from measure import BenchError, expect, run
from workloads import Workload

PLAN = "import runpy, sys; sys.argv = ['zplan', 'plan']; runpy.run_module('zplan.cli', run_name='__main__')"


def profile(wl: Workload, zplan: str, work: Path, top: int = 20) -> str:
    python = str(Path(zplan).with_name("python"))
    workloads.write_project(wl)
    if run([zplan, "plan", "-detailed-exitcode"], wl.root).code != 0:
        expect(run([zplan, "apply", "-auto-approve"], wl.root), (0,), "apply before profiling")
    timed = expect(run([zplan, "plan", "-detailed-exitcode"], wl.root), (0,), "no-change plan before profiling")
    out = [f"## Profile: no-change plan on {wl.name} ({len(wl.steps)} steps), {timed.wall:.3f} s wall, {timed.cpu:.3f} s CPU", ""]
    out += _imports(python, wl.root, top)
    out += _cprofile(python, wl.root, work / f"plan-{wl.name}.prof", top)
    return "\n".join(out)


def _imports(python: str, root: Path, top: int) -> list[str]:
    r = run([python, "-X", "importtime", "-c", PLAN], root)
    rows = []
    for line in r.output.splitlines():
        if not line.startswith("import time:") or "imported package" in line:
            continue
        self_us, cumulative, name = (part for part in line[len("import time:"):].split("|"))
        rows.append((int(cumulative), int(self_us), name.rstrip(), len(name) - len(name.lstrip()) - 1))
    total = sum(c for c, _, _, depth in rows if depth == 0)
    heads = sorted((row for row in rows if row[3] == 0), reverse=True)[:top]
    lines = [f"### Imports: {total / 1e6:.3f} s in top-level imports", "", "| cumulative ms | self ms | module |", "|---|---|---|"]
    lines += [f"| {c / 1000:.1f} | {s / 1000:.1f} | `{n.strip()}` |" for c, s, n, _ in heads]
    slow_self = sorted(rows, key=lambda row: row[1], reverse=True)[:top]
    lines += ["", "Largest self times (any depth):", "", "| self ms | module |", "|---|---|"]
    lines += [f"| {s / 1000:.1f} | `{n.strip()}` |" for _, s, n, _ in slow_self]
    return lines + [""]


def _cprofile(python: str, root: Path, prof: Path, top: int) -> list[str]:
    prof.unlink(missing_ok=True)
    # CPU time, not wall: on a shared machine waiting for a core would count as work
    # (the exit handler: the command then ends through SystemExit, caught here, not at once)
    code = (f"import atexit, cProfile, time; atexit.register(lambda: None); p = cProfile.Profile(time.process_time)\n"
            f"try:\n    p.runctx({PLAN!r}, globals(), {{}})\nexcept SystemExit:\n    pass\np.dump_stats({str(prof)!r})")
    run([python, "-c", code], root)
    if not prof.exists():
        raise BenchError("cProfile wrote no profile")
    lines = []
    for key, title in (("cumulative", "cumulative time"), ("tottime", "own time")):
        buf = io.StringIO()
        pstats.Stats(str(prof), stream=buf).strip_dirs().sort_stats(key).print_stats(top)
        text = buf.getvalue()
        body = text[text.find("   ncalls"):].rstrip()
        lines += [f"### cProfile, top {top} by {title}", "", "```", body, "```", ""]
    return lines
