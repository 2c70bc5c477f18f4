"""``@beam_step``: a step whose body is a Beam transform over its dataset inputs.

    @beam_step
    def clean(rows):                      # rows: a PCollection of dicts
        return rows | beam.Filter(lambda r: r["x"] is not None)

    @beam_step(pipeline=True)             # the function also receives the Pipeline
    def join(p, rows, limit: int):
        sizes = p | beam.Create([limit])
        ...

The executor calls the wrapper with plain values: dataset inputs (a
``ShardedDataset``, a DataFrame, an Arrow table or a CSV/Parquet path) and
params. The wrapper builds a pipeline for the stack's runner, reads each dataset
with ``ReadFromParquet``, applies the function, writes the result as
deterministic Parquet shards (see ``dataset``), runs it and returns a
``ShardedDataset`` (a dict of them when the function returns a dict of
PCollections). A failure inside a Beam worker becomes ``BeamStepError`` carrying
the worker's traceback.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import os
import re
import shutil
import sys
import sysconfig
import tempfile
import traceback
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from zplan import runtime
from zplan.beam import dask_io
from zplan.beam import dataset as ds
from zplan.beam import runners
from zplan.diags import Range, fail

DEFAULT_SHARDS = 4


class BeamStepError(Exception):
    """A Beam pipeline failed while running; the message holds the worker's traceback."""


@dataclass(frozen=True)
class BeamStepSpec:
    fn: Callable[..., Any]
    pipeline: bool  # the function's first parameter receives the beam.Pipeline
    num_shards: int
    inputs: tuple[str, ...] | None  # dataset parameters, when named explicitly


def beam_step(fn: Callable[..., Any] | None = None, *, pipeline: bool = False, num_shards: int = DEFAULT_SHARDS,
              inputs: tuple[str, ...] | list[str] | None = None) -> Any:
    """Turn a function over PCollections into a step that takes and returns datasets.

    ``num_shards`` fixes the output layout (part of the step's code, so part of
    its cache key). ``inputs`` names the dataset parameters; by default they are
    the parameters annotated ``PCollection`` and those given a dataset value.
    """
    if num_shards < 1:
        raise ValueError("num_shards must be at least 1")

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        spec = BeamStepSpec(fn, pipeline, num_shards, tuple(inputs) if inputs is not None else None)

        @functools.wraps(fn)
        def step(*args: Any, **kwargs: Any) -> Any:
            return run(spec, args, kwargs)

        step.__zplan_beam__ = spec  # type: ignore[attr-defined]
        step.__signature__ = _caller_signature(spec)  # type: ignore[attr-defined]
        return step

    return decorate(fn) if fn is not None else decorate


def run(spec: BeamStepSpec, args: tuple, kwargs: Mapping[str, Any]) -> Any:
    ctx = runtime.current()
    base_dir = ctx.project_dir if ctx else Path.cwd()
    processing, settings = runners.options_from_stack(ctx.stack if ctx else {})
    if ctx and runners.runner_name(processing) == "DataflowRunner":
        settings.setdefault("job_name", _job_name(ctx))
    on_dask = runners.runner_name(processing) == "DaskRunner"
    if on_dask:
        runners.default_dask_address(settings, ctx.stack if ctx else {}, _fn_range(spec.fn))
    options = runners.pipeline_options(processing, settings)
    FileSystems.set_options(options)  # staging uses the run's S3/GCS options before the Pipeline exists
    datasets, params = _split_arguments(spec, args, kwargs)

    scratch = ctx.scratch_dir if ctx else Path(tempfile.mkdtemp(prefix="zplan-beam-"))  # made once the options are good
    work = Path(tempfile.mkdtemp(prefix=f".{spec.fn.__name__}-", suffix=".tmp", dir=scratch))
    exchange = _exchange_root(processing, settings, work)
    try:
        outputs = _execute(spec, options, datasets, params, work, exchange, base_dir, on_dask)
        final = _publish(work)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    finally:
        _remove_remote(exchange)
    shutil.rmtree(final / "inputs", ignore_errors=True)
    result = {name: ds.ShardedDataset(final / "outputs" / name) for name in outputs}
    return result if isinstance(outputs, _DictOutputs) else result["output"]


