"""``local_dask_cluster``: a Dask scheduler and N workers as processes on this machine.

Each worker runs in its own working folder, as a separate machine would, so step code
reaches it the way it reaches a real cluster (shipped by the dask orchestrator), never
through the project folder. The cluster is healthy once a client sees every worker.
The scheduler is told not to retry a task whose worker died (``allowed-failures`` 0):
the dask orchestrator retries such a step once itself, so the count is the same
whether the cluster is this one or another.
"""

from __future__ import annotations

import shutil
import socket
import sys
import time
from pathlib import Path
from typing import Any, Mapping

from zplan.provider import Attribute, ProviderError, ResourceSchema

from . import procs
from .base import LocalResource, known
from .process import _spawn_logged, _tail

STOP_GRACE = 5.0
SCHEDULER_ENV = {"DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "0"}


class LocalDaskCluster(LocalResource):
    schema = ResourceSchema(
        "local_dask_cluster",
        {
            "workers": Attribute("number", optional=True, default=2, force_new=True, description="worker processes"),
            "threads_per_worker": Attribute("number", optional=True, default=1, force_new=True),
            "memory_limit": Attribute("string", optional=True, force_new=True, description='per worker, e.g. "2GiB" (Dask\'s default: a share of the machine)'),
            "worker_resources": Attribute("map", optional=True, force_new=True, description="declared per worker, e.g. { GPU = 1 }"),
            "folder": Attribute("string", optional=True, force_new=True, description="defaults to .zplan/dask/NAME"),
            "health_timeout": Attribute("number", optional=True, default=60, description="seconds to wait for every worker"),
            "id": Attribute("string", computed=True),
            "scheduler_address": Attribute("string", computed=True, description="tcp://127.0.0.1:PORT"),
            "dashboard_url": Attribute("string", computed=True),
            "pids": Attribute("list", computed=True, description="scheduler first, then the workers"),
            "start_ticks": Attribute("list", computed=True),
        },
        description="A Dask scheduler and workers (each in its own folder) started and watched on this machine.",
    )

    def check(self, inputs: Mapping[str, Any]) -> list[str]:
        errors = []
        for key in ("workers", "threads_per_worker", "health_timeout"):
            value = inputs.get(key)
            if known(value) and value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or value < 1):
                errors.append(f"{key} must be a positive number, got {value!r}")
        resources = inputs.get("worker_resources")
        if known(resources) and resources is not None and not (
                isinstance(resources, dict) and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in resources.values())):
            errors.append("worker_resources must map names to numbers, e.g. { GPU = 1 }")
        return errors

    def create(self, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
        if problems := self.check(inputs):
            raise ProviderError("; ".join(problems))
        s = self.settings(inputs)
        folder = self.resolve(s["folder"] or f".zplan/dask/{name}")
        port, dashboard = _free_port(), _free_port()
        address = f"tcp://127.0.0.1:{port}"
        started: list[Any] = []
        try:
            started.append(self._start(folder / "scheduler", _dask_argv("scheduler", "--host", "127.0.0.1", "--port", str(port),
                                                                         "--dashboard-address", f"127.0.0.1:{dashboard}"), SCHEDULER_ENV))
            for i in range(int(s["workers"])):
                started.append(self._start(folder / f"worker-{i}", _worker_argv(address, name, i, s, folder / f"worker-{i}"), {}))
            self._wait_healthy(address, int(s["workers"]), float(s["health_timeout"]), started)
        except BaseException:
            for proc, ticks, _log, _offset in reversed(started):
                procs.stop(proc.pid, ticks, STOP_GRACE)
            raise
        return {
            **s, "id": address, "scheduler_address": address,
            "dashboard_url": f"http://127.0.0.1:{dashboard}/status",
            "pids": [p.pid for p, *_ in started], "start_ticks": [t for _p, t, *_ in started],
        }

    def _start(self, cwd: Path, argv: list[str], env: Mapping[str, str]):
        cwd.mkdir(parents=True, exist_ok=True)
        log = cwd / "process.log"
        proc, offset = _spawn_logged(argv, cwd, env, log)
        st = procs.stat(proc.pid)
        return proc, st.start_ticks if st else None, log, offset

    def _wait_healthy(self, address: str, workers: int, timeout: float, started: list) -> None:
        try:
            _wait_for_workers(address, workers, timeout)
        except (TimeoutError, OSError) as exc:
            logs = "\n".join(f"{log} (last lines):\n{_tail(log, offset)}" for proc, _t, log, offset in started
                             if procs.exit_code(proc.pid) is not None)
            raise ProviderError(f"the Dask cluster at {address} did not become healthy ({exc})"
                                + (f"; processes that exited:\n{logs}" if logs else "")) from None

    def read(self, attrs: Mapping[str, Any]) -> dict[str, Any] | None:
        """Gone when its scheduler is gone (a lost worker is the scheduler's business: steps go elsewhere)."""
        pids, ticks = attrs.get("pids") or [], attrs.get("start_ticks") or []
        if not pids or not procs.is_running(int(pids[0]), ticks[0] if ticks else None):
            return None
        return dict(attrs)

    def update(self, before: Mapping[str, Any], inputs: Mapping[str, Any]) -> dict[str, Any]:
        return {**before, **self.settings(inputs)}

    def delete(self, attrs: Mapping[str, Any]) -> None:
        pids, ticks = list(attrs.get("pids") or []), list(attrs.get("start_ticks") or [])
        for pid, tick in reversed(list(zip(pids, ticks + [None] * (len(pids) - len(ticks))))):  # workers, then the scheduler
            procs.stop_recorded({"pid": pid, "start_ticks": tick}, STOP_GRACE)


def _worker_argv(address: str, name: str, i: int, s: Mapping[str, Any], folder: Path) -> list[str]:
    argv = _dask_argv("worker", address, "--name", f"{name}-{i}", "--nthreads", str(int(s["threads_per_worker"])),
                      "--local-directory", str(folder), "--dashboard-address", "127.0.0.1:0", "--host", "127.0.0.1")
    if s["memory_limit"]:
        argv += ["--memory-limit", str(s["memory_limit"])]
    if s["worker_resources"]:
        argv += ["--resources", ",".join(f"{k}={v:g}" for k, v in s["worker_resources"].items())]
    return argv


def _dask_argv(*args: str) -> list[str]:
    beside = Path(sys.executable).parent / "dask"  # the one installed with zplan
    found = str(beside) if beside.exists() else shutil.which("dask")
    if not found:
        raise ProviderError("local_dask_cluster needs Dask: install zplan with the dask extra (pip install 'zplan[dask]')")
    return [found, *args]


def _wait_for_workers(address: str, workers: int, timeout: float) -> None:
    """Until a client sees every worker; connecting is retried (a handshake can die while the
    scheduler starts)."""
    from distributed import Client

    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"fewer than {workers} workers after {timeout:g} s")
        try:
            with Client(address, timeout=min(left, 10.0), set_as_default=False) as client:
                client.wait_for_workers(workers, timeout=max(1.0, deadline - time.monotonic()))
                return
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException:  # noqa: BLE001 - refused, timed out, or CancelledError during the handshake
            time.sleep(0.5)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
