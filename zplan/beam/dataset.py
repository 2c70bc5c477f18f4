"""A dataset as a folder of Parquet shards, written so that equal rows give equal bytes.

Beam steps exchange data as ``ShardedDataset`` folders. The output of a step is
content-hashed to decide whether downstream steps rerun, so the bytes must not
depend on how the runner happened to split the work: each row goes to the shard
chosen by a stable hash of its content, rows are sorted inside a shard, and
every shard is written with the same fixed pyarrow settings. Two runs over the
same rows (in one process or many) therefore write identical files.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass, is_dataclass
from pathlib import Path
from typing import Any, BinaryIO, Iterable, Iterator, Mapping

import pyarrow as pa
import pyarrow.parquet as pq
import xxhash

SHARD_PATTERN = re.compile(r"part-(\d{5})-of-(\d{5})\.parquet")

# Fixed writer settings: changing any of these changes every artifact's hash,
# so they are part of the materializer's version.
PARQUET_OPTIONS: Mapping[str, Any] = {
    "compression": "zstd",
    "compression_level": 3,
    "use_dictionary": True,
    "write_statistics": True,
    "version": "2.6",
    "data_page_version": "1.0",
    "row_group_size": 64 * 1024,
}


def shard_name(index: int, count: int) -> str:
    return f"part-{index:05d}-of-{count:05d}.parquet"


@dataclass(frozen=True)
class ShardedDataset:
    """A folder of Parquet files read as one table (shards in name order)."""

    path: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", Path(self.path))

    def shards(self) -> list[Path]:
        return sorted(p for p in self.path.iterdir() if p.suffix == ".parquet" and p.is_file())

    @property
    def pattern(self) -> str:
        """A glob that Beam's file-based sources accept."""
        return str(self.path / "*.parquet")

    def schema(self) -> pa.Schema:
        shards = self.shards()
        return pq.read_schema(shards[0]) if shards else pa.schema([])

    def num_rows(self) -> int:
        return sum(pq.ParquetFile(p).metadata.num_rows for p in self.shards())

    def to_arrow(self, columns: list[str] | None = None) -> pa.Table:
        shards = self.shards()
        if not shards:
            return pa.table({})
        return pa.concat_tables([pq.read_table(p, columns=columns) for p in shards], promote_options="permissive")

    def to_pandas(self, columns: list[str] | None = None):
        return self.to_arrow(columns).to_pandas()

    def read_rows(self, columns: list[str] | None = None) -> Iterator[dict]:
        """Rows as dicts, shard by shard, without loading the whole dataset."""
        for shard in self.shards():
            for batch in pq.ParquetFile(shard).iter_batches(columns=columns):
                yield from batch.to_pylist()

    def __repr__(self) -> str:
        return f"ShardedDataset({str(self.path)!r})"


# --- deterministic placement and order of rows -------------------------------


def as_row(element: Any) -> dict:
    """Beam elements a step may emit as rows: dicts, beam.Row, named tuples, dataclasses."""
    if isinstance(element, dict):
        return element
    if hasattr(element, "as_dict"):  # beam.Row
        return dict(element.as_dict())
    if hasattr(element, "_asdict"):  # NamedTuple
        return dict(element._asdict())
    if is_dataclass(element) and not isinstance(element, type):
        return asdict(element)
    raise TypeError(
        f"a @beam_step must output rows (dicts, beam.Row, named tuples or dataclasses); got {type(element).__name__}: {element!r:.80}"
    )


def row_key(row: Mapping[str, Any]) -> bytes:
    """Canonical bytes of a row: equal rows, whatever their key order, give equal keys."""
    return json.dumps(row, sort_keys=True, separators=(",", ":"), default=repr, ensure_ascii=False).encode()


def shard_of(key: bytes, count: int) -> int:
    return xxhash.xxh3_64_intdigest(key) % count


def rows_to_table(rows: list[dict]) -> pa.Table:
    """Columns in order of first appearance; each column's type inferred from all its values."""
    columns: dict[str, None] = {}
    for row in rows:
        for name in row:
            columns.setdefault(name, None)
    try:
        return pa.table({name: pa.array([row.get(name) for row in rows]) for name in columns})
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise TypeError(f"rows cannot be stored as a table: {exc}") from None


