"""Cluster runners exchange data through an object store: staging, writing and fetching over real S3 (moto).

The runner here is the local one; what is tested is the path a cluster run takes through
its temp_location: inputs uploaded, shards written there by the pipeline, fetched back.
"""

from __future__ import annotations

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from zplan.beam import dataset as ds
from zplan.beam import step
from zplan.beam.runners import pipeline_options
from zplan.hashing import hash_tree

ROWS = [{"id": i, "v": i * 1.5} for i in range(90)]


def double(rows):
    return rows | beam.Map(lambda r: {"id": r["id"], "v": r["v"] * 2})


def test_inputs_and_outputs_go_through_the_remote_root_and_come_back(tmp_path, s3_url):
    options = pipeline_options("beam:DirectRunner", {"direct_running_mode": "in_memory"})
    FileSystems.set_options(options)
    source = ds.write_dataset(ROWS, tmp_path / "source", 2)
    spec = step.BeamStepSpec(double, pipeline=False, num_shards=2, inputs=None)  # few files: Beam opens an S3 client per call
    work = tmp_path / "work"
    exchange = f"{s3_url}/exchange"

    outputs = step._execute(spec, options, {"rows": source}, {}, work, exchange, tmp_path)

    assert list(outputs) == ["output"]
    staged = FileSystems.match([f"{exchange}/inputs/rows/*.parquet"])[0].metadata_list
    assert sorted(m.path.rsplit("/", 1)[1] for m in staged) == [p.name for p in source.shards()]
    written = FileSystems.match([f"{exchange}/outputs/output/*.parquet"])[0].metadata_list
    assert len(written) == 2
    fetched = ds.ShardedDataset(work / "outputs" / "output")
    expected = ds.write_dataset([{"id": r["id"], "v": r["v"] * 2} for r in ROWS], tmp_path / "expected", 2)
    assert hash_tree(fetched.path) == hash_tree(expected.path)

    step._remove_remote(exchange)
    assert FileSystems.match([f"{exchange}/**"])[0].metadata_list == []


def test_exchange_root_is_local_for_the_direct_runner(tmp_path):
    assert step._exchange_root("beam:DirectRunner", {"temp_location": "gs://b/tmp"}, tmp_path / ".x.tmp") == str(tmp_path / ".x.tmp")
    assert step._exchange_root("beam:DataflowRunner", {"temp_location": "gs://b/tmp"}, tmp_path / ".f-1.tmp") == "gs://b/tmp/zplan/f-1.tmp"
    assert step._exchange_root("beam:FlinkRunner", {}, tmp_path / ".x.tmp") == str(tmp_path / ".x.tmp")
