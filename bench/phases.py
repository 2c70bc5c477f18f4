"""CPU time (``time.process_time``) of each phase of one no-change ``zplan plan``, in-process.

    .venv/bin/python bench/phases.py PROJECT [--repeat 5]

Each repetition is a fresh process (imports included); the phases are timed by wrapping the
functions that do them: imports, opening the project, reading the state, planning the steps
(and resources), the JSON plan, saving the caches, printing the plan. Minimum over the runs.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

CHILD = r'''
import atexit, json, os, sys, time
t0 = time.process_time()
# An exit handler: the command then ends through SystemExit (caught below), not at once
# (zplan.cli.process._exit); what it kept is freed only as the interpreter exits, after the report.
atexit.register(lambda: None)
os.chdir(sys.argv[1])
sys.argv = ["zplan", "plan", "-detailed-exitcode"]
import zplan.cli.launch as launch
from zplan.cli import plan_cmd
from zplan.operations import applying, planning
from zplan.state import backend
from zplan.plan.planner import Planner
spent = {"imports": time.process_time() - t0}

def timed(owner, name, label):
    inner = getattr(owner, name)
    def wrapper(*a, **k):
        t = time.process_time()
        try:
            return inner(*a, **k)
        finally:
            spent[label] = spent.get(label, 0.0) + time.process_time() - t
    setattr(owner, name, wrapper)

timed(applying, "open_project", "open project")
timed(applying, "make_plan", "(make_plan)")
timed(plan_cmd, "run_plan", "(CLI command)")
timed(backend.FileBackend, "read", "read state")
timed(Planner, "plan", "plan steps")
timed(applying, "to_json", "JSON plan")
timed(Planner, "save_caches", "save caches")
timed(planning, "adopt_leftovers", "adopt")
import zplan.render.plan_view as plan_view
timed(plan_view, "print_plan", "print plan")
try:
    launch.main()
except SystemExit:
    pass
spent["total"] = time.process_time()
print(json.dumps(spent), file=sys.stderr)
'''


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("project", type=Path)
    p.add_argument("--repeat", type=int, default=5)
    args = p.parse_args(argv)
    runs = []
    for _ in range(args.repeat):
        r = subprocess.run([sys.executable, "-c", CHILD, str(args.project)], capture_output=True, text=True)
        runs.append(json.loads(r.stderr.strip().splitlines()[-1]))
    for phase in runs[0]:
        values = [run.get(phase, 0.0) for run in runs]
        print(f"{phase:14s} {1000 * min(values):8.1f} ms  (max {1000 * max(values):.1f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
