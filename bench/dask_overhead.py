"""Per-step overhead of the dask orchestrator against the local one.

A pipeline of N trivial, independent steps (``cache = false``, so every apply runs them)
is applied on the local stack (file artifacts, SQLite) and on a dask stack (a scheduler and
two workers started here, each in its own folder; artifacts on the moto S3 server; SQLite
metadata). Prints the median apply wall time over the repeats and per step.

    .venv/bin/python bench/dask_overhead.py [--steps 8] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fixtures.dask_cluster import start_cluster  # noqa: E402
from tests.fixtures.servers import start_s3  # noqa: E402

STEPS = "def noop(i: int) -> int:\n    return i\n"


def project(folder: Path, steps: int, stacks: str) -> Path:
    folder.mkdir(parents=True)
    (folder / "steps.py").write_text(STEPS)
    body = "".join(f'  step "s{i}" {{\n    source = "steps.py:noop"\n    params = {{ i = {i} }}\n    cache = false\n  }}\n' for i in range(steps))
    (folder / "main.zp.hcl").write_text(stacks + f'pipeline "p" {{\n{body}}}\n')
    return folder


def apply_seconds(folder: Path, stack: str, env: dict) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "zplan.cli.app", "apply", "-stack", stack, "-auto-approve"],
                          cwd=folder, env=env, capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(proc.stdout + proc.stderr)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    s3 = start_s3()
    base = Path(tempfile.mkdtemp(prefix="zplan-dask-bench-"))
    cluster = start_cluster(base / "cluster", s3.env)
    try:
        stacks = (f'stack "local" {{\n  artifact_store = "file://.zplan/artifacts"\n  metadata_store = "sqlite:///.zplan/metadata.db"\n}}\n'
                  f'stack "dask" {{\n  orchestrator = "dask"\n  orchestrator_options = {{ scheduler = "{cluster.address}" }}\n'
                  f'  artifact_store = "{s3.url("bench")}"\n  metadata_store = "sqlite:///.zplan/dask.db"\n}}\n')
        folder = project(base / "p", args.steps, stacks)
        env = {**os.environ, **s3.env, "ZPLAN_NO_COLOR": "1"}
        print(f"{args.steps} trivial steps, cache = false, median of {args.repeat} applies; load {os.getloadavg()[0]:.2f}")
        for stack in ("local", "dask"):
            apply_seconds(folder, stack, env)  # warm: the first apply also creates the stores
            times = [apply_seconds(folder, stack, env) for _ in range(args.repeat)]
            median = statistics.median(times)
            print(f"  {stack:5}: apply {median:6.2f} s ({min(times):.2f}-{max(times):.2f}), {1000 * median / args.steps:7.0f} ms per step")
    finally:
        cluster.stop()
        s3.stop()


if __name__ == "__main__":
    main()
