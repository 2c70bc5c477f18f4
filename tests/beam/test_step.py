"""@beam_step on real Beam pipelines (FnApiRunner): results, determinism, failures.

Most tests run in_memory; the two that need worker processes (byte-identical
output across modes, a failure inside a worker) run multi_processing, which
takes several seconds each on a small machine.
"""

from __future__ import annotations

import contextlib
import inspect
from pathlib import Path

import apache_beam as beam
import pandas as pd
import pytest

from zplan.beam import dataset as ds
from zplan.beam.step import BeamStepError, beam_step
from zplan.diags import DiagnosticError
from zplan.hashing import hash_tree
from zplan.runtime import StepContext, running

ROWS = [{"id": i, "group": f"g{i % 6}", "value": None if i % 9 == 0 else (i * 37 % 101) / 10} for i in range(400)]
EVENTS = pd.DataFrame(ROWS)  # missing values become NaN here, and null again in Parquet


def normalise(row: dict, scale: float) -> dict:
    return {"id": row["id"], "group": row["group"].upper(), "scaled": row["value"] * scale}


@beam_step
def clean(rows: beam.PCollection, scale: float = 1.0):
    return rows | beam.Filter(lambda r: r["value"] is not None) | beam.Map(normalise, scale)


def reference(scale: float) -> list[dict]:
    """The same transform in plain Python."""
    return [normalise(r, scale) for r in ROWS if r["value"] is not None]


@beam_step(pipeline=True, num_shards=2)
def totals(p: beam.Pipeline, rows, minimum: float):
    weights = p | "Weights" >> beam.Create([("G0", 10.0)])
    return (
        rows
        | beam.Filter(lambda r: r["value"] is not None and r["value"] >= minimum)
        | beam.Map(lambda r: (r["group"].upper(), r["value"]))
        | beam.CombinePerKey(sum)
        | beam.Map(lambda kv, w: {"group": kv[0], "total": round(kv[1] * dict(w).get(kv[0], 1.0), 6)},
                   beam.pvalue.AsList(weights))
    )


@beam_step
def split_by_parity(rows):
    return {
        "even": rows | "Even" >> beam.Filter(lambda r: r["id"] % 2 == 0),
        "odd": rows | "Odd" >> beam.Filter(lambda r: r["id"] % 2 == 1),
    }


def explode_on_42(row: dict) -> dict:
    if row["id"] == 42:
        raise ValueError("row 42 has no business here")
    return row


@beam_step
def fragile(rows):
    return rows | beam.Map(explode_on_42)


@beam_step
def not_rows(rows):
    return rows | beam.Map(lambda r: r["id"])


@beam_step
def forgets_to_return(rows):
    rows | beam.Map(print)


@beam_step
def no_inputs(n: int):
    return None


@beam_step(inputs=["path"])
def from_path(path, column: str):
    return path | beam.Map(lambda r: {column: r[column]})


@contextlib.contextmanager
def step_context(tmp_path: Path, mode: str = "in_memory", **options):
    stack = {"processing": "beam:DirectRunner", "beam_options": {"direct_running_mode": mode, **options}}
    ctx = StepContext("pipeline.p.step.s", 1, tmp_path, (tmp_path / "store").as_uri(), tmp_path / "scratch", stack)
    with running(ctx):
        yield ctx


def sorted_rows(dataset: ds.ShardedDataset, key: str = "id") -> list[dict]:
    return sorted(dataset.read_rows(), key=lambda r: r[key])


def test_output_equals_plain_python_and_is_laid_out_deterministically(tmp_path):
    with step_context(tmp_path):
        out = clean(rows=EVENTS, scale=2.5)
    assert isinstance(out, ds.ShardedDataset)
    assert [p.name for p in out.shards()] == [f"part-0000{i}-of-00004.parquet" for i in range(4)]
    expected = reference(2.5)
    assert sorted_rows(out) == sorted(expected, key=lambda r: r["id"])
    # Byte for byte what the in-process writer makes of the same rows.
    assert hash_tree(out.path) == hash_tree(ds.write_dataset(expected, tmp_path / "ref", 4).path)


def test_pipeline_mode_gets_the_pipeline_and_params(tmp_path):
    with step_context(tmp_path):
        out = totals(rows=EVENTS, minimum=5.0)
    expected: dict[str, float] = {}
    for r in ROWS:
        if r["value"] is not None and r["value"] >= 5.0:
            expected[r["group"].upper()] = expected.get(r["group"].upper(), 0.0) + r["value"]
    got = {r["group"]: r["total"] for r in out.read_rows()}
    assert got == {g: round(v * (10.0 if g == "G0" else 1.0), 6) for g, v in expected.items()}
    assert len(out.shards()) == 2
    assert "p" not in inspect.signature(totals).parameters  # the executor never passes it


def test_dict_of_pcollections_gives_dict_of_datasets(tmp_path):
    with step_context(tmp_path):
        out = split_by_parity(rows=EVENTS)
    assert set(out) == {"even", "odd"}
    assert [r["id"] for r in sorted_rows(out["even"])] == list(range(0, 400, 2))
    assert out["odd"].num_rows() == 200


def test_dataset_inputs_of_every_kind(tmp_path):
    EVENTS.to_csv(tmp_path / "events.csv", index=False)
    sharded = ds.write_dataset(ROWS, tmp_path / "sharded", 3)
    with step_context(tmp_path):
        from_csv = from_path(path="events.csv", column="group")  # relative to the project folder
        from_sharded = clean(rows=sharded, scale=2.5)
        from_file = clean(rows=tmp_path / "sharded" / ds.shard_name(0, 3), scale=2.5)
    assert from_csv.num_rows() == 400
    assert sorted_rows(from_sharded) == sorted(reference(2.5), key=lambda r: r["id"])
    assert 0 < from_file.num_rows() < 400


