"""The step workers' forkserver and multiprocessing's resource tracker, forked from the `zplan apply`
process as it starts.

multiprocessing starts each of them as a new interpreter, which takes 60-130 ms here before it even
begins its own work (the interpreter, site's import hooks, multiprocessing itself), while the apply
plans on the other core. The first steps of a small apply waited for them. Forked from the command
before any thread runs and before the command imports much, they skip that boot: each runs
multiprocessing's own loop (``forkserver.main``, ``resource_tracker.main``), and ``adopt`` hands them
to multiprocessing in the apply's process as though multiprocessing had started them.

They wait to begin until the command knows it must plan (``go``): an apply the kept no-change plan
says has nothing to do kills them at exit (``end``) without having shared the cores with them. This
module is imported before anything else of the apply and uses only what the command has already
imported (``_socket`` is C, and cheap): such an apply pays two forks, not an import of multiprocessing.
"""

from __future__ import annotations

import os
import sys

# What the workers' forkserver imports once, for every worker it forks (zplan.apply.forkserver_exit:
# its own exit skips interpreter teardown): the worker, what it reads a task and stores outputs
# with (~10 ms a worker otherwise, before its first step), and ctypes, which it adopts orphans with.
WORKER_PRELOAD = ("zplan.apply.forkserver_exit", "zplan.apply.code_cache", "zplan.apply.worker", "zplan.artifacts.store",
                  "zplan.artifacts.local", "zplan.artifacts.materializers", "zplan.runtime", "zplan.state.checks", "ctypes")


class _Helpers:
    def __init__(self, folder: str, address: str) -> None:
        self.folder, self.address = folder, address
        self.server_pid = self.alive_w = self.tracker_pid = self.tracker_w = self.go_w = -1
        self.adopted = False


_helpers: _Helpers | None = None


def fork_now() -> bool:
    """Fork both helpers now, when this process can be forked safely (Linux, no other thread), has its
    standard streams (the descriptors of closed ones would go to the helpers' pipes, and the command's
    output with them) and a private folder for the server's socket can be made; whether they were."""
    global _helpers
    if _helpers is not None or not sys.platform.startswith("linux") or _threads_running():
        return False
    if None in (sys.stdin, sys.stdout, sys.stderr):
        return False
    import _socket

    base = os.environ.get("TMPDIR") or "/tmp"
    if len(base) > 60:  # (the socket's path would pass a Unix socket's 107 bytes)
        base = "/tmp"
    folder = os.path.join(base, f"zplan-{os.getpid()}-{os.urandom(6).hex()}")
    helpers = _Helpers(folder, os.path.join(folder, "forkserver"))
    try:
        os.mkdir(folder, 0o700)
    except OSError:
        return False
    listener = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        listener.bind(helpers.address)  # (a path still too long fails here: the pool starts its own)
        listener.listen()
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:
                stream.flush()  # (else what they hold would be written twice)
        go_r, helpers.go_w = os.pipe()
        try:
            helpers.tracker_pid, helpers.tracker_w = _fork(_track, go_r)
            helpers.server_pid, helpers.alive_w = _fork(_serve, go_r, listener.fileno())
        finally:
            os.close(go_r)
    except OSError:
        _end(helpers)
        return False
    finally:
        listener.close()
    _helpers = helpers
    return True


def go() -> None:
    """Let the forked helpers begin their work (imports, mostly): the command is going to plan. Until
    then they wait, so that an apply with nothing to do, which kills them, does not share the machine
    with their imports (~20 ms of its ~0.1 s on two cores)."""
    if _helpers is not None and _helpers.go_w >= 0:
        _quietly(os.close, _helpers.go_w)
        _helpers.go_w = -1


def end() -> None:
    """To run as the process exits: helpers no pool adopted are killed (the server may still be
    importing), and the socket's folder goes. Adopted ones are multiprocessing's to stop
    (zplan.apply.worker_launch), before this runs."""
    if _helpers is not None:
        _end(_helpers)


