"""The workers' forkserver and resource tracker forked as `zplan apply` starts (zplan.apply.forkserver_early):
the pool forks its workers from them as from multiprocessing's own, the workers look like workers of a
new interpreter, and what no pool adopted is gone at exit, with its socket's folder.

Each case runs in a process of its own: the fork needs a process without threads (a test runner has some)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="forked early only on Linux")

PROBE = '''
import gc, os, sys
from multiprocessing import shared_memory


def probe(_):
    memory = shared_memory.SharedMemory(create=True, size=16)  # registered with the resource tracker
    memory.close()
    memory.unlink()
    return {"ppid": os.getppid(), "gc": gc.isenabled(), "main": sorted(vars(sys.modules["__main__"])),
            "argv": sys.argv[1:]}
'''


@pytest.fixture
def tmp_path(short_tmp):
    """(Each test's TMPDIR, where the forkserver's socket lies: a short path.)"""
    return short_tmp


def _run(tmp_path: Path, body: str) -> dict:
    (tmp_path / "probe_mod.py").write_text(PROBE)
    script = ("import atexit, json, os, sys\nsys.argv = ['zplan', 'apply', '-x']\n"
              "from zplan.apply import forkserver_early\natexit.register(forkserver_early.end)  # (as the command does)\n"
              + textwrap.dedent(body))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), *sys.path]), TMPDIR=str(tmp_path))
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr and "leaked" not in done.stderr, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return True
    return state == "Z"  # (reaped by its parent's parent in a moment)


def test_the_pool_forks_its_workers_from_the_forked_server(tmp_path):
    out = _run(tmp_path, """
        import gc
        gc.disable()  # as the command is when it forks (zplan.state.collector)
        from zplan.apply import forkserver_early
        assert forkserver_early.fork_now()
        gc.enable()
        from zplan.apply.workers import WorkerPool
        from zplan.apply.worker_launch import WORKER_PRELOAD
        import probe_mod
        pool = WorkerPool(2, preload=WORKER_PRELOAD)
        seen = [pool.submit(probe_mod.probe, i).result(timeout=60) for i in range(4)]
        pool.shutdown()
        helpers = forkserver_early._helpers
        print(json.dumps({"seen": seen, "server": helpers.server_pid, "tracker": helpers.tracker_pid,
                          "folder": helpers.folder, "adopted": helpers.adopted}))
    """)
    assert out["adopted"]
    assert {s["ppid"] for s in out["seen"]} == {out["server"]}
    assert all(s["gc"] for s in out["seen"]), "workers run with the collector on"
    assert all(s["argv"] == ["apply", "-x"] for s in out["seen"])
    assert {name for s in out["seen"] for name in s["main"]} <= {"__name__", "__doc__", "__package__", "__loader__", "__spec__"}
    assert _gone(out["server"]) and _gone(out["tracker"])
    assert not Path(out["folder"]).exists()


def test_helpers_no_pool_adopted_are_killed_at_exit(tmp_path):
    out = _run(tmp_path, """
        from zplan.apply import forkserver_early
        assert forkserver_early.fork_now()
        assert not forkserver_early.fork_now()  # (once)
        helpers = forkserver_early._helpers
        print(json.dumps({"server": helpers.server_pid, "tracker": helpers.tracker_pid, "folder": helpers.folder}))
    """)
    assert _gone(out["server"]) and _gone(out["tracker"])
    assert not Path(out["folder"]).exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("zplan-")]


def test_a_pool_with_helpers_of_its_own_leaves_the_forked_ones_unadopted(tmp_path):
    out = _run(tmp_path, """
        from multiprocessing import forkserver
        from zplan.apply.worker_launch import WORKER_PRELOAD, start_forkserver
        start_forkserver(WORKER_PRELOAD)  # multiprocessing's own, started first
        from zplan.apply import forkserver_early
        assert forkserver_early.fork_now()
        own = forkserver._forkserver._forkserver_pid
        from zplan.apply.workers import WorkerPool
        import probe_mod
        pool = WorkerPool(1, preload=WORKER_PRELOAD)
        seen = pool.submit(probe_mod.probe, 0).result(timeout=60)
        pool.shutdown()
        helpers = forkserver_early._helpers
        print(json.dumps({"seen": seen, "own": own, "server": helpers.server_pid, "adopted": helpers.adopted,
                          "folder": helpers.folder}))
    """)
    assert not out["adopted"] and out["seen"]["ppid"] == out["own"] != out["server"]
    assert _gone(out["server"]) and not Path(out["folder"]).exists()


def test_no_fork_while_another_thread_runs(tmp_path):
    out = _run(tmp_path, """
        import threading
        stop = threading.Event()
        threading.Thread(target=stop.wait).start()
        from zplan.apply import forkserver_early
        forked = forkserver_early.fork_now()
        stop.set()
        print(json.dumps({"forked": forked, "helpers": forkserver_early._helpers is None}))
    """)
    assert out == {"forked": False, "helpers": True}


def test_the_helpers_begin_only_when_told_to(tmp_path):
    # (CPU time in ns, from /proc/PID/schedstat: none more while they wait, their imports once they go)
    out = _run(tmp_path, """
        import time
        from zplan.apply import forkserver_early
        assert forkserver_early.fork_now()
        helpers = forkserver_early._helpers
        cpu = lambda pid: int(open(f"/proc/{pid}/schedstat").read().split()[0])
        time.sleep(0.3)
        settled = cpu(helpers.server_pid)
        time.sleep(0.5)
        waited = cpu(helpers.server_pid)
        forkserver_early.go()
        time.sleep(1.0)
        print(json.dumps({"settled": settled, "waited": waited, "going": cpu(helpers.server_pid)}))
    """)
    assert out["waited"] - out["settled"] < 2_000_000, out  # blocked: half a second without work
    assert out["going"] - out["waited"] > 10_000_000, out  # its preload (~25-45 ms here)