def unify_schemas(schemas: Iterable[pa.Schema]) -> pa.Schema:
    """One schema for all shards (a column all null in one shard takes its type from the others)."""
    schemas = [s for s in schemas if s is not None]
    if not schemas:
        return pa.schema([])
    try:
        return pa.unify_schemas(schemas, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise TypeError(f"output columns have incompatible types across rows: {exc}") from None


def conform(table: pa.Table | None, schema: pa.Schema) -> pa.Table:
    """``table`` with exactly ``schema``'s columns, in order (missing ones are null)."""
    if table is None:
        return schema.empty_table()
    columns = []
    for field in schema:
        if field.name in table.column_names:
            columns.append(table.column(field.name).cast(field.type))
        else:
            columns.append(pa.nulls(table.num_rows, field.type))
    return pa.Table.from_arrays(columns, schema=schema)


def write_parquet(table: pa.Table, sink: str | os.PathLike[str] | BinaryIO) -> None:
    pq.write_table(table, sink, **PARQUET_OPTIONS)


def write_dataset(rows: Iterable[Any], folder: Path, num_shards: int) -> ShardedDataset:
    """Write rows in-process with the same layout a Beam step produces (used for tests and bench)."""
    buckets: list[list[tuple[bytes, dict]]] = [[] for _ in range(num_shards)]
    for element in rows:
        row = as_row(element)
        key = row_key(row)
        buckets[shard_of(key, num_shards)].append((key, row))
    tables = [rows_to_table([r for _, r in sorted(b, key=lambda kr: kr[0])]) if b else None for b in buckets]
    schema = unify_schemas(t.schema for t in tables if t is not None)
    folder.mkdir(parents=True, exist_ok=True)
    for index, table in enumerate(tables):
        write_parquet(conform(table, schema), folder / shard_name(index, num_shards))
    return ShardedDataset(folder)


# --- inputs a Beam step accepts ----------------------------------------------

ROWS_PER_INPUT_FILE = 1_000_000


def is_dataset_value(value: Any) -> bool:
    """True for values a Beam step reads as a PCollection without being told."""
    if isinstance(value, (ShardedDataset, pa.Table, os.PathLike)):
        return True
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - pandas is a core dependency
        return False
    return isinstance(value, pd.DataFrame)


def input_pattern(value: Any, scratch: Path, base_dir: Path) -> str:
    """The Parquet file pattern a Beam source reads for ``value``, converting when needed.

    A relative path is taken from ``base_dir`` (the project folder). CSV files,
    DataFrames and Arrow tables are written as Parquet into ``scratch`` first.
    """
    if isinstance(value, ShardedDataset):
        return value.pattern
    if isinstance(value, pa.Table):
        return _table_to_parquet(value, scratch)
    if isinstance(value, (str, os.PathLike)):
        return _path_pattern(Path(value) if Path(value).is_absolute() else base_dir / value, scratch)
    import pandas as pd

    if isinstance(value, pd.DataFrame):
        return _table_to_parquet(pa.Table.from_pandas(_named_index_as_columns(value), preserve_index=False), scratch)
    raise TypeError(f"cannot read a {type(value).__name__} as a dataset; pass a ShardedDataset, a DataFrame or a CSV/Parquet path")


def _named_index_as_columns(frame: Any) -> Any:
    """A named index (a groupby's keys) is data: its levels become columns. An unnamed one
    (0, 2, 5... after a filter) is only a row label, and is dropped."""
    named = [name for name in frame.index.names if name is not None]
    return frame.reset_index(level=named) if named else frame


def _path_pattern(path: Path, scratch: Path) -> str:
    if path.is_dir():
        if not any(path.glob("*.parquet")):
            raise FileNotFoundError(f"{path} holds no .parquet files")
        return str(path / "*.parquet")
    if not path.is_file():
        raise FileNotFoundError(f"input {path} does not exist")
    if path.suffix == ".parquet":
        return str(path)
    if path.name.endswith((".csv", ".csv.gz")):
        return _csv_to_parquet(path, scratch)
    raise ValueError(f"input {path} is neither a .csv nor a .parquet file")


def _csv_to_parquet(path: Path, scratch: Path) -> str:
    """Stream a CSV into Parquet files (never the whole file in memory)."""
    import pyarrow.dataset as ds

    scratch.mkdir(parents=True, exist_ok=True)
    ds.write_dataset(
        ds.dataset(path, format="csv"),
        scratch,
        format="parquet",
        basename_template="part-{i}.parquet",
        max_rows_per_file=ROWS_PER_INPUT_FILE,
        max_rows_per_group=64 * 1024,
        existing_data_behavior="overwrite_or_ignore",
    )
    return str(scratch / "*.parquet")


def _table_to_parquet(table: pa.Table, scratch: Path) -> str:
    scratch.mkdir(parents=True, exist_ok=True)
    offsets = range(0, max(table.num_rows, 1), ROWS_PER_INPUT_FILE)
    for i, start in enumerate(offsets):
        write_parquet(table.slice(start, ROWS_PER_INPUT_FILE), scratch / f"part-{i}.parquet")
    return str(scratch / "*.parquet")
