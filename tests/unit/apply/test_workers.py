"""The supervised worker pool: one crash fails one task, timeouts stop whole process groups,
and nothing outlives the pool or a killed parent."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from zplan.apply.runner import WORKER_PRELOAD
from zplan.apply.workers import TaskCancelled, TaskTimedOut, WorkerDied, WorkerPool


def square(x: int) -> int:
    return x * x


def crash(code: int) -> None:
    os._exit(code)


def segfault(_: object) -> None:
    os.kill(os.getpid(), signal.SIGSEGV)


def sleep_then(arg: tuple[float, str]) -> str:
    time.sleep(arg[0])
    return arg[1]


def raise_value_error(_: object) -> None:
    raise ValueError("bad input")


def spawn_child_and_wait(pid_file: str) -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    Path(pid_file).write_text(str(child.pid))
    time.sleep(600)


def spawn_session_and_wait(pid_file: str) -> None:
    """A child in a session (and process group) of its own, out of reach of the worker's group."""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"], start_new_session=True)
    Path(pid_file).write_text(str(child.pid))
    time.sleep(600)


def spawn_daemon_and_wait(pid_file: str) -> None:
    """A daemon: started by a process that exits at once, in a session of its own (an orphan)."""
    _start_daemon(pid_file)
    time.sleep(600)


def _start_daemon(pid_file: str) -> None:
    code = (f"import subprocess, sys; child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'], "
            f"start_new_session=True); open({pid_file!r}, 'w').write(str(child.pid))")
    subprocess.run([sys.executable, "-c", code], check=True)


SPAWNERS = [spawn_child_and_wait, spawn_session_and_wait, spawn_daemon_and_wait]


def my_pid(_: object) -> int:
    return os.getpid()


def main_script(_: object) -> str | None:
    """The file multiprocessing ran as this process's main module (None: none was)."""
    return getattr(sys.modules.get("__mp_main__"), "__file__", None)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie still answers kill(0); it is gone for our purposes
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def _wait_gone(pid: int, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.05)
    return False


def _wait_for(pid_file: Path, seconds: float = 30.0) -> int:
    """The pid a step wrote into ``pid_file``, once written."""
    deadline = time.monotonic() + seconds
    while not (pid_file.exists() and pid_file.read_text()) and time.monotonic() < deadline:
        time.sleep(0.05)
    return int(pid_file.read_text())


@pytest.fixture
def pool():
    p = WorkerPool(2, grace=1.0, preload=WORKER_PRELOAD)  # as an apply makes it
    yield p
    p.shutdown(cancel=True)


def test_runs_tasks_and_reports_exceptions(pool):
    assert [pool.submit(square, i).result(30) for i in range(5)] == [0, 1, 4, 9, 16]
    with pytest.raises(ValueError, match="bad input"):
        pool.submit(raise_value_error, None).result(30)


def test_a_crashing_task_fails_alone_and_its_sibling_finishes(pool):
    sibling = pool.submit(sleep_then, (1.0, "finished"))
    time.sleep(0.3)  # the sibling is running when the other one dies
    crashed = pool.submit(crash, 7)
    with pytest.raises(WorkerDied, match="exited with code 7"):
        crashed.result(30)
    assert not sibling.done(), "the crash was reported as soon as it happened"
    assert sibling.result(30) == "finished"
    assert pool.submit(square, 3).result(30) == 9  # the pool carries on with a fresh worker


def crash_leaving_a_daemon(pid_file: str) -> None:
    _start_daemon(pid_file)
    os._exit(3)


def test_a_worker_that_dies_under_its_step_takes_the_daemon_the_step_started_with_it(pool, tmp_path):
    pid_file = tmp_path / "child.pid"
    with pytest.raises(WorkerDied, match="exited with code 3"):
        pool.submit(crash_leaving_a_daemon, str(pid_file)).result(60)
    assert _wait_gone(int(pid_file.read_text()))
    assert pool.submit(square, 3).result(30) == 9


