"""Running one step, inside a worker process.

The parent sends a ``StepTask`` (addresses, params, typed inputs naming artifact
digests or snapshot paths: never the data itself); the worker imports the step's module, loads inputs through their
materializers, calls the function, stores each output in the artifact store
(content-addressed, temp-then-rename) and sends back a ``StepResult``.
Workers live for a whole apply: a library is imported once per worker, and what a step
changes in the interpreter is undone before the next (``zplan.apply.step_isolation``).
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
import shutil
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

from zplan.apply import code_cache, file_reads, snapshot_guard
from zplan.apply.step_failures import InputDamaged, StepExited, StepFailed, step_traceback, user_traceback
from zplan.apply.step_function import load_function, tfx_component
from zplan.apply.step_isolation import step_interpreter_state
from zplan.apply.step_log import captured_output, log_tail, logging_to_log, withhold_private_environment
from zplan.apply.strays import threads_now
from zplan.diags import DiagnosticError
from zplan.steps import DEFAULT_OUTPUT

SMALL_VALUE_BYTES = 4096  # JSON outputs up to this size are also kept in state, for `zplan output`
SCRATCH_PREFIX = "zplan-step-"  # a step's scratch folder: zplan-step-<worker pid>-<random>


@dataclass(frozen=True)
class ArtifactArg:
    """An upstream output: loaded from the artifact store through its materializer."""

    digest: str
    materializer: str
    module: str = ""  # a user's materializer: the module registering it, imported to load the input
    checked: bool = False  # written in this apply by a worker of this machine, hashed as it was: stamps suffice


@dataclass(frozen=True)
class PathArg:
    """A data input: the path of its snapshot, handed to the step as a ``Path``."""

    path: str
    digest: str | None = None  # the snapshot's digest, verified before the step sees it (None: nothing to verify:
    #                            read in place, or a snapshot this worker has just stored and checked)
    checked: bool = False  # stored in this apply by the parent, its bytes checked: stamps suffice


@dataclass(frozen=True)
class SnapshotArg:
    """A data input the worker stores as a snapshot before the step runs, from the parent's
    scan of it (``zplan.artifacts.base.SourceFile``: names, digests, stamps); the step gets the
    snapshot's path, as from a ``PathArg``. Each byte is hashed as it is copied and must match."""

    path: str  # as the pipeline names it (relative to the project): the key of its lineage record
    entries: tuple[Any, ...]
    digest: str
    is_file: bool


@dataclass(frozen=True)
class ListArg:
    """Several upstream outputs handed to the step as one list, or as a map when ``keys`` are given."""

    items: tuple[ArtifactArg, ...]
    keys: tuple[str, ...] | None = None


TaskInput = Union[ArtifactArg, PathArg, SnapshotArg, ListArg]


@dataclass
class StepTask:
    address: str
    project_dir: str
    source_file: str
    function: str
    params: dict[str, Any]
    inputs: dict[str, TaskInput]
    declared_outputs: list[str] | None
    artifact_store_url: str
    run_id: int
    log_path: str
    stack: dict[str, Any] = field(default_factory=dict)
    secrets: list[str] = field(default_factory=list)  # redacted from the log as the step writes it
    script: Any = None  # a zplan.apply.script_run.ScriptTask: run that command instead of a function
    tfx: str | None = None  # a TFX component run in place of source_file:function (zplan.tfx.runner)
    handed_on: tuple[str, ...] = ()  # outputs another step of the apply reads: stored in a faster form (Arrow IPC)
    sync_outputs: bool = True  # False: outputs are published unsynced and the parent syncs them (StepResult.unsynced)
    planned: dict[str, str] | None = None  # a backend job: the apply's digests of the code it must run (task_check.JOB_PARTS)


