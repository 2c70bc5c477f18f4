"""``processing = "beam:DaskRunner"``: what Beam's Dask runner would get wrong is refused, by name, before
anything runs (no cluster is needed for that: the check comes before the runner connects)."""

from __future__ import annotations

import contextlib
from pathlib import Path

import apache_beam as beam
import pytest

from zplan.beam import runners
from zplan.beam.step import beam_step
from zplan.diags import DiagnosticError
from zplan.runtime import StepContext, running
from tests.beam.test_step import EVENTS, totals

pytest.importorskip("distributed")

NOWHERE = "tcp://127.0.0.1:9"  # nothing listens: a pipeline that got past the check would fail to connect


@contextlib.contextmanager
def dask_context(tmp_path: Path, address: str = NOWHERE):
    stack = {"processing": "beam:DaskRunner", "orchestrator": "dask", "orchestrator_options": {"scheduler": address}}
    ctx = StepContext("pipeline.p.step.s", 1, tmp_path, (tmp_path / "store").as_uri(), tmp_path / "scratch", stack)
    with running(ctx):
        yield ctx


@beam_step(pipeline=True)
def reads_text(p, rows):
    lines = p | "Lines" >> beam.io.ReadFromText(__file__)
    return (rows | "Ids" >> beam.Map(lambda r: r["id"]), lines) | beam.Flatten() | "Row" >> beam.Map(lambda x: {"x": str(x)})


@beam_step
def windowed(rows):
    return rows | beam.WindowInto(beam.window.FixedWindows(10)) | beam.Map(lambda r: r)


@beam_step
def counts(rows):
    return rows | beam.combiners.Count.Globally() | beam.Map(lambda n: {"n": n})


@beam_step
def two_outputs(rows):
    return {"a": rows | "A" >> beam.Map(lambda r: r), "b": rows | "B" >> beam.Map(lambda r: r)}


class _Tagging(beam.DoFn):
    def process(self, row):
        yield beam.pvalue.TaggedOutput("odd", row) if row["id"] % 2 else row


@beam_step
def tagged(rows):
    return (rows | "Split" >> beam.ParDo(_Tagging()).with_outputs("odd", main="even")).even


class _Counting(beam.DoFn):
    SEEN = beam.transforms.userstate.CombiningValueStateSpec("seen", sum)

    def process(self, kv, seen=beam.DoFn.StateParam(SEEN)):
        seen.add(1)
        yield {"group": kv[0], "n": seen.read()}


@beam_step
def stateful(rows):
    return rows | "Key" >> beam.Map(lambda r: (r["group"], r)) | "Count" >> beam.ParDo(_Counting())


@pytest.mark.parametrize("step, transform, reason", [
    (tagged, "Split", "tagged outputs"),
    (stateful, "Count", "state and timers"),
    (reads_text, "Lines/Read", "is not implemented by the Dask runner"),
    (totals, "Map(<lambda at test_step.py:", "side inputs"),
    (counts, "Globally/CombineGlobally(CountCombineFn)/InjectDefault", "side inputs"),
    (windowed, "WindowInto(WindowIntoFn)", "WindowInto is not implemented"),
    (two_outputs, "Write a/", "several ends"),
])
def test_what_the_dask_runner_would_get_wrong_is_refused_by_name(tmp_path, step, transform, reason):
    kwargs = {"minimum": 1.0} if step is totals else {}
    with dask_context(tmp_path), pytest.raises(DiagnosticError) as caught:
        step(rows=EVENTS, **kwargs)
    message = caught.value.diagnostics[0].summary
    assert "pipeline.p.step.s cannot run on Beam's DaskRunner" in message
    assert transform in message and reason in message, message
    assert "beam:DirectRunner" in caught.value.diagnostics[0].detail
    assert not list((tmp_path / "scratch").glob("*/outputs")), "nothing was published"


def test_the_scheduler_comes_from_the_dask_orchestrator_or_beam_options():
    settings: dict = {}
    runners.default_dask_address(settings, {"orchestrator": "dask", "orchestrator_options": {"scheduler": "tcp://s:8786"}})
    assert settings == {"dask_client_address": "tcp://s:8786"}
    given = {"dask_client_address": "tcp://other:8786"}
    runners.default_dask_address(given, {"orchestrator": "dask", "orchestrator_options": {"scheduler": "tcp://s:8786"}})
    assert given == {"dask_client_address": "tcp://other:8786"}
    with pytest.raises(DiagnosticError, match="needs a Dask scheduler"):
        runners.default_dask_address({}, {"orchestrator": "local"})


def test_dask_options_are_known_and_validated():
    options = runners.pipeline_options("beam:DaskRunner", {"dask_client_address": "tcp://s:8786", "dask_npartitions": 4})
    assert options.get_all_options()["runner"] == runners.DASK_RUNNER
    with pytest.raises(DiagnosticError, match="dask_client_adress"):
        runners.pipeline_options("beam:DaskRunner", {"dask_client_adress": "tcp://s:8786"})