def adopt(forkserver, resource_tracker) -> None:
    """Hand the forked helpers, if any, to multiprocessing's ``_forkserver`` and ``_resource_tracker``
    (unless they run helpers of their own: the forked ones are then ended at exit)."""
    helpers = _helpers
    if helpers is None or helpers.adopted or not _adoptable(forkserver, resource_tracker):
        return
    go()
    with forkserver._lock, resource_tracker._lock:
        if forkserver._forkserver_pid is not None or resource_tracker._fd is not None:
            return
        forkserver._forkserver_address = helpers.address
        forkserver._forkserver_alive_fd = helpers.alive_w
        forkserver._forkserver_pid = helpers.server_pid
        resource_tracker._fd = helpers.tracker_w
        resource_tracker._pid = helpers.tracker_pid
        helpers.adopted = True


def _adoptable(forkserver, resource_tracker) -> bool:
    """Whether multiprocessing keeps its helpers as this module sets them: the attributes of CPython
    3.10-3.13. A forkserver that authenticates its clients (a key given as it starts) is never adopted."""
    return (all(hasattr(forkserver, a) for a in ("_lock", "_forkserver_address", "_forkserver_alive_fd", "_forkserver_pid"))
            and not hasattr(forkserver, "_forkserver_authkey")
            and all(hasattr(resource_tracker, a) for a in ("_lock", "_fd", "_pid")))


def _threads_running() -> bool:
    threading = sys.modules.get("threading")
    return threading is not None and threading.active_count() > 1


def _fork(run, go_r: int, *fds: int) -> tuple[int, int]:
    """Fork a child running ``run(*fds, r)`` on a new pipe's read end once ``go_r`` reads its end (``go``);
    its pid and the pipe's write end."""
    r, w = os.pipe()
    try:
        pid = os.fork()
    except OSError:
        os.close(r)
        os.close(w)
        raise
    if pid == 0:
        _child(run, go_r, (*fds, r))  # never returns
    os.close(r)
    return pid, w


def _child(run, go_r: int, fds: tuple[int, ...]) -> None:
    """In a forked child: made to look like the new interpreter multiprocessing would have started,
    then, once told to go, ``run(*fds)``, then out without the parent's exit handlers."""
    import gc
    import signal
    import types

    code = 1
    try:
        for sig in (signal.SIGINT, signal.SIGTERM):  # (both loops ignore them; set before they start)
            signal.signal(sig, signal.SIG_IGN)
        keep = sorted({0, 1, 2, go_r, *fds})
        for low, high in zip([-1, *keep], [*keep, 65536]):
            if low + 1 < high:  # (an empty range closes every descriptor: close_range(2) is given high - 1)
                os.closerange(low + 1, high)
        gc.enable()  # (the command starts with the collector paused: zplan.state.collector)
        sys.modules["__main__"] = types.ModuleType("__main__")
        sys.argv = ["-c"]
        os.read(go_r, 1)  # (the end of the pipe: ``go``, or the command gone)
        os.close(go_r)
        run(*fds)
        code = 0
    except SystemExit as stop:  # the forkserver's end: every client is gone
        code = stop.code if isinstance(stop.code, int) else 0
    finally:
        os._exit(code)


def _serve(listener_fd: int, alive_r: int) -> None:
    import signal

    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # (as a new forkserver: only Ctrl-C is ignored)
    from multiprocessing import forkserver

    forkserver.main(listener_fd, alive_r, list(WORKER_PRELOAD))


def _track(fd: int) -> None:
    from multiprocessing import resource_tracker

    resource_tracker.main(fd)


def _end(helpers: _Helpers) -> None:
    import signal

    if not helpers.adopted:
        for pid, fd in ((helpers.server_pid, helpers.alive_w), (helpers.tracker_pid, helpers.tracker_w)):
            if pid > 0:
                _quietly(os.kill, pid, signal.SIGKILL)  # (reaped once this process is gone)
            _quietly(os.close, fd)
        helpers.server_pid = helpers.tracker_pid = helpers.alive_w = helpers.tracker_w = -1
    go()  # (killed first: they never begin)
    _quietly(os.unlink, helpers.address)
    _quietly(os.rmdir, helpers.folder)


def _quietly(act, *args) -> None:
    try:
        act(*args)
    except OSError:
        pass