@dataclass
class StepResult:
    address: str
    ok: bool
    outputs: dict[str, dict] = field(default_factory=dict)
    error: str | None = None
    traceback: str | None = None
    started_at: float = 0.0
    finished_at: float = 0.0
    compute_seconds: float = 0.0  # time inside the step function itself
    metadata: dict[str, Any] = field(default_factory=dict)  # what the step recorded with zplan.log_metadata()
    damaged: dict[str, str] = field(default_factory=dict)  # input digest -> why it could not be loaded
    unsynced: dict[str, tuple[str, ...]] = field(default_factory=dict)  # output digest -> its files, for the parent to sync
    snapshots: dict[str, str] = field(default_factory=dict)  # data input path -> the digest of the snapshot stored here
    # processes the step left running, stopped after it (a class default: a result pickled by an older zplan,
    # on a Dask worker or in a training job's image, has none)
    left_running: tuple[str, ...] = ()
    left_threads: tuple[str, ...] = ()  # threads the step left alive: its worker ended after it (the same default)
    reads: tuple[tuple[str, str | None], ...] = ()  # project files its code read undeclared, and their digests (file_reads)
    written: tuple[str, ...] = ()  # outputs this worker wrote, hashing them as it did (not found already stored)


_stores: dict[tuple[str, str], Any] = {}
ran_a_step = False  # in this process (what a step leaves, cyclic garbage among it, is not frozen: warm_imports)


def run_step(task: StepTask) -> StepResult:
    global ran_a_step
    ran_a_step = True
    started = time.time()
    result = StepResult(task.address, ok=False, started_at=started)
    code_cache.install()  # (once a process: the project's modules, imported again by each step, compiled once)
    withhold_private_environment()
    try:
        with captured_output(task.log_path, task.secrets):
            threads = threads_now()  # (the log's own copier among them)
            try:
                _execute(task, result)
            finally:
                result.left_running = tuple(_stop_left_running())
                result.left_threads = tuple(_threads_left(threads))
        result.ok = True
    except InputDamaged as exc:
        result.error, result.damaged = exc.message, {exc.digest: exc.message}
    except StepExited as exc:  # sys.exit(N): its reason is in what the step printed, not in a traceback
        result.error = f"{exc.message}{log_tail(task.log_path)}"
    except StepFailed as exc:
        result.error, result.traceback = exc.message, exc.trace
    except DiagnosticError as exc:  # a store out of reach, say: its message, not zplan's frames
        d = exc.diagnostics[0]
        result.error = d.summary + (f" ({d.detail})" if d.detail else "")
    except BaseException as exc:  # zplan's own failure around the step: report, don't crash the pool
        result.error = f"{type(exc).__name__}: {exc}"
        result.traceback = traceback.format_exc()
    result.finished_at = time.time()
    return result


def _stop_left_running() -> list[str]:
    """What the step left running, stopped, and said in its log (stderr here)."""
    from zplan.apply.strays import left_running_message, stop_left_running

    left = stop_left_running()
    if left:
        os.write(2, f"zplan: {left_running_message(left)}\n".encode())
    return left


def _threads_left(before) -> list[str]:
    """The threads the step left alive, said in its log: this worker ends after the step."""
    from zplan.apply.strays import left_threads_message, threads_left

    left = threads_left(before)
    if left:
        os.write(2, f"zplan: {left_threads_message(left)}\n".encode())
    return left


def remove_scratch_of(pid: int) -> None:
    """Remove what a step ended in worker ``pid`` left in its scratch folder: a step stopped by its
    timeout or an interrupt, or one that crashed its worker, never reached its own clean-up (the
    folder may hold a Beam step's staged inputs)."""
    for path in Path(tempfile.gettempdir()).glob(f"{SCRATCH_PREFIX}{pid}-*"):
        shutil.rmtree(path, ignore_errors=True)


