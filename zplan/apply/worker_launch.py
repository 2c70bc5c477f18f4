"""How a step worker process is started, and how the pool's helper processes are stopped.

multiprocessing re-runs the parent's ``__main__`` script in every new process (as ``__mp_main__``),
so that functions defined there can be unpickled. A worker only ever runs zplan's module-level
functions, and the parent's script is the ``zplan`` command: each worker would import the whole CLI
(typer, click, rich: ~40 ms of CPU) and the step would run with it loaded. The launch below is
CPython's own, given the preparation data without the main script.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.popen_forkserver as _mp_popen
import multiprocessing.spawn as _mp_spawn
import types
from typing import Any, Callable

from zplan.apply import forkserver_early
from zplan.apply.forkserver_early import WORKER_PRELOAD  # (callers import it from here)


class _SpawnWithoutMain:
    """``multiprocessing.spawn`` as the worker's launch sees it."""

    def __getattr__(self, name: str) -> Any:
        return getattr(_mp_spawn, name)

    @staticmethod
    def get_preparation_data(name: str) -> dict:
        data = _mp_spawn.get_preparation_data(name)
        data.pop("init_main_from_path", None)
        data.pop("init_main_from_name", None)
        return data


def _launch_without_main() -> Callable | None:
    """``popen_forkserver.Popen._launch`` reading ``spawn`` from ``_SpawnWithoutMain`` (None where
    that method is not a plain function using ``spawn``: then the stock launch is used)."""
    launch = getattr(_mp_popen.Popen, "_launch", None)
    code = getattr(launch, "__code__", None)
    if code is None or code.co_freevars or "spawn" not in code.co_names:
        return None
    return types.FunctionType(code, {**vars(_mp_popen), "spawn": _SpawnWithoutMain()}, launch.__name__, launch.__defaults__)


class _WorkerPopen(_mp_popen.Popen):
    _launch = _launch_without_main() or _mp_popen.Popen._launch


class WorkerProcess(multiprocessing.context.ForkServerProcess):
    @staticmethod
    def _Popen(process_obj: Any) -> _WorkerPopen:
        _adopt_early_server()
        return _WorkerPopen(process_obj)


def stop_helper_processes() -> None:
    """End the forkserver and the resource tracker now: left to notice that their parent is
    gone, they outlive the command by a moment (or by much more, under a killed parent's
    own supervisor). Another pool starts them again."""
    from multiprocessing import forkserver, resource_tracker

    for helper in (forkserver._forkserver, resource_tracker._resource_tracker):
        stop = getattr(helper, "_stop", None)  # CPython's own, used by its tests; absent elsewhere
        if stop is not None:
            try:
                stop()
            except (OSError, ChildProcessError):
                pass


def start_forkserver(preload: tuple[str, ...]) -> None:
    """Start the forkserver the pools of this process fork their workers from, importing ``preload``
    (``WorkerPool.warm``'s work, before a pool exists); not waiting for it to boot."""
    multiprocessing.get_context("forkserver").set_forkserver_preload(list(preload))
    ensure_forkserver()


def ensure_forkserver() -> None:
    """multiprocessing's ``forkserver.ensure_running``, taking the server forked as the command started
    (``zplan.apply.forkserver_early``) if there is one."""
    from multiprocessing import forkserver

    _adopt_early_server()
    forkserver.ensure_running()


def _adopt_early_server() -> None:
    from multiprocessing import forkserver, resource_tracker

    _socket_folder_that_fits()
    forkserver_early.adopt(forkserver._forkserver, resource_tracker._resource_tracker)


def _socket_folder_that_fits() -> None:
    """multiprocessing listens for the forkserver's clients on a Unix socket in a new ``pymp-*`` folder of the
    temporary folder. Under a TMPDIR longer than ~75 bytes that path passes a socket's limit (107), and no worker
    could start ("AF_UNIX path too long"): the folder is then made in /tmp (the socket's only: steps keep TMPDIR)."""
    import shutil
    import tempfile
    from multiprocessing import process, util

    config = process.current_process()._config
    if config.get("tempdir") is not None or len(tempfile.gettempdir()) + len("/pymp-12345678/listener-12345678") <= 107:
        return
    for base in ("/tmp", "/var/tmp", "/dev/shm"):
        try:
            folder = tempfile.mkdtemp(prefix="pymp-", dir=base)
        except OSError:
            continue
        util.Finalize(None, shutil.rmtree, args=(folder, True), exitpriority=-100)  # (as multiprocessing's own)
        config["tempdir"] = folder
        return
