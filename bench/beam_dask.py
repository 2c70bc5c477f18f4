"""The beam-preprocess example's Beam step on Beam's DaskRunner against the DirectRunner.

The same ``preprocess`` step (filter + features over N synthetic events, 8 output
shards) runs in this process with a step context naming each runner: the DirectRunner
in multi_processing mode with 2 workers, and the DaskRunner on a scheduler and two
1-thread workers started here (each in its own folder). Prints the median wall time of
each over the repeats, and checks that both wrote the same bytes.

    .venv/bin/python bench/beam_dask.py [--rows 200000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "examples/beam-preprocess"))

from tests.fixtures.dask_cluster import start_cluster  # noqa: E402
from zplan.hashing import hash_tree  # noqa: E402
from zplan.runtime import StepContext, running  # noqa: E402


def timed(stack: dict, folder: Path, events) -> tuple[float, str]:
    from steps import preprocess

    ctx = StepContext("pipeline.events.step.preprocess", 1, ROOT / "examples/beam-preprocess",
                      (folder / "store").as_uri(), folder / "scratch", stack)
    with running(ctx):
        t0 = time.perf_counter()
        out = preprocess(events=events)
        seconds = time.perf_counter() - t0
    return seconds, hash_tree(out.path)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--npartitions", type=int, default=0, help="dask_npartitions (0: Beam's default)")
    args = parser.parse_args()
    from eventgen import generate_events

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        events = generate_events(args.rows, 7, tmp / "events")
        cluster = start_cluster(tmp / "dask", {})
        try:
            dask_options = {"dask_npartitions": args.npartitions} if args.npartitions else {}
            stacks = {
                "DirectRunner (multi_processing, 2 workers)": {
                    "processing": "beam:DirectRunner", "beam_options": {"direct_running_mode": "multi_processing", "direct_num_workers": 2}},
                "DaskRunner (2 workers x 1 thread)": {
                    "processing": "beam:DaskRunner", "beam_options": dask_options,
                    "orchestrator": "dask", "orchestrator_options": {"scheduler": cluster.address}},
            }
            digests = set()
            for name, stack in stacks.items():
                timed(stack, tmp / f"warm-{len(digests)}", events)
                runs = []
                for i in range(args.repeat):
                    seconds, digest = timed(stack, tmp / f"{name[:4]}-{i}", events)
                    runs.append(seconds)
                    digests.add(digest)
                print(f"{name}: {statistics.median(runs):.2f} s ({min(runs):.2f}-{max(runs):.2f})", flush=True)
            print("same bytes on both runners:", len(digests) == 1)
        finally:
            cluster.stop()


if __name__ == "__main__":
    main()