def test_a_segfault_is_named(pool):
    with pytest.raises(WorkerDied, match="SIGSEGV"):
        pool.submit(segfault, None).result(30)


@pytest.mark.parametrize("spawn", SPAWNERS, ids=["child", "new session", "daemon"])
def test_a_task_past_its_timeout_is_stopped_with_its_children(pool, tmp_path, spawn):
    pid_file = tmp_path / "child.pid"
    future = pool.submit(spawn, str(pid_file), timeout=3.0)  # (a daemon's starter is a Python of its own)
    with pytest.raises(TaskTimedOut, match="timed out after 3s"):
        future.result(30)
    child = int(pid_file.read_text())
    assert _wait_gone(child), "the step's own child process was stopped too"
    assert pool.submit(square, 4).result(30) == 16


def test_shutdown_with_cancel_stops_running_and_queued_tasks(tmp_path):
    pool = WorkerPool(1, grace=1.0)
    running = pool.submit(sleep_then, (600, "never"))
    queued = pool.submit(square, 2)
    time.sleep(0.5)
    pids = pool.pids()
    started = time.monotonic()
    pool.shutdown(cancel=True)
    assert time.monotonic() - started < 10
    for f in (running, queued):
        with pytest.raises(TaskCancelled):
            f.result(1)
    assert all(_wait_gone(pid) for pid in pids)


def test_a_cancelled_task_is_stopped_with_the_daemon_it_started(tmp_path):
    pool = WorkerPool(1, grace=1.0, preload=WORKER_PRELOAD)
    pid_file = tmp_path / "child.pid"
    running = pool.submit(spawn_daemon_and_wait, str(pid_file))
    _wait_for(pid_file)
    pool.shutdown(cancel=True)
    with pytest.raises(TaskCancelled):
        running.result(1)
    assert _wait_gone(int(pid_file.read_text()))


