"""The shard layout: same rows -> same bytes, whatever their order; inputs of every accepted kind."""

from __future__ import annotations

import random

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from zplan.beam import dataset as ds
from zplan.hashing import hash_tree

ROWS = [{"id": i, "name": f"n{i % 13}", "score": i / 7 if i % 5 else None} for i in range(250)]


def test_same_rows_in_any_order_give_identical_bytes(tmp_path):
    shuffled = ROWS[:]
    random.Random(3).shuffle(shuffled)
    reordered_keys = [dict(reversed(list(r.items()))) for r in ROWS]
    a = ds.write_dataset(ROWS, tmp_path / "a", 4)
    b = ds.write_dataset(shuffled, tmp_path / "b", 4)
    c = ds.write_dataset(reordered_keys, tmp_path / "c", 4)
    assert hash_tree(a.path) == hash_tree(b.path)
    # Column order follows the rows, but placement and sort order do not change.
    assert sorted(map(ds.row_key, c.read_rows())) == sorted(map(ds.row_key, a.read_rows()))


def test_every_shard_is_written_with_one_schema(tmp_path):
    out = ds.write_dataset([{"a": 1, "b": None}, {"a": 2, "b": 2.5}], tmp_path / "d", 4)
    assert [p.name for p in out.shards()] == [ds.shard_name(i, 4) for i in range(4)]
    assert ds.shard_name(0, 4) == "part-00000-of-00004.parquet"
    schemas = {str(pq.read_schema(p)) for p in out.shards()}
    assert len(schemas) == 1
    assert out.schema().field("b").type == pa.float64()
    assert out.num_rows() == 2


def test_reads_back_as_pandas_and_rows(tmp_path):
    out = ds.write_dataset(ROWS, tmp_path / "d", 3)
    df = out.to_pandas().sort_values("id").reset_index(drop=True)
    assert df["id"].tolist() == list(range(250))
    assert df.loc[11, "score"] == pytest.approx(11 / 7)
    assert pd.isna(df.loc[5, "score"])
    assert sorted(r["id"] for r in out.read_rows(columns=["id"])) == list(range(250))
    assert list(out.to_pandas(columns=["name"]).columns) == ["name"]


def test_types_are_unified_across_shards_and_conflicts_named(tmp_path):
    unified = ds.unify_schemas([pa.schema([("x", pa.null())]), pa.schema([("x", pa.int64())]), pa.schema([("x", pa.float64())])])
    assert unified.field("x").type == pa.float64()
    with pytest.raises(TypeError, match="rows cannot be stored"):
        ds.rows_to_table([{"x": 1}, {"x": "one"}])


def test_rows_of_other_shapes_are_accepted_and_others_rejected():
    from typing import NamedTuple

    import apache_beam as beam

    class Point(NamedTuple):
        x: int
        y: int

    assert ds.as_row(Point(1, 2)) == {"x": 1, "y": 2}
    assert ds.as_row(beam.Row(x=1, y=2)) == {"x": 1, "y": 2}
    with pytest.raises(TypeError, match="must output rows"):
        ds.as_row(42)


def test_inputs_convert_to_parquet_patterns(tmp_path):
    df = pd.DataFrame({"id": [1, 2, 3], "v": [0.5, 1.5, 2.5]})
    (tmp_path / "data.csv").write_text(df.to_csv(index=False))
    df.to_parquet(tmp_path / "data.parquet")
    sharded = ds.write_dataset(df.to_dict("records"), tmp_path / "sharded", 2)

    def read(pattern: str) -> pd.DataFrame:
        import glob

        files = sorted(glob.glob(pattern))
        return pd.concat([pd.read_parquet(f) for f in files]).sort_values("id").reset_index(drop=True)

    for value in (df, pa.Table.from_pandas(df), "data.csv", tmp_path / "data.parquet", sharded):
        pattern = ds.input_pattern(value, tmp_path / "scratch" / type(value).__name__, base_dir=tmp_path)
        pd.testing.assert_frame_equal(read(pattern)[["id", "v"]], df, check_dtype=False)


def test_missing_or_unknown_input_files_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.csv"):
        ds.input_pattern("nope.csv", tmp_path / "s", tmp_path)
    (tmp_path / "x.txt").write_text("hi")
    with pytest.raises(ValueError, match="neither a .csv nor a .parquet"):
        ds.input_pattern("x.txt", tmp_path / "s", tmp_path)
    with pytest.raises(TypeError, match="cannot read a int"):
        ds.input_pattern(3, tmp_path / "s", tmp_path)
