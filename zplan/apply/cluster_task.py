"""A step, on a Dask worker: the same unit of work as on a local worker process.

The task carries addresses, params and artifact digests, never data. On the worker
the project's code comes from the shipped bundle (unpacked once per digest in the
worker's own folder) or from a folder every worker shares; data inputs are read back
from the artifact store by digest; outputs go to the artifact store. The step runs in a
child process of the worker, so its output is captured without touching the worker's
own streams, its timeout can stop it (with whatever it started: it leads its own
process group), and a step that crashes its process does not take the worker down.
"""

from __future__ import annotations

import dataclasses
import os
import pickle
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from zplan.apply.strays import adopt_orphans
from zplan.apply.worker import ArtifactArg, ListArg, PathArg, StepResult, StepTask, TaskInput, run_step
from zplan.apply.workers import STOP_GRACE_SECONDS, describe_exit, format_seconds
from zplan.processes import descendants, start_ticks

# On a worker: the child process of each step running there, by its Dask task key, so that an
# interrupted apply can stop it (cancelling a Dask future does not stop a task already running).
_CHILDREN: dict[str, subprocess.Popen] = {}
_CHILDREN_LOCK = threading.Lock()


@dataclass
class RemoteResult:
    result: StepResult
    log: str  # the step's output as written on the worker
    worker: str  # the worker's address


def run_on_worker(task: StepTask, bundle: str | None, timeout: float | None) -> RemoteResult:
    """Run ``task`` here (a Dask worker); ``bundle`` is the digest of the uploaded project files,
    None when the project folder is shared."""
    from distributed import get_worker

    from zplan.cluster.bundle import unpacked

    worker = get_worker()
    base = Path(worker.local_directory)
    project_dir = unpacked(bundle, base) if bundle is not None else Path(task.project_dir)
    log_path = base / "zplan-logs" / f"{uuid.uuid4().hex}.log"
    local = dataclasses.replace(
        task, project_dir=str(project_dir), log_path=str(log_path),
        inputs={name: _localized(spec, task, project_dir) for name, spec in task.inputs.items()})
    result = _run_in_child(local, timeout, base, worker.get_current_task())
    if not result.ok and result.error and result.traceback is None:  # zplan's failure, not the step's: say where
        result.error = f"{result.error} [on Dask worker {worker.address}]"
    log = log_path.read_text(errors="replace") if log_path.exists() else ""
    log_path.unlink(missing_ok=True)
    return RemoteResult(result, log, worker.address)


def _run_in_child(task: StepTask, timeout: float | None, scratch: Path, key: str | None = None) -> StepResult:
    """Run the step in a child process (``main`` below): a Dask worker may be a daemon
    process, which may not use multiprocessing, and a child is what a timeout or
    ``stop_steps`` can stop."""
    folder = Path(tempfile.mkdtemp(prefix="zplan-task-", dir=scratch))
    task_file, result_file = folder / "task.pickle", folder / "result.pickle"
    task_file.write_bytes(pickle.dumps(task))
    started = time.time()
    child = subprocess.Popen([sys.executable, "-m", "zplan.apply.cluster_task", str(task_file), str(result_file)],
                             stdin=subprocess.PIPE, start_new_session=True)
    with _CHILDREN_LOCK:
        _CHILDREN[key or str(child.pid)] = child
    try:
        child.wait(timeout)
        error = None if result_file.exists() else describe_exit(child.returncode)
    except subprocess.TimeoutExpired:
        _stop_group(child)
        error = f"timed out after {format_seconds(timeout or 0)} and was stopped"
    finally:
        child.stdin.close()
    try:
        if error is None:
            return pickle.loads(result_file.read_bytes())
        return StepResult(task.address, False, error=error, started_at=started, finished_at=time.time())
    finally:
        with _CHILDREN_LOCK:
            _CHILDREN.pop(key or str(child.pid), None)
        shutil.rmtree(folder, ignore_errors=True)


def stop_steps(keys: list[str], grace: float) -> int:
    """On a worker (through ``Client.run``): stop the steps of the tasks ``keys`` running here,
    SIGTERM to each one's process group and SIGKILL ``grace`` s later, without waiting."""
    with _CHILDREN_LOCK:
        children = [_CHILDREN[k] for k in keys if k in _CHILDREN]
    for child in children:
        threading.Thread(target=_stop_group, args=(child, grace), daemon=True).start()
    return len(children)


def _stop_group(child: subprocess.Popen, grace: float = STOP_GRACE_SECONDS) -> None:
    """SIGTERM, then SIGKILL, to the step's child process, its group and every process below it (one
    in a session of its own too), those remembered before the child ends and they are re-parented."""
    below: dict[int, int] = {}
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, None)):
        for pid in descendants(child.pid):
            below.setdefault(pid, start_ticks(pid) or 0)
        _signal_remembered(below, sig)
        try:
            os.killpg(child.pid, sig)
        except ProcessLookupError:
            _signal_remembered(below, signal.SIGKILL)
            return
        try:
            child.wait(wait)
        except subprocess.TimeoutExpired:
            continue
        _signal_remembered(below, signal.SIGKILL)
        return


def _signal_remembered(pids: dict[int, int], sig: signal.Signals) -> None:
    for pid, ticks in pids.items():
        if ticks and start_ticks(pid) == ticks:  # still that process, not another one given its pid
            try:
                os.kill(pid, sig)
            except (ProcessLookupError, PermissionError):
                pass


def main(task_file: str, result_file: str) -> None:
    """In the child: run the task, write the result; die with the worker (its pipe on stdin closes)."""
    threading.Thread(target=_die_with_parent, daemon=True).start()
    adopt_orphans()  # what the step leaves running is stopped when it ends, as on a local worker
    result = run_step(pickle.loads(Path(task_file).read_bytes()))
    partial = Path(result_file + ".tmp")
    partial.write_bytes(pickle.dumps(result))
    os.replace(partial, result_file)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)  # not a normal shutdown: the watching thread holds stdin


def _die_with_parent() -> None:
    while os.read(0, 65536):  # returns empty at EOF: the worker closed the pipe, or died
        pass
    os.killpg(os.getpgrp(), signal.SIGKILL)


def _localized(spec: TaskInput, task: StepTask, project_dir: Path) -> TaskInput:
    """Input paths as this worker sees them: a data snapshot from the artifact store by its
    digest, a referenced (not snapshotted) file inside this worker's copy of the project."""
    if isinstance(spec, ListArg):
        return ListArg(tuple(_localized(i, task, project_dir) for i in spec.items), spec.keys)  # a map fan-in stays a map
    if isinstance(spec, ArtifactArg):
        return spec
    if spec.digest is None:
        return PathArg(str(project_dir / spec.path))
    from zplan.artifacts.store import ArtifactStore

    folder = ArtifactStore.from_url(task.artifact_store_url, project_dir).get(spec.digest)
    inner = folder / spec.path if spec.path else folder
    return PathArg(str(inner if inner.exists() else folder), spec.digest)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
