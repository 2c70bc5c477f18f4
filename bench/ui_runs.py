"""The dashboard's runs page with many runs: ``python bench/ui_runs.py [--runs 10000] [--smoke]``.

Applies the quickstart once for real, then records RUNS-1 more runs (five step executions
each, a mix of statuses and two pipelines) into the same SQLite ML Metadata store, with the
types and properties the metadata writer uses, and times HTTP requests to the pages over a real uvicorn server on
127.0.0.1: the newest page, a status filter, a page deep in the history, a run page.
The generated project is kept under bench/.work/ui-<RUNS> and reused.
"""

from __future__ import annotations

import argparse
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


def record_runs(folder: Path, count: int, batch: int = 500) -> None:
    """Record ``count`` runs like run 1 (its artifacts reused), in batches of ``batch`` runs per
    write: going through ``Writer.start_run`` once per run costs a growing scan of the running
    runs each time, which made recording 10,000 runs take hours; the rows written are the same."""
    import zplan
    from zplan.metadata import MetadataStore
    from zplan.metadata import convert as cv

    first = zplan.open(folder).run(1).executions
    meta = MetadataStore.from_url("sqlite:///.zplan/metadata.db", folder)
    store, types, m = meta._writer()
    pipelines = {name: meta._pipeline_context_id(name) for name in ("training", "nightly")}
    started = time.time() - count * 60
    t0 = time.perf_counter()
    for offset in range(0, count, batch):
        numbers = range(2 + offset, 2 + min(count, offset + batch))
        contexts, executions, owners = [], [], []
        for number in numbers:
            i = number - 2
            pipeline = "training" if i % 4 else "nightly"
            status = "failed" if i % 10 == 3 else "succeeded"
            at = started + i * 60
            ctx = m.pb.Context(type_id=types.run, name=cv.run_name(number))
            cv.set_props(ctx, {"number": number, "pipeline": pipeline, "stack": "local", "git_commit": f"{i:040x}",
                               "git_dirty": False, "git_branch": "main", "status": status, "started_at": at,
                               "finished_at": at + 10})
            contexts.append(ctx)
            for j, e in enumerate(first):
                state = "failed" if status == "failed" and j == len(first) - 1 else ("cached" if j < 3 else "complete")
                ex = m.pb.Execution(type_id=types.step, last_known_state=cv.state_proto(m.pb, state))
                cv.set_props(ex, {"address": e.address, "pipeline": pipeline, "step": e.step, "cache_key": e.cache_key,
                                  "params": cv.params_json(e.params), "code_hash": e.code_hash, "error": "boom" if state == "failed" else None,
                                  "started_at": at + j, "finished_at": at + j + 0.5})
                executions.append(ex)
                owners.append((len(contexts) - 1, pipeline, e))
        context_ids = store.put_contexts(contexts)
        store.put_parent_contexts([m.pb.ParentContext(child_id=c, parent_id=pipelines[ctx.properties["pipeline"].string_value])
                                   for c, ctx in zip(context_ids, contexts)])
        execution_ids = store.put_executions(executions)
        events, associations = [], []
        for execution_id, (k, pipeline, e) in zip(execution_ids, owners):
            associations += [m.pb.Association(execution_id=execution_id, context_id=context_ids[k]),
                             m.pb.Association(execution_id=execution_id, context_id=pipelines[pipeline])]
            for kind, side in ((m.pb.Event.INPUT, e.inputs), (m.pb.Event.OUTPUT, e.outputs)):
                for name, view in side.items():
                    event = m.pb.Event(artifact_id=view.id, execution_id=execution_id, type=kind)
                    event.path.steps.add().key = name
                    events.append(event)
        store.put_events(events)
        store.put_attributions_and_associations([], associations)
        print(f"  recorded {offset + len(numbers)} runs ({time.perf_counter() - t0:.0f} s)", flush=True)
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