def _execute(spec: BeamStepSpec, options: Any, datasets: Mapping[str, Any], params: Mapping[str, Any],
             work: Path, exchange: str, base_dir: Path, on_dask: bool = False) -> dict:
    """Stage inputs, build and run the pipeline, bring outputs into ``work/outputs``."""
    patterns = {name: _stage_input(value, work / "inputs" / name, base_dir, exchange, name)
                for name, value in datasets.items()}
    p = beam.Pipeline(options=options)
    outputs = _build(spec, p, patterns, params, on_dask)
    folders = {name: FileSystems.join(exchange, "outputs", name) for name in outputs}
    write = dask_io.WriteParts if on_dask else WriteShards
    for name, pcoll in outputs.items():
        pcoll | f"Write {name}" >> write(folders[name], spec.num_shards)
    with _importable(spec.fn, base_dir):
        _run(p, spec)
    for name, folder in folders.items():
        if on_dask:
            dask_io.finish(folder, spec.num_shards)
        _fetch_output(folder, work / "outputs" / name)
    return outputs


# --- arguments -----------------------------------------------------------------


def _caller_signature(spec: BeamStepSpec) -> inspect.Signature:
    """What the executor sees: the function's parameters, minus the Pipeline one."""
    sig = inspect.signature(spec.fn)
    params = list(sig.parameters.values())
    return sig.replace(parameters=params[1:] if spec.pipeline else params)


def _is_dataset_param(spec: BeamStepSpec, param: inspect.Parameter, value: Any) -> bool:
    if spec.inputs is not None:
        return param.name in spec.inputs
    annotation = param.annotation
    if annotation is beam.PCollection or (isinstance(annotation, str) and "PCollection" in annotation):
        return True
    return ds.is_dataset_value(value)


def _split_arguments(spec: BeamStepSpec, args: tuple, kwargs: Mapping[str, Any]) -> tuple[dict, dict]:
    """(dataset inputs, plain params), by parameter name."""
    try:
        bound = _caller_signature(spec).bind(*args, **kwargs)
    except TypeError as exc:
        raise fail(f"{_describe_fn(spec.fn)}: {exc}", range=_fn_range(spec.fn)) from None
    bound.apply_defaults()
    params = _caller_signature(spec).parameters
    datasets, plain = {}, {}
    for name, value in bound.arguments.items():
        (datasets if _is_dataset_param(spec, params[name], value) else plain)[name] = value
    if not datasets and not spec.pipeline:
        raise fail(
            f"{_describe_fn(spec.fn)} has no dataset input",
            "a @beam_step reads its inputs as PCollections; to create data inside the step, "
            "use @beam_step(pipeline=True) and take the Pipeline as first parameter",
            _fn_range(spec.fn),
        )
    return datasets, plain


# --- building and running the pipeline -------------------------------------------


def _build(spec: BeamStepSpec, p: beam.Pipeline, patterns: Mapping[str, str], params: Mapping[str, Any],
           on_dask: bool = False) -> dict:
    if on_dask:  # the Dask runner has no reads: Create the file list, read each file in a ParDo
        pcolls = {name: dask_io.read(p, name, pattern) for name, pattern in patterns.items()}
    else:
        pcolls = {name: p | f"Read {name}" >> beam.io.ReadFromParquet(pattern) for name, pattern in patterns.items()}
    result = spec.fn(p, **pcolls, **params) if spec.pipeline else spec.fn(**pcolls, **params)
    outputs = result if isinstance(result, dict) else {"output": result}
    bad = {k: type(v).__name__ for k, v in outputs.items() if not isinstance(v, beam.PCollection)}
    if bad or not outputs:
        if isinstance(result, dict):
            got = ", ".join(f"{k}: {t}" for k, t in bad.items()) or "an empty dict"
        else:
            got = type(result).__name__
        raise fail(
            f"{_describe_fn(spec.fn)} must return a PCollection or a dict of them; got {got}",
            "apply transforms to the input PCollections and return the last one",
            _fn_range(spec.fn),
        )
    return _DictOutputs(outputs) if isinstance(result, dict) else outputs


class _DictOutputs(dict):
    """Marks outputs the function returned as a dict (so the step returns a dict too)."""