def _execute(task: StepTask, result: StepResult) -> None:
    os.chdir(task.project_dir)  # relative paths in params mean the project folder, wherever zplan was started
    # Made when the step first asks for it (most never do); removed however the step ends,
    # a failed import or a damaged input included.
    scratch = Path(tempfile.gettempdir()) / f"{SCRATCH_PREFIX}{os.getpid()}-{os.urandom(8).hex()}"
    try:
        # what its code reads undeclared (a command's or a component's reads are not Python's to see)
        watch = file_reads.Watch(os.path.abspath(task.project_dir)) if task.script is None and task.tfx is None else None
        with step_interpreter_state(task.project_dir):  # the worker's next step starts the same
            _execute_in(task, result, scratch, watch)
        if watch is not None:
            declared = [spec.path for spec in task.inputs.values() if isinstance(spec, (PathArg, SnapshotArg))]
            store_root = getattr(_store(task.artifact_store_url, task.project_dir), "root", None)
            result.reads = tuple(watch.recorded(file_reads.left_out(task.project_dir, store_root and str(store_root), declared)).items())
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _execute_in(task: StepTask, result: StepResult, scratch: Path, watch: file_reads.Watch | None = None) -> None:
    from zplan import runtime
    from zplan.steps import split_outputs

    project_dir = Path(task.project_dir)
    ctx = runtime.StepContext(task.address, task.run_id, project_dir, task.artifact_store_url, scratch, task.stack)
    if task.script is not None:
        from zplan.apply import script_run

        fn, kwargs = script_run.script_function(task.script, ctx), {}
    elif task.tfx is not None:
        fn, kwargs = tfx_component(task.tfx), dict(task.params)
    else:
        with file_reads.watching(watch):
            fn, kwargs = load_function(project_dir, task.source_file, task.function), dict(task.params)
        # A worker imports a library once, for its first step using it: that import (pandas, sklearn, ...)
        # is not this step's time, and the steps after it in the same worker do not pay it.
        result.started_at = time.time()
    store = _store(task.artifact_store_url, task.project_dir)
    snapshots = []  # the data snapshots the step must leave as stored
    for name, spec in task.inputs.items():
        kwargs[name] = _load_input(store, name, _snapshotted(store, name, spec, result))
        snapshots += snapshot_guard.guarded(name, spec, result.snapshots)
    with runtime.running(ctx), logging_to_log(), file_reads.watching(watch):
        t0 = time.perf_counter()
        try:
            value = fn(**kwargs)
        except SystemExit as exc:
            raise StepExited(f"the step exited with code {_exit_code(exc)} (sys.exit)", None) from None
        except StepFailed:
            raise
        except DiagnosticError as exc:  # zplan's wrapper of the function (@beam_step) names the mistake and its line
            raise StepFailed(str(exc), None) from None
        except BaseException as exc:
            raise StepFailed(f"{type(exc).__name__}: {exc}", step_traceback(exc)) from None
        finally:
            result.compute_seconds = time.perf_counter() - t0
            result.metadata = ctx.metadata
    written = snapshot_guard.written_into(store, snapshots)
    if written is not None:  # before any output is stored: nothing computed from changed data is kept
        raise StepFailed(snapshot_guard.store_again(store, written), None)
    declared = task.declared_outputs or getattr(fn, "__zplan_outputs__", None)
    try:
        outputs = split_outputs(value, declared)
    except ValueError as exc:
        raise StepFailed(str(exc), None) from None
    written: list[str] = []
    for name, out in outputs.items():
        result.outputs[name] = _store_output(store, name, out, name in task.handed_on, task.sync_outputs, result.unsynced, written)
    result.written = tuple(written)
    if task.script is not None:
        from zplan.apply import script_run

        script_run.keep_metrics(task.script, outputs, result.outputs)


def _exit_code(exc: SystemExit) -> Any:
    """What sys.exit() was given, as a process would report it (a message counts as 1)."""
    return 0 if exc.code is None else exc.code if isinstance(exc.code, int) else f"1: {exc.code}"


def _store(url: str, project_dir: str):
    key = (url, project_dir)
    if key not in _stores:
        from zplan.artifacts.store import ArtifactStore

        _stores[key] = ArtifactStore.from_url(url, Path(project_dir))
    return _stores[key]


