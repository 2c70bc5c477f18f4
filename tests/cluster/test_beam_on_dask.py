"""``processing = "beam:DaskRunner"``: Beam steps run on the real cluster (a scheduler and two worker
processes) and write byte for byte the shards the DirectRunner writes, so the cache carries across."""

from __future__ import annotations

import contextlib
from pathlib import Path

import apache_beam as beam
import distributed
import pytest

from tests.beam.test_step import EVENTS, clean, split_by_parity, step_context
from tests.cluster.helpers import beam_example_on, zplan
from zplan.beam.step import beam_step
from zplan.hashing import hash_tree
from zplan.runtime import StepContext, running

pytestmark = pytest.mark.slow


@contextlib.contextmanager
def on_dask(tmp_path: Path, address: str):
    stack = {"processing": "beam:DaskRunner", "orchestrator": "dask", "orchestrator_options": {"scheduler": address}}
    ctx = StepContext("pipeline.p.step.s", 1, tmp_path, (tmp_path / "store").as_uri(), tmp_path / "scratch", stack)
    with running(ctx):
        yield ctx


@beam_step(num_shards=3)
def group_totals(rows):
    """GroupByKey, CombinePerKey and Flatten: what the Dask runner implements."""
    valued = rows | beam.Filter(lambda r: r["value"] is not None)
    sums = valued | beam.Map(lambda r: (r["group"], r["value"])) | beam.CombinePerKey(sum)
    sizes = valued | "Pairs" >> beam.Map(lambda r: (r["group"], 1)) | "Sizes" >> beam.GroupByKey() | beam.MapTuple(lambda k, v: (k, len(v)))
    return ((sums | "S" >> beam.MapTuple(lambda k, v: {"group": k, "kind": "sum", "v": round(v, 6)}),
             sizes | "N" >> beam.MapTuple(lambda k, v: {"group": k, "kind": "n", "v": float(v)}))
            | beam.Flatten())


@pytest.mark.parametrize("step", [clean, group_totals])
def test_dask_runner_writes_the_direct_runners_bytes(tmp_path: Path, dask_cluster, step) -> None:
    with step_context(tmp_path / "direct"):
        direct = step(rows=EVENTS)
    with on_dask(tmp_path / "dask", dask_cluster.address):
        dask = step(rows=EVENTS)
    assert dask.num_rows() == direct.num_rows() > 0
    assert [p.name for p in dask.shards()] == [p.name for p in direct.shards()]
    assert hash_tree(dask.path) == hash_tree(direct.path)
    with pytest.raises(ValueError, match="No clients found"):  # the runner's client was closed once it finished
        distributed.Client.current()


def test_a_step_with_two_outputs_is_refused_not_half_run(tmp_path: Path, dask_cluster) -> None:
    from zplan.diags import DiagnosticError

    with on_dask(tmp_path, dask_cluster.address), pytest.raises(DiagnosticError, match="several ends"):
        split_by_parity(rows=EVENTS)


def test_the_beam_example_runs_on_the_dask_runner(tmp_path: Path, dask_cluster, s3_url: str) -> None:
    project = beam_example_on(tmp_path / "beam", dask_cluster.address, s3_url, '  processing     = "beam:DaskRunner"\n')
    proc = zplan(project, "apply", "-stack", "dask", "-auto-approve", "-var", "rows=2000")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "pipeline.events.step.preprocess: done" in proc.stdout and "purchases" in proc.stdout


@beam_step(num_shards=2)
def divides_by_zero(rows):
    return rows | beam.Map(lambda r: {"x": 1 / 0})


def test_a_failure_on_the_dask_runner_shows_the_steps_frames_not_zplans_or_dasks(tmp_path: Path, dask_cluster) -> None:
    from zplan.beam.step import BeamStepError

    with on_dask(tmp_path, dask_cluster.address), pytest.raises(BeamStepError) as raised:
        divides_by_zero(rows=EVENTS)
    report = str(raised.value)
    assert report.startswith("Beam pipeline failed: ZeroDivisionError: division by zero"), report
    assert "test_beam_on_dask.py" in report and "in <lambda>" in report, report
    assert "dask_runner.py" not in report and "distributed" not in report, report
