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


def test_a_segfault_is_named(pool):
    with pytest.raises(WorkerDied, match="SIGSEGV"):
        pool.submit(segfault, None).result(30)


def test_a_task_past_its_timeout_is_stopped_with_its_children(pool, tmp_path):
    pid_file = tmp_path / "child.pid"
    future = pool.submit(spawn_child_and_wait, str(pid_file), timeout=1.0)
    with pytest.raises(TaskTimedOut, match="timed out after 1s"):
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


def test_workers_die_with_a_killed_parent(tmp_path):
    """kill -9 of the process that owns the pool leaves no worker or step running."""
    script = tmp_path / "owner.py"
    script.write_text(textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from zplan.apply.workers import WorkerPool
        from test_workers import spawn_child_and_wait, my_pid
        if __name__ == "__main__":
            pool = WorkerPool(1)
            print(pool.submit(my_pid, None).result(30), flush=True)
            pool.submit(spawn_child_and_wait, {str(tmp_path / 'child.pid')!r})
            time.sleep(600)
    """))
    owner = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    worker = int(owner.stdout.readline())
    deadline = time.monotonic() + 30
    while not (tmp_path / "child.pid").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    child = int((tmp_path / "child.pid").read_text())
    owner.kill()
    owner.wait()
    assert _wait_gone(worker) and _wait_gone(child)


def test_cancel_returns_at_once_and_the_pool_takes_new_tasks(pool):
    running = pool.submit(sleep_then, (600, "never"))
    time.sleep(0.3)
    started = time.monotonic()
    pool.cancel(grace=0.0)
    assert time.monotonic() - started < 1.0
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
    pool.shutdown(wait=False)
    pool.wait_closed()
    assert not any(_alive(pid) for pid in helpers)
    assert forkserver._forkserver._forkserver_pid is None and resource_tracker._resource_tracker._pid is None
    pool.wait_closed()  # again: nothing left to wait for
