"""Beam's DaskRunner, refusing before it runs any pipeline it would get wrong.

Beam 2.77's Dask runner translates a transform by its exact class; anything it
has no translation for becomes an identity, silently. Reading its source (and
testing each case) gives what it runs correctly, after its own overrides:

- ``Create`` (its ``_Create``), ``Reshuffle`` (an identity, which is right);
- ``ParDo`` (Map, FlatMap, Filter, ...) of exactly that class, with one output,
  no side inputs, no state, timers or splitting;
- ``GroupByKey`` (a bag groupby, then ``_GroupAlsoByWindow`` as an identity,
  right only in the global window);
- ``Flatten`` (a bag concat).

Everything else is refused by name: reads (``_Read`` yields nothing), Impulse,
WindowInto and other ParDo subclasses, side inputs (the runner fails on them),
tagged outputs. The runner also computes only the last transform it visits, so
a pipeline must end in exactly one transform that every other one feeds.
"""

from __future__ import annotations

from dataclasses import dataclass

from apache_beam import ParDo
from apache_beam.pipeline import PipelineVisitor
from apache_beam.runners.common import DoFnSignature
from apache_beam.runners.runner import PipelineState
from apache_beam.runners.dask.dask_runner import DaskRunner, DaskRunnerResult
from apache_beam.runners.dask.overrides import (
    _Create,
    _Flatten,
    _GroupAlsoByWindow,
    _GroupByKeyOnly,
    _Reshuffle,
    dask_overrides,
)
from apache_beam.transforms import userstate
from apache_beam.transforms.window import GlobalWindows

_ALWAYS = (_Create, _Flatten, _GroupByKeyOnly, _Reshuffle)


@dataclass(frozen=True)
class Unsupported:
    label: str  # the transform's full label in the pipeline
    reason: str


class UnsupportedOnDask(Exception):
    """The pipeline uses transforms the Dask runner would run wrongly."""

    def __init__(self, problems: list[Unsupported]) -> None:
        super().__init__("; ".join(f"{p.label}: {p.reason}" for p in problems))
        self.problems = problems


class CheckedDaskRunner(DaskRunner):
    """``DaskRunner`` that inspects the pipeline first and raises ``UnsupportedOnDask``."""

    def run_pipeline(self, pipeline, options):
        pipeline.replace_all(dask_overrides())  # the runner does it too; doing it twice changes nothing
        problems = unsupported(pipeline)
        if problems:
            raise UnsupportedOnDask(problems)
        result = super().run_pipeline(pipeline, options)
        return _ClosingResult(result.client, result.futures)


class _ClosingResult(DaskRunnerResult):
    """Beam's result, closing the ``Client`` the runner opened once the pipeline is finished:
    Beam never closes it, and a client left open keeps reconnecting (with tracebacks) after
    its cluster has gone away."""

    def wait_until_finish(self, duration=None) -> str:
        try:
            return super().wait_until_finish(duration)
        finally:
            if duration is None or self.state in (PipelineState.DONE, PipelineState.FAILED):
                self.client.close()


def unsupported(pipeline) -> list[Unsupported]:
    """What in an (overridden) pipeline the Dask runner cannot run correctly."""
    visitor = _Leaves()
    pipeline.visit(visitor)
    problems = [p for node in visitor.leaves if (p := _check(node)) is not None]
    consumed = {id(v) for node in visitor.leaves for v in list(node.inputs) + [s.pvalue for s in node.side_inputs]}
    ends = [node for node in visitor.leaves if not node.outputs or any(id(o) not in consumed for o in node.outputs.values())]
    if len(ends) > 1:
        names = ", ".join(node.full_label for node in ends)
        problems.append(Unsupported(names, "the pipeline has several ends, and the Dask runner computes only the "
                                           "last one (a step with several outputs, or a branch nothing reads)"))
    return problems


class _Leaves(PipelineVisitor):
    def __init__(self) -> None:
        self.leaves = []

    def visit_transform(self, transform_node) -> None:
        self.leaves.append(transform_node)


def _check(node) -> Unsupported | None:
    transform = node.transform
    if isinstance(transform, _ALWAYS):
        return None
    if type(transform) is _GroupAlsoByWindow:
        windowing = next(iter(node.main_inputs.values())).windowing
        if isinstance(windowing.windowfn, GlobalWindows):
            return None
        return Unsupported(node.full_label, "grouping in windows other than the global one")
    if type(transform) is ParDo:
        return _check_pardo(node, transform)
    name = type(transform).__name__.lstrip("_")
    return Unsupported(node.full_label, f"{name} is not implemented by the Dask runner (it would pass data through unchanged)")


def _check_pardo(node, transform: ParDo) -> Unsupported | None:
    if node.side_inputs:
        return Unsupported(node.full_label, "side inputs (AsSingleton, AsList, AsDict...) are not supported")
    if len(node.outputs) > 1:
        return Unsupported(node.full_label, "tagged outputs (with_outputs) are not supported")
    if userstate.is_stateful_dofn(transform.fn):
        return Unsupported(node.full_label, "state and timers are not supported")
    if DoFnSignature(transform.fn).is_splittable_dofn():
        return Unsupported(node.full_label, "splittable DoFns are not supported")
    return None


__all__ = ["CheckedDaskRunner", "Unsupported", "UnsupportedOnDask", "unsupported"]