def _run(p: beam.Pipeline, spec: BeamStepSpec) -> None:
    try:
        result = p.run()
        state = result.wait_until_finish()
    except Exception as exc:  # noqa: BLE001 - every runner failure becomes a step failure
        if type(exc).__name__ == "UnsupportedOnDask":  # refused before anything ran (by name: its module needs Dask)
            raise _unsupported_on_dask(exc, spec) from None
        raise BeamStepError(describe_failure(exc)) from None
    if state not in (None, beam.runners.runner.PipelineState.DONE):
        raise BeamStepError(f"Beam pipeline ended in state {state}")


def _unsupported_on_dask(exc: Any, spec: BeamStepSpec) -> Exception:
    ctx = runtime.current()
    where = f"step {ctx.address}" if ctx else _describe_fn(spec.fn)
    found = "; ".join(f'"{p.label}": {p.reason}' for p in exc.problems)
    return fail(f"{where} cannot run on Beam's DaskRunner: {found}",
                'run it with processing = "beam:DirectRunner" (or another runner), or use only Create, '
                "Map/FlatMap/Filter/ParDo, GroupByKey/CombinePerKey, Flatten and Reshuffle", _fn_range(spec.fn))


class WriteShards(beam.PTransform):
    """Rows -> ``num_shards`` Parquet files whose bytes depend only on the rows.

    Each row goes to the shard picked by a hash of its canonical bytes; every
    shard index is fed once with a marker so empty shards are still written;
    rows are sorted inside a shard; one schema, unified over the shards in index
    order, is applied to all of them.
    """

    def __init__(self, folder: str, num_shards: int) -> None:
        super().__init__()
        self.folder = folder
        self.num_shards = num_shards

    def expand(self, rows: beam.PCollection) -> beam.PCollection:
        n = self.num_shards
        keyed = rows | "Key" >> beam.Map(_keyed_row, n)
        markers = rows.pipeline | "Shards" >> beam.Create([(i, None) for i in range(n)])
        tables = ((keyed, markers) | "Join" >> beam.Flatten() | "Group" >> beam.GroupByKey()
                  | "Table" >> beam.MapTuple(_shard_table))
        schema = (tables | "Schemas" >> beam.MapTuple(lambda i, t: (i, None if t is None else t.schema))
                  | "Collect" >> beam.combiners.ToList() | "Unify" >> beam.Map(_unify))
        return tables | "Write" >> beam.Map(_write_shard, self.folder, n, beam.pvalue.AsSingleton(schema))


def _keyed_row(element: Any, n: int) -> tuple[int, tuple[bytes, dict]]:
    row = ds.as_row(element)
    key = ds.row_key(row)
    return ds.shard_of(key, n), (key, row)


def _shard_table(index: int, items: Any) -> tuple[int, Any]:
    rows = sorted((item for item in items if item is not None), key=lambda kr: kr[0])
    return index, ds.rows_to_table([row for _, row in rows]) if rows else None


def _unify(pairs: list) -> Any:
    return ds.unify_schemas(schema for _, schema in sorted(pairs, key=lambda p: p[0]))


def _write_shard(shard: tuple[int, Any], folder: str, n: int, schema: Any) -> str:
    index, table = shard
    path = FileSystems.join(folder, ds.shard_name(index, n))
    with FileSystems.create(path) as sink:
        ds.write_parquet(ds.conform(table, schema), sink)
    return path


# --- where data goes ---------------------------------------------------------------


def _exchange_root(processing: str, settings: Mapping[str, Any], work: Path) -> str:
    """Where inputs and outputs live while the pipeline runs.

    Local runners use the step's scratch folder. A cluster runner cannot read
    this machine's disk, so its data goes through its ``temp_location``
    (gs://, s3://, hdfs://...) and the output is fetched back afterwards.
    """
    temp = settings.get("temp_location")
    if runners.runner_name(processing) == "DirectRunner" or not temp:
        return str(work)
    return FileSystems.join(str(temp), "zplan", work.name.strip("."))


def _is_remote(location: str) -> bool:
    return "://" in location


def _stage_input(value: Any, local: Path, base_dir: Path, exchange: str, name: str) -> str:
    pattern = ds.input_pattern(value, local, base_dir)
    if not _is_remote(exchange):
        return pattern
    remote = FileSystems.join(exchange, "inputs", name)
    for match in FileSystems.match([pattern])[0].metadata_list:
        _copy(match.path, FileSystems.join(remote, os.path.basename(match.path)))
    return FileSystems.join(remote, "*.parquet")


