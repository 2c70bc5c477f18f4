"""A synthetic stream of purchase events, the same for the same (rows, seed).

Shards are generated independently from ``(seed, shard index)`` and written in
chunks, so a few gigabytes can be produced without holding them in memory.
Some rows are deliberately bad (missing country or amount, negative amounts)
for the preprocessing step to drop.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from zplan.beam.dataset import PARQUET_OPTIONS, ShardedDataset, shard_name

COUNTRIES = ["DE", "FR", "GB", "US", "NL", "ES", "IT", "PL"]
DEVICES = ["web", "ios", "android"]
START = 1_767_225_600  # 2026-01-01T00:00:00Z
CHUNK = 1_000_000


def generate_events(rows: int, seed: int, folder: Path, shards: int = 8) -> ShardedDataset:
    """Write ``rows`` events as ``shards`` Parquet files into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    offset = 0
    for index in range(shards):
        count = rows // shards + (1 if index < rows % shards else 0)
        rng = np.random.default_rng([seed, index])
        with pq.ParquetWriter(folder / shard_name(index, shards), _SCHEMA, **_writer_options()) as writer:
            for start in range(0, count, CHUNK):
                size = min(CHUNK, count - start)
                writer.write_table(_chunk(rng, offset + start, size))
        offset += count
    return ShardedDataset(folder)


_SCHEMA = pa.schema([
    ("event_id", pa.int64()),
    ("user_id", pa.int64()),
    ("country", pa.string()),
    ("device", pa.string()),
    ("amount", pa.float64()),
    ("ts", pa.int64()),
])


def _writer_options() -> dict:
    options = dict(PARQUET_OPTIONS)
    options.pop("row_group_size")  # a writer takes it per write_table call
    return options


def _chunk(rng: np.random.Generator, first_id: int, size: int) -> pa.Table:
    country = rng.integers(0, len(COUNTRIES), size)
    amount = np.round(rng.lognormal(3.0, 1.0, size), 2)
    amount[rng.random(size) < 0.01] *= -1  # refunds: not purchases
    return pa.table({
        "event_id": np.arange(first_id, first_id + size, dtype=np.int64),
        "user_id": rng.integers(0, 50_000, size),
        "country": pa.array(np.array(COUNTRIES, dtype=object)[country], mask=rng.random(size) < 0.02),
        "device": pa.array(np.array(DEVICES, dtype=object)[rng.integers(0, len(DEVICES), size)]),
        "amount": pa.array(amount, mask=rng.random(size) < 0.03),
        "ts": START + rng.integers(0, 30 * 86_400, size),
    }, schema=_SCHEMA)
