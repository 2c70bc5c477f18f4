"""Stores a ``ShardedDataset`` as it is: its Parquet shards, copied byte for byte.

The shards are already written deterministically (see ``dataset``), so copying
them unchanged keeps the artifact's content hash equal to the step output's.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from zplan.beam.dataset import ShardedDataset

# Registered through an entry point, so this module is imported whenever materializers
# are looked up: pyarrow and the dataset module load only when a dataset is involved.


class ShardedDatasetMaterializer:
    name = "beam.parquet_shards"
    version = "1"
    libraries = ("pyarrow", "pandas", "xxhash")  # what the loaded dataset reads its shards with (zplan.beam.dataset)

    def can_save(self, value: Any) -> bool:
        if not type(value).__module__.startswith("zplan.beam"):
            return False
        from zplan.beam.dataset import ShardedDataset

        return isinstance(value, ShardedDataset)

    def save(self, value: "ShardedDataset", folder: Path) -> dict:
        import pyarrow.parquet as pq

        folder.mkdir(parents=True, exist_ok=True)
        rows = 0
        for shard in value.shards():
            shutil.copyfile(shard, folder / shard.name)
            rows += pq.ParquetFile(shard).metadata.num_rows
        return {"shards": len(value.shards()), "rows": rows, "columns": value.schema().names}

    def load(self, folder: Path) -> "ShardedDataset":
        from zplan.beam.dataset import ShardedDataset

        return ShardedDataset(Path(folder))
