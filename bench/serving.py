"""Serving figures: time from `zplan apply` to the first prediction served by the
local_model_server, and the added latency of one V2 request over model.predict in-process.

    .venv/bin/python bench/serving.py [--repeat 3] [--requests 300] [--fresh-runtime]

Each run applies a fresh copy of examples/serving (no state), then sends one V2 inference
request as soon as the server is recorded, and destroys it afterwards. --fresh-runtime makes the
first run create the model server's environment in an empty folder (uv's own cache stays warm).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import pickle
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "serving"
WORK = ROOT / "bench" / ".work" / "serving"
API = "resource.local_model_server.api"


def zplan(cwd: Path, *args: str, env: dict) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "zplan.cli", *args], cwd=cwd, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)


def time_to_first_prediction(env: dict) -> tuple[float, float, dict]:
    """(seconds from apply start to the first served prediction, seconds of the whole apply, server attributes)."""
    shutil.rmtree(WORK, ignore_errors=True)
    shutil.copytree(EXAMPLE, WORK, ignore=shutil.ignore_patterns(".zplan", "__pycache__"))
    started = time.perf_counter()
    proc = zplan(WORK, "apply", "-auto-approve", env=env)
    first = None
    server = {}
    for line in proc.stdout:
        if line.startswith(f"{API}: create done"):
            server_start = float(line.rsplit(" in ", 1)[1].rstrip("s\n"))
            server = json.loads((WORK / ".zplan" / "state.json").read_text())["resources"][API]["attributes"]
            infer(server, ROWS[:1])
            first = time.perf_counter() - started
    proc.wait()
    if proc.returncode != 0 or first is None:
        raise SystemExit(f"apply failed (exit {proc.returncode})")
    return first, time.perf_counter() - started, {**server, "_start_seconds": server_start}


def infer(server: dict, rows: list, conn: http.client.HTTPConnection | None = None) -> list:
    body = json.dumps({"inputs": [{"name": "x", "shape": [len(rows), len(rows[0])], "datatype": "FP64",
                                   "data": [v for r in rows for v in r]}]})
    own = conn is None
    conn = conn or http.client.HTTPConnection("127.0.0.1", server["port"], timeout=30)
    conn.request("POST", f"/v2/models/{server['name']}/infer", body, {"Content-Type": "application/json"})
    resp = conn.getresponse()
    data = resp.read()
    if own:
        conn.close()
    if resp.status != 200:
        raise RuntimeError(data[:200])
    return json.loads(data)["outputs"][0]["data"]


def latency(server: dict, requests: int) -> dict:
    """Median and 95th percentile (ms) of one-row predictions: in-process, and over V2."""
    with open(Path(server["model"]["path"]) / "model.pkl", "rb") as f:
        model = pickle.load(f)
    row = np.array(ROWS[:1])

    def timed(fn) -> list[float]:
        fn()  # warm
        out = []
        for _ in range(requests):
            t = time.perf_counter()
            fn()
            out.append((time.perf_counter() - t) * 1000)
        return out

    conn = http.client.HTTPConnection("127.0.0.1", server["port"], timeout=30)
    figures = {
        "model.predict in-process": timed(lambda: model.predict(row)),
        "V2 request, new connection each": timed(lambda: infer(server, ROWS[:1])),
        "V2 request, kept-alive connection": timed(lambda: infer(server, ROWS[:1], conn)),
    }
    conn.close()
    return {k: (statistics.median(v), sorted(v)[int(len(v) * 0.95) - 1]) for k, v in figures.items()}


ROWS = np.random.default_rng(0).normal(size=(8, 13)).round(3).tolist()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--fresh-runtime", action="store_true")
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZPLAN_")} | {"NO_COLOR": "1", "ZPLAN_NO_COLOR": "1"}
    print(f"# load averages {os.getloadavg()}")
    if args.fresh_runtime:
        fresh = tempfile.mkdtemp(prefix="zplan-runtimes-")
        first, total, server = time_to_first_prediction({**env, "ZPLAN_RUNTIMES_DIR": fresh})
        print(f"fresh runtime environment: first prediction {first:.1f} s after apply start (apply {total:.1f} s; "
              f"server create with the environment {server['_start_seconds']:.1f} s of it)")
        zplan(WORK, "destroy", "-auto-approve", env=env).wait()
        shutil.rmtree(fresh, ignore_errors=True)
    firsts = []
    for i in range(args.repeat):
        first, total, server = time_to_first_prediction(env)
        firsts.append(first)
        print(f"run {i + 1}: first prediction {first:.1f} s after apply start (apply {total:.1f} s; "
              f"server create {server['_start_seconds']:.1f} s of it)")
        if i == args.repeat - 1:
            for name, (median, p95) in latency(server, args.requests).items():
                print(f"{name}: median {median:.2f} ms, p95 {p95:.2f} ms")
        zplan(WORK, "destroy", "-auto-approve", env=env).wait()
    print(f"time to first served prediction: median {statistics.median(firsts):.1f} s of {len(firsts)} runs")


if __name__ == "__main__":
    main()
