"""Reading and writing a Beam step's datasets with transforms the Dask runner implements.

The Dask runner has no reads and no side inputs, so on it a step's input is
``Create(shard paths) | FlatMap(rows of each file)`` and its output is grouped
into shards by the same hash as on other runners, each shard's table written
as an Arrow file. The step's own process then unifies the schemas in shard
order and writes the Parquet shards with the same code ``WriteShards`` uses:
the bytes are the DirectRunner's, so the cache carries across runners.
"""

from __future__ import annotations

import os
from typing import Any, Iterator

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.io.filesystems import FileSystems

from zplan.beam import dataset as ds

PARTS = "parts"


def read(p: beam.Pipeline, name: str, pattern: str) -> beam.PCollection:
    """The rows of every Parquet file matching ``pattern``, in file order."""
    paths = sorted(m.path for m in FileSystems.match([pattern])[0].metadata_list)
    return p | f"Files {name}" >> beam.Create(paths) | f"Read {name}" >> beam.FlatMap(_rows_of)


def _rows_of(path: str) -> Iterator[dict]:
    with FileSystems.open(path) as source:
        table = pq.read_table(source)
    yield from table.to_pylist()


class WriteParts(beam.PTransform):
    """Rows -> one Arrow file per non-empty shard under ``folder/parts``."""

    def __init__(self, folder: str, num_shards: int) -> None:
        super().__init__()
        self.folder = folder
        self.num_shards = num_shards

    def expand(self, rows: beam.PCollection) -> beam.PCollection:
        from zplan.beam.step import _keyed_row, _shard_table  # the same keying and sorting as WriteShards

        return (rows | "Key" >> beam.Map(_keyed_row, self.num_shards) | "Group" >> beam.GroupByKey()
                | "Table" >> beam.MapTuple(_shard_table) | "Write" >> beam.Map(_write_part, self.folder))


def _write_part(shard: tuple[int, Any], folder: str) -> str:
    index, table = shard
    path = FileSystems.join(folder, PARTS, f"{index:05d}.arrow")
    with FileSystems.create(path) as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    return path


def finish(folder: str, num_shards: int) -> None:
    """Parts -> the Parquet shards ``WriteShards`` would have written, then drop the parts."""
    from zplan.beam.step import _write_shard

    tables = [_read_part(FileSystems.join(folder, PARTS, f"{i:05d}.arrow")) for i in range(num_shards)]
    schema = ds.unify_schemas(t.schema if t is not None else None for t in tables)
    for index, table in enumerate(tables):
        _write_shard((index, table), folder, num_shards, schema)
    parts = FileSystems.match([FileSystems.join(folder, PARTS, "*.arrow")])[0].metadata_list
    if parts:
        FileSystems.delete([m.path for m in parts])
    if "://" not in folder and os.path.isdir(os.path.join(folder, PARTS)):
        os.rmdir(os.path.join(folder, PARTS))


def _read_part(path: str) -> pa.Table | None:
    if not FileSystems.exists(path):
        return None
    with FileSystems.open(path) as source:
        return pa.ipc.open_file(pa.BufferReader(source.read())).read_all()