@pytest.mark.parametrize("spawn", SPAWNERS, ids=["child", "new session", "daemon"])
def test_workers_die_with_a_killed_parent(tmp_path, spawn):
    """kill -9 of the process that owns the pool leaves no worker or step running."""
    script = tmp_path / "owner.py"
    script.write_text(textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from zplan.apply.workers import WorkerPool
        from test_workers import {spawn.__name__}, my_pid
        if __name__ == "__main__":
            pool = WorkerPool(1)
            print(pool.submit(my_pid, None).result(30), flush=True)
            pool.submit({spawn.__name__}, {str(tmp_path / 'child.pid')!r})
            time.sleep(600)
    """))
    owner = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    worker = int(owner.stdout.readline())
    child = _wait_for(tmp_path / "child.pid")
    owner.kill()
    owner.wait()
    assert _wait_gone(worker) and _wait_gone(child)


def test_cancel_returns_at_once_and_the_pool_takes_new_tasks(pool):
    running = pool.submit(sleep_then, (600, "never"))
    time.sleep(0.3)
    started = time.monotonic()
    pool.cancel(grace=0.0)
    # not after the 600 s task: the margin is for a loaded machine, where the first worker's start
    # (the forkserver's, under the pool's lock) can still be under way when cancel comes
    assert time.monotonic() - started < 15.0
    with pytest.raises(TaskCancelled, match="interrupted"):
        running.result(10)
    assert pool.submit(square, 5).result(30) == 25


def test_processes_a_step_left_behind_end_with_the_pool(tmp_path):
    pool = WorkerPool(1, grace=1.0)
    pid_file = tmp_path / "child.pid"
    assert pool.submit(start_child_and_return, str(pid_file)).result(30) == "returned"
    child = int(pid_file.read_text())
    assert _alive(child)
    pool.shutdown()
    assert not _alive(child), "gone when shutdown returns, not some time later"


def start_child_and_return(pid_file: str) -> str:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    Path(pid_file).write_text(str(child.pid))
    return "returned"


def pool_of_squares(n: int) -> list[int]:
    import multiprocessing

    with multiprocessing.Pool(2) as children:
        return children.map(square, range(n))


def start_process_and_return(pid_file: str) -> str:
    import multiprocessing

    child = multiprocessing.Process(target=time.sleep, args=(600,))
    child.start()
    Path(pid_file).write_text(str(child.pid))
    return "returned"


def test_a_step_may_start_processes_of_its_own_with_multiprocessing(pool):
    """A step using multiprocessing (a Pool, joblib, scikit-learn's n_jobs) runs as it would in a script:
    its worker is no daemon to it, which multiprocessing would refuse children (and joblib run on one core)."""
    assert pool.submit(pool_of_squares, 4).result(60) == [0, 1, 4, 9]


def test_a_multiprocessing_child_a_step_left_running_ends_with_the_pool(tmp_path):
    pool = WorkerPool(1, grace=1.0)
    pid_file = tmp_path / "child.pid"
    assert pool.submit(start_process_and_return, str(pid_file)).result(30) == "returned"
    child = int(pid_file.read_text())
    assert _alive(child)
    started = time.monotonic()
    pool.shutdown()
    assert not _alive(child) and time.monotonic() - started < 10


def test_tasks_one_after_another_use_one_worker_and_tasks_at_once_start_more(pool):
    """Workers start when a task finds none idle, up to the size: a linear chain of steps
    (each waiting for the one before) imports its libraries in one worker, not in ``size``."""
    assert len({pool.submit(my_pid, None).result(30) for _ in range(4)}) == 1
    assert len(pool.pids()) == 1
    both = [pool.submit(sleep_then, (1.0, "x")) for _ in range(2)]
    assert [f.result(30) for f in both] == ["x", "x"] and len(pool.pids()) == 2


def test_a_worker_does_not_run_the_parents_main_script(tmp_path):
    """The parent's script (the ``zplan`` command: the whole CLI) is not re-run in each worker."""
    script = tmp_path / "owner.py"
    marker = tmp_path / "imported-as"
    script.write_text(textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        if __name__ != "__main__":
            open({str(marker)!r}, "a").write(__name__ + "\\n")
        from zplan.apply.workers import WorkerPool
        from test_workers import main_script
        if __name__ == "__main__":
            pool = WorkerPool(1)
            print(pool.submit(main_script, None).result(30), flush=True)
            pool.shutdown()
    """))
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "None" and not marker.exists()


def _forkserver_torn_down(tmp_path, monkeypatch, preload: tuple[str, ...]) -> bool:
    """Run a pool whose forkserver first preloads a module recording its pid and, in an exit
    handler, its teardown; whether the forkserver's teardown ran once the pool is shut down."""
    (tmp_path / "mark_teardown.py").write_text(textwrap.dedent(
        f"""
        import atexit, os
        open(os.path.join({str(tmp_path)!r}, "forkserver"), "w").write(str(os.getpid()))
        atexit.register(lambda: open(os.path.join({str(tmp_path)!r}, f"torn-down-{{os.getpid()}}"), "w").close())
        """
    ))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(tmp_path), *sys.path]))  # the forkserver is a new Python
    pool = WorkerPool(1, preload=("mark_teardown", *preload))
    assert pool.submit(square, 3).result(30) == 9
    pool.shutdown()  # waits for the forkserver to exit
    forkserver = (tmp_path / "forkserver").read_text()
    return (tmp_path / f"torn-down-{forkserver}").exists()


def test_the_forkserver_skips_its_teardown_and_its_workers_exit_as_before(tmp_path, monkeypatch):
    assert not _forkserver_torn_down(tmp_path, monkeypatch, WORKER_PRELOAD)
    with pytest.raises(WorkerDied, match="exited with code 7"):  # a worker's own exit code still comes back
        with_exit_module = WorkerPool(1, preload=WORKER_PRELOAD)
        try:
            with_exit_module.submit(crash, 7).result(30)
        finally:
            with_exit_module.shutdown()


