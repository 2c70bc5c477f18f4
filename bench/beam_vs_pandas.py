"""Throughput of the beam-preprocess transform: Beam's DirectRunner against plain pandas.

    .venv/bin/python bench/beam_vs_pandas.py --rows 2000000 [--workers 2] [--mode multi_processing]

Generates the example's events, then runs the same clean-and-featurise step
twice, each reading the Parquet input and writing Parquet output: once as the
zplan Beam step (FnApiRunner, multi_processing by default) and once in pandas.
Prints rows/s and MB/s for each (MB = the input's uncompressed Parquet size)
and checks that both produced the same rows.

The point is not that Beam wins on one machine (it rarely does); it is to know
the price of writing a step once and running it on Dataflow, Spark or Flink.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "beam-preprocess"
sys.path.insert(0, str(EXAMPLE))

from eventgen import generate_events  # noqa: E402
from steps import preprocess, preprocess_frame  # noqa: E402

from zplan.beam.dataset import ShardedDataset  # noqa: E402
from zplan.runtime import StepContext, running  # noqa: E402

MIN_AMOUNT = 1.0


def main() -> None:
    args = parse_args()
    logging.getLogger("apache_beam").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory(prefix="zplan-bench-") as tmp:
        root = Path(tmp)
        started = time.perf_counter()
        events = generate_events(args.rows, args.seed, root / "events", shards=args.shards)
        print(f"generated {args.rows:,} rows in {time.perf_counter() - started:.1f}s "
              f"({_mb(_disk_bytes(events)):.0f} MB on disk, {_mb(_raw_bytes(events)):.0f} MB uncompressed)")
        results = [run_beam(events, root, args), run_pandas(events, root)]
        report(results, args.rows, _raw_bytes(events))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="events to generate (default 1,000,000)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--shards", type=int, default=8, help="input Parquet files")
    parser.add_argument("--workers", type=int, default=os.cpu_count(), help="Beam worker processes")
    parser.add_argument("--mode", default="multi_processing", choices=["multi_processing", "in_memory"])
    return parser.parse_args()


def run_beam(events: ShardedDataset, root: Path, args: argparse.Namespace) -> tuple[str, float, ShardedDataset]:
    options = {"direct_running_mode": args.mode, "direct_num_workers": args.workers if args.mode != "in_memory" else 1}
    stack = {"processing": "beam:DirectRunner", "beam_options": options}
    ctx = StepContext("bench.beam", 0, EXAMPLE, "", root / "beam", stack)
    started = time.perf_counter()
    with running(ctx):
        out = preprocess(events=events, min_amount=MIN_AMOUNT)
    label = f"beam DirectRunner {args.mode}" + (f" x{args.workers}" if args.mode != "in_memory" else "")
    return label, time.perf_counter() - started, out


def run_pandas(events: ShardedDataset, root: Path) -> tuple[str, float, ShardedDataset]:
    folder = root / "pandas"
    folder.mkdir()
    started = time.perf_counter()
    for i, shard in enumerate(events.shards()):
        preprocess_frame(pq.read_table(shard).to_pandas(), MIN_AMOUNT).to_parquet(folder / f"part-{i:05d}.parquet")
    return "pandas (one process)", time.perf_counter() - started, ShardedDataset(folder)


def report(results: list[tuple[str, float, ShardedDataset]], rows: int, raw_bytes: int) -> None:
    print(f"\n{'engine':<40}{'seconds':>9}{'rows/s':>14}{'MB/s':>9}")
    for label, seconds, _ in results:
        print(f"{label:<40}{seconds:>9.1f}{rows / seconds:>14,.0f}{_mb(raw_bytes) / seconds:>9.1f}")
    totals = {label: _checksum(out) for label, _, out in results}
    same = len(set(totals.values())) == 1
    print(f"\noutputs agree: {same} ({next(iter(totals.values()))[0]:,} rows kept)")
    if not same:
        print(totals)
        raise SystemExit(1)


def _checksum(out: ShardedDataset) -> tuple[int, float]:
    table = out.to_arrow(columns=["amount_eur"])
    return table.num_rows, round(float(table.column("amount_eur").to_pandas().sum()), 2)


def _disk_bytes(data: ShardedDataset) -> int:
    return sum(p.stat().st_size for p in data.shards())


def _raw_bytes(data: ShardedDataset) -> int:
    total = 0
    for shard in data.shards():
        meta = pq.ParquetFile(shard).metadata
        total += sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
    return total


def _mb(n: int) -> float:
    return n / 1e6


if __name__ == "__main__":
    main()