def _load_input(store, name: str, spec: TaskInput) -> Any:
    if isinstance(spec, ListArg):
        loaded = [_load_input(store, f"{name}[{i}]", item) for i, item in enumerate(spec.items)]
        return loaded if spec.keys is None else dict(zip(spec.keys, loaded))
    if isinstance(spec, PathArg):
        if spec.digest:  # a data snapshot: checked like any artifact (a reference has none)
            _verified(store, name, spec.digest, full=not spec.checked)
        return Path(spec.path)
    folder = _verified(store, name, spec.digest, full=not spec.checked)
    materializer = _input_materializer(name, spec)
    try:
        return materializer.load(folder)
    except Exception as exc:  # the bytes are the ones stored (just verified): the loading code failed
        from zplan.artifacts.materializers import is_builtin

        raise StepFailed(f"input {name}: materializer {materializer.name} could not load artifact {spec.digest[:12]}: "
                          f"{type(exc).__name__}: {exc}", None if is_builtin(materializer) else user_traceback(exc)) from None


def _input_materializer(name: str, spec: ArtifactArg):
    """The materializer that wrote an input; a user's own is registered first by importing its
    module (the step reading the input need not import the one that made it)."""
    from zplan.artifacts.materializers import NoMaterializer, get_materializer, is_registered

    if spec.module and not is_registered(spec.materializer, spec.module):
        try:
            importlib.import_module(spec.module)
        except Exception as exc:
            raise StepFailed(f"input {name}: cannot import {spec.module}, which registers its materializer "
                              f"{spec.materializer!r}: {type(exc).__name__}: {exc}", user_traceback(exc)) from None
    try:
        return get_materializer(spec.materializer, spec.module or None)
    except NoMaterializer as exc:
        raise StepFailed(f"input {name}: {exc}", None) from None


def _snapshotted(store, name: str, spec: TaskInput, result: StepResult) -> TaskInput:
    """A ``SnapshotArg`` stored now and handed on as its snapshot's ``PathArg`` (others as they are)."""
    from zplan.artifacts.base import ArtifactCorrupted

    if isinstance(spec, ListArg):
        items = (_snapshotted(store, f"{name}[{i}]", item, result) for i, item in enumerate(spec.items))
        return ListArg(tuple(items), spec.keys)
    if not isinstance(spec, SnapshotArg):
        return spec
    try:
        stored = store.put_scanned(list(spec.entries), spec.digest)
    except ArtifactCorrupted as exc:
        raise InputDamaged(f"input {name}: {exc.diagnostics[0].summary}", spec.digest) from None
    result.snapshots[spec.path] = stored.digest
    result.unsynced[stored.digest] = stored.unsynced
    inner = stored.folder / spec.entries[0].rel if spec.is_file else stored.folder
    return PathArg(str(inner))  # no digest: put_scanned has just checked it (hashed as copied, or found intact)


def _verified(store, name: str, digest: str, full: bool = True) -> Path:
    """The artifact's folder after rehashing every byte of it (xxh3: about memory speed), so a step never computes
    on a damaged or incomplete input; without ``full`` (a snapshot or an output this apply just stored, hashed as it was
    written) its stamps only."""
    from zplan.artifacts.base import ArtifactCorrupted, ArtifactNotFound

    try:
        return store.get(digest, verify=full)
    except ArtifactCorrupted as exc:
        raise InputDamaged(f"input {name}: {exc.diagnostics[0].summary}", digest) from None
    except ArtifactNotFound as exc:
        raise InputDamaged(f"input {name}: {exc.diagnostics[0].summary}", digest) from None


