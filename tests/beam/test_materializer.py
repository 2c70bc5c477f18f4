"""The beam.parquet_shards materializer: shards stored byte for byte, through the real registry and store."""

from __future__ import annotations

import pytest

from zplan.beam import dataset as ds
from zplan.beam.materializer import ShardedDatasetMaterializer
from zplan.hashing import hash_tree

ROWS = [{"id": i, "label": f"l{i % 4}"} for i in range(120)]


def test_save_copies_shards_as_is_and_load_reads_them(tmp_path):
    source = ds.write_dataset(ROWS, tmp_path / "out", 4)
    m = ShardedDatasetMaterializer()
    assert m.name == "beam.parquet_shards" and m.can_save(source) and not m.can_save(ROWS)
    meta = m.save(source, tmp_path / "artifact")
    assert meta == {"shards": 4, "rows": 120, "columns": ["id", "label"]}
    assert hash_tree(tmp_path / "artifact") == hash_tree(source.path)
    loaded = m.load(tmp_path / "artifact")
    assert isinstance(loaded, ds.ShardedDataset)
    assert sorted(r["id"] for r in loaded.read_rows()) == list(range(120))


def test_round_trip_through_the_registry_and_a_local_artifact_store(tmp_path):
    materializers = pytest.importorskip("zplan.artifacts.materializers")
    from zplan.artifacts.store import ArtifactStore

    materializers.materializer(ds.ShardedDataset, name="beam.parquet_shards")(ShardedDatasetMaterializer)
    try:
        source = ds.write_dataset(ROWS, tmp_path / "out", 4)
        chosen = materializers.materializer_for(source)
        assert chosen.name == "beam.parquet_shards"
        folder = tmp_path / "staged"
        chosen.save(source, folder)
        store = ArtifactStore.from_url("file://store", tmp_path)
        stored = store.put(folder)
        again = materializers.get_materializer("beam.parquet_shards").load(store.get(stored.digest))
        assert hash_tree(again.path) == hash_tree(source.path)
        assert again.to_pandas().sort_values("id")["label"].tolist() == [r["label"] for r in ROWS]
    finally:
        materializers.unregister("beam.parquet_shards")