def _fetch_output(folder: str, local: Path) -> None:
    if not _is_remote(folder):
        return  # already written in place
    local.mkdir(parents=True, exist_ok=True)
    for match in FileSystems.match([FileSystems.join(folder, "*.parquet")])[0].metadata_list:
        _copy(match.path, str(local / os.path.basename(match.path)))


def _remove_remote(location: str) -> None:
    if not _is_remote(location):
        return
    found = FileSystems.match([FileSystems.join(location, "**")])[0].metadata_list
    if found:
        FileSystems.delete([m.path for m in found])


def _copy(src: str, dst: str) -> None:
    with FileSystems.open(src) as reader, FileSystems.create(dst) as writer:
        shutil.copyfileobj(reader, writer, 4 * 1024 * 1024)


def _publish(work: Path) -> Path:
    """Rename the finished work folder into place (readers never see a partial one)."""
    final = work.with_name(work.name[1:-len(".tmp")] + "-" + uuid.uuid4().hex[:8])
    os.replace(work, final)
    return final


# --- making the step's code reachable from Beam's worker processes ---------------------


@contextlib.contextmanager
def _importable(fn: Callable[..., Any], base_dir: Path) -> Iterator[None]:
    """Ship the step's module by value and put the project on the workers' path.

    Worker processes unpickle the step's functions; a project module is not
    installed, so it is pickled by value instead of by reference, and the
    project folder is added to ``PYTHONPATH`` for the modules it imports.
    """
    module = sys.modules.get(fn.__module__)
    if module is not None and _is_project_module(module):
        from apache_beam.internal.cloudpickle import cloudpickle

        cloudpickle.register_pickle_by_value(module)
    old = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(base_dir), old) if p)
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = old


def _is_project_module(module: Any) -> bool:
    file = getattr(module, "__file__", None)
    if not file or module.__name__ == "__main__":
        return False
    installed = {sysconfig.get_paths()[k] for k in ("purelib", "platlib", "stdlib", "platstdlib")}
    return not any(Path(file).resolve().is_relative_to(Path(root).resolve()) for root in installed)


# --- messages ------------------------------------------------------------------------


_FRAME = re.compile(r'^\s*File "([^"]+)", line \d+')
_NOISE = ("apache_beam/", "/grpc/", "concurrent/futures/", "/threading.py", "zplan/beam/step.py",
          "zplan/beam/dask_runner.py", "/distributed/")  # (the Dask runner's client re-raising the worker's exception)


def describe_failure(exc: BaseException) -> str:
    """One summary line, then the traceback(s) without Beam's, gRPC's and Dask's own frames."""
    text = str(exc)
    if "Traceback (most recent call last)" not in text:
        text = "".join(traceback.format_exception(exc))
    lines = _drop_frames(text.splitlines())
    summary = next((line.strip() for line in reversed(lines) if line.strip()), type(exc).__name__)
    return f"Beam pipeline failed: {summary}\n\nworker traceback:\n" + "\n".join(lines)


def _drop_frames(lines: list[str]) -> list[str]:
    kept: list[str] = []
    skipping = False
    for line in lines:
        match = _FRAME.match(line)
        if match:
            skipping = any(part in match.group(1) for part in _NOISE)
        elif skipping and not line.startswith("    "):
            skipping = False  # the frame's code lines are over
        if not skipping:
            kept.append(line)
    return kept


def _describe_fn(fn: Callable[..., Any]) -> str:
    return f"Beam step {fn.__qualname__}"


def _fn_range(fn: Callable[..., Any]) -> Range | None:
    code = getattr(fn, "__code__", None)
    return Range(code.co_filename, code.co_firstlineno) if code else None


def _job_name(ctx: runtime.StepContext) -> str:
    """A Dataflow job name ([a-z][-a-z0-9]*) that says which step and run it is."""
    name = re.sub(r"[^a-z0-9]+", "-", f"zplan-{ctx.address}-run{ctx.run_id}".lower()).strip("-")
    return name[:63].rstrip("-")