def _store_output(store, name: str, value: Any, handed_on: bool = False, sync: bool = True,
                  unsynced: dict[str, tuple[str, ...]] | None = None, written: list[str] | None = None) -> dict:
    """Materialized into a staging folder of the store and stored as it lies (a local store
    moves it into place: no copy, one hash). Without ``sync`` its files are not synced here:
    ``unsynced`` gets them, and the parent syncs them before anything records the output.
    ``written`` gets its digest when this call placed it (an artifact found stored was not rehashed)."""
    from zplan.artifacts.materializers import CanSaveFailed, defined_in, materializer_for

    try:
        materializer = materializer_for(value, handed_on)
    except CanSaveFailed as exc:  # a fault in the user's code: its traceback helps
        raise StepFailed(f"output {name!r}: {exc}", user_traceback(exc.__cause__)) from None
    except Exception as exc:
        if type(value) is tuple and name == DEFAULT_OUTPUT:
            raise StepFailed(_several_outputs_hint(len(value)), None) from None
        if inspect.isgenerator(value):  # not a type to register a materializer for: a `yield` by mistake
            raise StepFailed(f"output {name!r}: the step returned a generator (a yield in its function, or a generator "
                             "expression), which is never run to its end; return the values instead, e.g. as a list", None) from None
        raise StepFailed(f"output {name!r}: {exc}", None) from None
    if materializer.name == "json":  # before storing: a failed step leaves no artifact behind
        _refuse_not_finite(name, value)
    with store.staging() as folder:
        meta = _saved(materializer, name, value, folder)
        stored = store.put_owned(folder, sync=sync)
    if stored.unsynced and unsynced is not None:
        unsynced[stored.digest] = stored.unsynced
    if stored.written and written is not None:
        written.append(stored.digest)
    record = {
        "digest": stored.digest,
        "uri": stored.uri,
        "materializer": materializer.name,
        "materializer_version": materializer.version,
        **({"materializer_module": module} if (module := defined_in(materializer)) else {}),
        "type": f"{type(value).__module__}.{type(value).__qualname__}",
        "size": stored.size,
        "meta": meta,
    }
    if materializer.name == "json":
        text = json.dumps(value, sort_keys=True, default=str)
        if len(text) <= SMALL_VALUE_BYTES:
            record["value"] = value
    return record


def _saved(materializer, name: str, value: Any, folder: Path) -> dict:
    """What ``materializer.save`` returns; a value it cannot write (a DataFrame column mixing
    numbers and text, duplicate column names) fails the step naming the output and the
    materializer, with the traceback only when the materializer is the user's own code."""
    from zplan.artifacts.builtin_materializers import type_name
    from zplan.artifacts.materializers import is_builtin

    try:
        facts = materializer.save(value, folder) or {}
    except (DiagnosticError, StepFailed):
        raise
    except Exception as exc:
        message = (f"output {name!r}: materializer {materializer.name} could not store the {type_name(value)}: "
                   f"{type(exc).__name__}: {exc}")
        raise StepFailed(message, None if is_builtin(materializer) else user_traceback(exc)) from None
    _check_facts(materializer.name, name, facts)
    return facts


def _check_facts(materializer: str, name: str, facts: Any) -> None:
    """What ``save`` returned goes into state and ML Metadata with the output: a dict of JSON
    values, or the apply would stop when it writes state, after the run was recorded."""
    from zplan.artifacts.builtin_materializers import json_problem, type_name
    from zplan.state.checks import not_finite_path

    if not isinstance(facts, dict):
        problem = f"it returned a {type_name(facts)}"
    else:
        problem = json_problem(facts, "its facts") or (f"{where} is NaN or infinite" if (where := not_finite_path(facts, "its facts")) else None)
    if problem:
        raise StepFailed(f"output {name!r}: materializer {materializer}'s save must return None or a dict of JSON values "
                          f"(small facts about what it wrote): {problem}", None)


def _several_outputs_hint(count: int) -> str:
    """A tuple returned without output names: most likely meant as several outputs."""
    names = ", ".join(f'"out{i + 1}"' for i in range(count))
    return (
        f"the step returned a tuple of {count} values but declares no outputs, so zplan cannot tell them apart. "
        f"Name them (in the order returned) with @zplan.step(outputs=[{names}]), with outputs = [{names}] in "
        f"its step block, or with a return annotation Tuple[Annotated[T, \"name\"], ...]"
    )


def _refuse_not_finite(name: str, value: Any) -> None:
    from zplan.state.checks import not_finite_path

    where = not_finite_path(value, name)
    if where:
        raise StepFailed(
            f"output {where} is NaN or infinite, which JSON (state, the stored value) cannot hold; "
            "return None or a string for it, or a type with its own materializer (numpy, pandas)", None)