@beam_step
def passthrough(rows):
    return rows | beam.Map(dict)


def test_a_dataframe_input_keeps_its_named_index_as_a_column(tmp_path):
    """A groupby's result is indexed by its keys: they are data, not a row label to drop."""
    counts = EVENTS.groupby("group").agg(n=("id", "count"))
    filtered = EVENTS[EVENTS["id"] % 2 == 1][["id"]]  # an unnamed index (1, 3, 5...) is only a label
    with step_context(tmp_path):
        by_group = passthrough(rows=counts)
        odd = passthrough(rows=filtered)
    assert sorted_rows(by_group, "group") == [{"group": f"g{i}", "n": len(ROWS[i::6])} for i in range(6)]
    assert sorted_rows(odd)[:2] == [{"id": 1}, {"id": 3}]


def test_a_failing_transform_raises_beam_step_error_with_the_traceback(tmp_path):
    with step_context(tmp_path), pytest.raises(BeamStepError) as info:
        fragile(rows=EVENTS)
    text = str(info.value)
    assert text.startswith("Beam pipeline failed: ValueError: row 42 has no business here")
    assert "in explode_on_42" in text and 'raise ValueError("row 42 has no business here")' in text
    assert "apache_beam/runners" not in text  # Beam's own frames are dropped
    assert [p.name for p in (tmp_path / "scratch").iterdir()] == []  # nothing half-written left


def test_elements_that_are_not_rows_fail_clearly(tmp_path):
    with step_context(tmp_path), pytest.raises(BeamStepError, match="must output rows .* got int"):
        not_rows(rows=EVENTS)


def test_mistakes_in_the_step_function_point_at_it(tmp_path):
    line = inspect.getsourcelines(forgets_to_return.__wrapped__)[1]
    with step_context(tmp_path):
        with pytest.raises(DiagnosticError, match="must return a PCollection or a dict of them; got NoneType") as info:
            forgets_to_return(rows=EVENTS)
        where = info.value.diagnostics[0].range
        assert (Path(where.file).name, where.line) == ("test_step.py", line)
        with pytest.raises(DiagnosticError, match="has no dataset input"):
            no_inputs(n=3)
        with pytest.raises(DiagnosticError, match="unexpected keyword argument 'nope'"):
            clean(rows=EVENTS, nope=1)


def test_a_bad_stack_fails_before_anything_runs(tmp_path):
    ctx = StepContext("pipeline.p.step.s", 1, tmp_path, "", tmp_path / "scratch",
                      {"processing": "beam:DataflowRunner", "beam_options": {"project": "acme-ml"}})
    with running(ctx), pytest.raises(DiagnosticError, match="temp_location is required"):
        clean(rows=EVENTS)
    assert not (tmp_path / "scratch").exists()


def test_multi_processing_and_in_memory_write_identical_bytes(tmp_path):
    with step_context(tmp_path / "a", "in_memory"):
        single = clean(rows=EVENTS, scale=0.5)
    with step_context(tmp_path / "b", "multi_processing", direct_num_workers=2):
        multi = clean(rows=EVENTS, scale=0.5)
    assert multi.num_rows() == len(reference(0.5))
    assert hash_tree(multi.path) == hash_tree(single.path)


def test_an_exception_in_a_worker_process_carries_its_traceback(tmp_path):
    with step_context(tmp_path, "multi_processing", direct_num_workers=2), pytest.raises(BeamStepError) as info:
        fragile(rows=EVENTS)
    text = str(info.value)
    assert "ValueError: row 42 has no business here [while running" in text
    assert "worker traceback:" in text and "in explode_on_42" in text


REPORTED_STEPS = '''
import apache_beam as beam
import zplan


@zplan.beam_step
def forgets(rows: beam.PCollection):
    rows | beam.Map(print)


def explode(row):
    raise ValueError("this row has no business here")


@zplan.beam_step
def fragile(rows: beam.PCollection):
    return rows | beam.Map(explode)
'''


@pytest.mark.parametrize("function, says", [
    ("forgets", "beam_reported.py:6: error: Beam step forgets must return a PCollection or a dict of them; got NoneType"),
    ("fragile", "Beam pipeline failed: ValueError: this row has no business here"),
])
def test_a_failing_beam_step_is_reported_once_without_zplans_own_frames(tmp_path, monkeypatch, function, says):
    from zplan.apply.worker import PathArg, StepTask, run_step

    project = tmp_path / "project"
    project.mkdir()
    (project / "beam_reported.py").write_text(REPORTED_STEPS)
    (project / "rows.csv").write_text("id\n1\n2\n")
    monkeypatch.chdir(tmp_path)  # the worker changes into the project folder: restore afterwards
    monkeypatch.syspath_prepend(str(project))
    task = StepTask(address="pipeline.p.step.s", project_dir=str(project), source_file="beam_reported.py",
                    function=function, params={}, inputs={"rows": PathArg(str(project / "rows.csv"))},
                    declared_outputs=None, artifact_store_url="file://.zplan/artifacts", run_id=1,
                    log_path=str(tmp_path / "s.log"),
                    stack={"processing": "beam:DirectRunner", "beam_options": {"direct_running_mode": "in_memory"}})
    result = run_step(task)
    assert not result.ok
    report = result.error + (result.traceback or "")
    assert says in report and report.count(says) == 1, report
    assert "zplan/beam/" not in report and "DiagnosticError" not in report, report
