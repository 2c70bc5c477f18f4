"""The dashboard's runs page with many runs: ``python bench/ui_runs.py [--runs 10000] [--smoke]``.

Applies the quickstart once for real, then records RUNS-1 more runs (five step executions
each, a mix of statuses and two pipelines) through the metadata writer into the same SQLite
ML Metadata store, and times HTTP requests to the pages over a real uvicorn server on
127.0.0.1: the newest page, a status filter, a page deep in the history, a run page.
The generated project is kept under bench/.work/ui-<RUNS> and reused.
"""

from __future__ import annotations

import argparse
import dataclasses
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))


def make_project(runs: int) -> Path:
    folder = BENCH / ".work" / f"ui-{runs}"
    if (folder / ".zplan" / "bench-complete").exists():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(ROOT / "examples" / "quickstart", folder, ignore=shutil.ignore_patterns(".zplan", "reports"))
    subprocess.run([sys.executable, "-m", "zplan.cli", "apply", "-auto-approve"], cwd=folder, check=True,
                   stdout=subprocess.DEVNULL)
    record_runs(folder, runs - 1)
    (folder / ".zplan" / "bench-complete").write_text("ok\n")
    return folder


def record_runs(folder: Path, count: int) -> None:
    import zplan
    from zplan.metadata import ExecutionRecord, GitInfo, MetadataStore

    first = zplan.open(folder).run(1).executions
    meta = MetadataStore.from_url("sqlite:///.zplan/metadata.db", folder)
    started = time.time() - count * 60
    t0 = time.perf_counter()
    for i in range(count):
        pipeline = "training" if i % 4 else "nightly"
        status = "failed" if i % 10 == 3 else "succeeded"
        at = started + i * 60
        number = meta.start_run(pipeline, "local", GitInfo(f"{i:040x}", False, "main"), at)
        records = []
        for j, e in enumerate(first):
            state = "failed" if status == "failed" and j == len(first) - 1 else ("cached" if j < 3 else "complete")
            records.append(ExecutionRecord(
                address=e.address, pipeline=pipeline, step=e.step, cache_key=e.cache_key, params=e.params,
                code_hash=e.code_hash, state=state, started_at=at + j, finished_at=at + j + 0.5,
                error="boom" if state == "failed" else None,
                inputs={k: v.record for k, v in e.inputs.items()}, outputs={k: v.record for k, v in e.outputs.items()}))
        meta.record_executions(number, records)
        meta.finish_run(number, status, at + 10)
        if (i + 1) % 1000 == 0:
            print(f"  recorded {i + 1} runs ({time.perf_counter() - t0:.0f} s)", flush=True)
    meta.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def timed(url: str, repeat: int) -> tuple[float, int]:
    times, size = [], 0
    for _ in range(repeat):
        t = time.perf_counter()
        with urllib.request.urlopen(url, timeout=60) as response:
            size = len(response.read())
        times.append(time.perf_counter() - t)
    return statistics.median(times), size


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=int, default=10_000)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--smoke", action="store_true", help="50 runs, one repetition")
    args = p.parse_args(argv)
    runs, repeat = (50, 1) if args.smoke else (args.runs, args.repeat)
    t = time.perf_counter()
    folder = make_project(runs)
    print(f"project with {runs:,} runs ready in {time.perf_counter() - t:.0f} s: {folder}")

    import uvicorn

    from zplan.ui.app import create_app

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(folder), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    base = f"http://127.0.0.1:{port}"
    pages = {"runs, newest 50": "/", "runs, status=failed": "/?status=failed",
             "runs, pipeline=nightly": "/?pipeline=nightly", f"runs, before={runs // 2}": f"/?before={runs // 2}",
             "run page (graph)": f"/runs/{runs}", "JSON runs": "/api/runs"}
    print(f"\n| page ({runs:,} runs) | median of {repeat} | bytes |\n|---|---:|---:|")
    for name, path in pages.items():
        seconds, size = timed(base + path, repeat)
        print(f"| {name} | {seconds * 1000:.0f} ms | {size:,} |")
    server.should_exit = True
    thread.join(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