def test_without_the_exit_module_the_forkserver_is_torn_down(tmp_path, monkeypatch):
    assert _forkserver_torn_down(tmp_path, monkeypatch, ("zplan.apply.worker",))


def test_imported_anywhere_else_the_exit_module_does_nothing(tmp_path):
    script = textwrap.dedent(
        f"""
        import atexit, sys
        atexit.register(lambda: open({str(tmp_path / "torn-down")!r}, "w").close())
        import zplan.apply.forkserver_exit
        sys.exit(5)
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 5 and (tmp_path / "torn-down").exists()


def test_a_shutdown_not_waiting_leaves_the_helpers_exit_to_wait_closed():
    # An apply closes its pool, writes the run's last records, then waits for the helpers to exit.
    from multiprocessing import forkserver, resource_tracker

    pool = WorkerPool(1, preload=WORKER_PRELOAD)
    assert pool.submit(square, 4).result(30) == 16
    helpers = [forkserver._forkserver._forkserver_pid, resource_tracker._resource_tracker._pid]
    assert all(pid is not None and _alive(pid) for pid in helpers)
    workers = pool.pids()
    pool.shutdown(wait=False)  # idle: the workers' own exit is left to wait_closed too
    pool.wait_closed()
    assert workers and not any(_alive(pid) for pid in helpers + workers)
    assert not pool._thread.is_alive()
    assert forkserver._forkserver._forkserver_pid is None and resource_tracker._resource_tracker._pid is None
    pool.wait_closed()  # again: nothing left to wait for


LEAVES_RUNNING = """
import subprocess, sys


def leave(pid_file, how):
    if how == "daemon":  # started by a process that exits at once: an orphan, in a session of its own
        code = ("import subprocess; child = subprocess.Popen(['sleep', '600'], start_new_session=True); "
                f"open({pid_file!r}, 'w').write(str(child.pid))")
        subprocess.run([sys.executable, "-c", code], check=True)
    else:
        child = subprocess.Popen(["sleep", "600"], start_new_session=how != "child")
        open(pid_file, "w").write(str(child.pid))
    if how == "fails":
        raise ValueError("failed after starting it")
    return "returned"
"""

USES_HELPERS = """
import multiprocessing


def square(x):
    return x * x


def closed_pool():
    pool = multiprocessing.Pool(2)  # closed, never joined: its processes end by themselves
    squares = pool.map(square, range(4))
    pool.close()
    return squares


def forkserver_pool():
    with multiprocessing.get_context("forkserver").Pool(2) as pool:
        return pool.map(square, range(4))


def joblib_pool():
    from joblib import Parallel, delayed

    return Parallel(n_jobs=2)(delayed(square)(x) for x in range(4))


def beam_pipeline():
    import apache_beam as beam

    with beam.Pipeline(options=beam.options.pipeline_options.PipelineOptions(["--direct_num_workers=2"])) as p:
        p | beam.Create(range(4)) | beam.Map(square)  # on threads of Beam's shared pool, left idle for the next
    return [square(x) for x in range(4)]


def dask_compute():
    import dask

    return list(dask.compute(*(dask.delayed(square)(x) for x in range(4))))  # on dask's pool, kept for the next


def fsspec_loop():
    import fsspec.asyn

    fsspec.asyn.get_loop()  # the event loop thread S3 and GCS filesystems share
    return [square(x) for x in range(4)]
"""


def _step(project: Path, source: str, function: str, params: dict, log: Path):
    from zplan.apply.worker import StepTask

    return StepTask(address=f"pipeline.p.step.{function}", project_dir=str(project), source_file=source, function=function,
                    params=params, inputs={}, declared_outputs=None, artifact_store_url="file://.zplan/artifacts", run_id=1,
                    log_path=str(log))


@pytest.mark.parametrize("how", ["child", "new session", "daemon", "fails"])
def test_what_a_step_leaves_running_is_stopped_when_it_ends_and_said(tmp_path, how):
    """Its own process group or not, an orphan or not: nothing a step started runs on beside the next step."""
    from zplan.apply.worker import run_step

    project = tmp_path / "project"
    project.mkdir()
    (project / "steps_leave.py").write_text(LEAVES_RUNNING)
    pid_file, log = tmp_path / "child.pid", tmp_path / "leave.log"
    pool = WorkerPool(1, grace=1.0, preload=WORKER_PRELOAD)
    try:
        result = pool.submit(run_step, _step(project, "steps_leave.py", "leave", {"pid_file": str(pid_file), "how": how}, log)).result(60)
        child = int(pid_file.read_text())
        assert not _alive(child), "stopped before the step's result came back"
        assert result.ok == (how != "fails") and result.left_running == (f"sleep (pid {child})",)
        assert f"the step left 1 process running when it ended, stopped now: sleep (pid {child})" in log.read_text()
        again = pool.submit(run_step, _step(project, "steps_leave.py", "leave", {"pid_file": str(pid_file), "how": "child"}, log)).result(60)
        assert again.left_running == (f"sleep (pid {int(pid_file.read_text())})",)  # the same worker, still adopting
    finally:
        pool.shutdown(cancel=True)


def test_a_result_from_a_worker_of_an_older_zplan_says_nothing_was_left_running():
    """A Dask worker or a training job's image may run a zplan from before the field existed."""
    import pickle

    from zplan.apply.worker import StepResult

    old = StepResult("pipeline.p.step.s", ok=True)
    del old.__dict__["left_running"]
    assert pickle.loads(pickle.dumps(old)).left_running == ()


def test_what_a_step_leaves_running_on_a_dask_worker_is_stopped_when_it_ends(tmp_path):
    """There the step runs in a child process of the Dask worker, which exits once the step has ended."""
    from zplan.apply.cluster_task import _run_in_child

    project = tmp_path / "project"
    project.mkdir()
    (project / "steps_leave.py").write_text(LEAVES_RUNNING)
    pid_file = tmp_path / "child.pid"
    result = _run_in_child(_step(project, "steps_leave.py", "leave", {"pid_file": str(pid_file), "how": "child"}, tmp_path / "leave.log"),
                           60.0, tmp_path)
    child = int(pid_file.read_text())
    assert result.ok and result.left_running == (f"sleep (pid {child})",)
    assert not _alive(child)


@pytest.mark.parametrize("spawn", ["spawn_session_and_wait", "spawn_daemon_and_wait"])
def test_a_step_past_its_timeout_on_a_dask_worker_is_stopped_with_what_left_its_group(tmp_path, spawn):
    from zplan.apply.cluster_task import _run_in_child

    project = tmp_path / "project"
    project.mkdir()
    (project / "steps_spawn.py").write_text(f"import sys\nsys.path.insert(0, {str(Path(__file__).parent)!r})\n"
                                            f"from test_workers import {spawn}\n")
    pid_file = tmp_path / "child.pid"
    result = _run_in_child(_step(project, "steps_spawn.py", spawn, {"pid_file": str(pid_file)}, tmp_path / "spawn.log"),
                           5.0, tmp_path)
    assert not result.ok and result.error == "timed out after 5s and was stopped"
    assert _wait_gone(_wait_for(pid_file))


@pytest.mark.parametrize("function", ["closed_pool", "forkserver_pool", "joblib_pool", "fsspec_loop", "beam_pipeline",
                                      "dask_compute"])
def test_the_processes_a_worker_keeps_for_its_steps_are_not_taken_for_strays(tmp_path, function):
    """multiprocessing's forkserver and resource tracker, joblib's reusable pool, fsspec's event loop, Beam's
    shared thread pool, dask's threaded scheduler: used again by the next step in the worker; a Pool closed but
    not joined ends by itself."""
    from zplan.apply.worker import run_step

    project = tmp_path / "project"
    project.mkdir()
    (project / "steps_helpers.py").write_text(USES_HELPERS)
    pool = WorkerPool(1, grace=1.0, preload=WORKER_PRELOAD)
    try:
        results = [pool.submit(run_step, _step(project, "steps_helpers.py", function, {}, tmp_path / f"{i}.log")).result(120)
                   for i in range(2)]
    finally:
        pool.shutdown(cancel=True)
    assert all(r.ok for r in results), [r.error for r in results]
    assert [r.outputs["output"]["value"] for r in results] == [[0, 1, 4, 9]] * 2
    assert [r.left_running for r in results] == [(), ()]
    assert [r.left_threads for r in results] == [(), ()]


LEAVES_THREADS = """
import concurrent.futures, os, threading, time


def _write(path):
    while True:  # what a thread left running does in later steps: write files, change globals, hold locks
        with open(path, "a") as f:
            f.write(".")
        time.sleep(0.001)


def leave_thread(path, daemon):
    threading.Thread(target=_write, args=(path,), name="writer", daemon=daemon).start()
    return os.getpid()


def leave_pool(path):
    pool = concurrent.futures.ThreadPoolExecutor(2, thread_name_prefix="kept")
    pool.submit(_write, path)
    globals()["pool"] = pool  # never shut down
    return os.getpid()


def drop_pool():
    concurrent.futures.ThreadPoolExecutor(2).submit(time.sleep, 0).result()  # not shut down, but dropped: its threads end
    return os.getpid()


def written_meanwhile(path):
    before = os.path.getsize(path)
    time.sleep(0.05)
    return [os.getpid(), os.path.getsize(path) - before]
"""


@pytest.mark.parametrize("how", ["thread", "daemon thread", "thread pool"])
def test_a_worker_whose_step_left_threads_running_runs_no_other_step_and_says_so(tmp_path, how):
    """Python cannot stop a thread: the next step runs in a new worker, where nothing changes its globals."""
    from zplan.apply.worker import run_step

    project = tmp_path / "project"
    project.mkdir()
    (project / "steps_threads.py").write_text(LEAVES_THREADS)
    path = str(tmp_path / "written")
    leave, params = ("leave_pool", {"path": path}) if how == "thread pool" else ("leave_thread", {"path": path, "daemon": how == "daemon thread"})
    pool = WorkerPool(1, grace=1.0, preload=WORKER_PRELOAD)
    try:
        left = pool.submit(run_step, _step(project, "steps_threads.py", leave, params, tmp_path / "leave.log")).result(60)
        after = pool.submit(run_step, _step(project, "steps_threads.py", "written_meanwhile", {"path": path}, tmp_path / "read.log")).result(60)
    finally:
        pool.shutdown(cancel=True)
    assert left.ok and after.ok, (left.error, after.error)
    name = "kept_0" if how == "thread pool" else "writer"
    assert left.left_threads == (name,) and after.left_threads == ()
    assert after.outputs["output"]["value"][0] != left.outputs["output"]["value"]  # a new worker
    assert after.outputs["output"]["value"][1] == 0  # and nothing of the earlier step's runs on
    assert (f"the step left 1 thread running when it ended, which cannot be stopped: its worker ends after it, "
            f"and the next step starts in a new one: {name}") in (tmp_path / "leave.log").read_text()
    assert not _alive(left.outputs["output"]["value"])


def test_threads_a_step_ended_or_dropped_keep_its_worker_for_the_next_step(tmp_path):
    from zplan.apply.worker import run_step

    project = tmp_path / "project"
    project.mkdir()
    (project / "steps_threads.py").write_text(LEAVES_THREADS)
    pool = WorkerPool(1, grace=1.0, preload=WORKER_PRELOAD)
    try:
        results = [pool.submit(run_step, _step(project, "steps_threads.py", "drop_pool", {}, tmp_path / f"{i}.log")).result(60)
                   for i in range(2)]
    finally:
        pool.shutdown(cancel=True)
    assert [r.left_threads for r in results] == [(), ()]
    assert results[0].outputs["output"]["value"] == results[1].outputs["output"]["value"]  # the same worker
