"""``local_model_server``: a model artifact served over HTTP with the Open Inference
Protocol (V2), by MLServer running in its own environment (see ``runtime``).

Create starts the server on the given port (or a free one) and waits until the
model answers ``/v2/models/NAME/ready``; update swaps the model in the running
server (MLServer loads the new one before unloading the old: no request is
dropped, and a model that fails to load leaves the old one serving); delete stops
the process and waits for the port to be free. A server that died shows as drift.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import time
from pathlib import Path
from typing import Any, Mapping

from zplan.fsutil import atomic_write_text
from zplan.provider import Attribute, ProviderError, ResourceSchema

from .. import procs
from ..base import LocalResource, known, now_iso
from ..process import _inherited_env, _port_problems
from . import mlserver, runtime

STOP_GRACE = 10.0  # seconds between SIGTERM and SIGKILL
LOG_TAIL = 15
MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")  # a path segment of the model's URLs, and its folder
LOAD_FAILED = "Couldn't load model"  # what MLServer logs when a model fails to load at start
EXCEPTION_LINE = re.compile(r"[A-Za-z_][\w.]*(Error|Exception)(: .*)?$")  # a traceback's last line
LOAD_BACK_TIMEOUT = 120.0  # seconds for the server to load the model it served before
MODULE_PATH = re.compile(r'^(module\.[\w-]+(\[("([^"\\]|\\.)*"|\d+)\])?\.)+')  # module.m["x"]. before a name
STARTED = "server.json"  # beside the log: the attributes of the server started there


class LocalModelServer(LocalResource):
    schema = ResourceSchema(
        "local_model_server",
        {
            "model": Attribute("map", required=True, description="the artifact to serve, e.g. step.train.outputs.output"),
            "name": Attribute("string", optional=True, computed=True, force_new=True,
                              description="the model's name in /v2/models/NAME (default: the resource's name)"),
            "port": Attribute("number", optional=True, computed=True, force_new=True, description="default: a free port"),
            "runtime": Attribute("string", optional=True, default="sklearn", force_new=True,
                                 description=f"the MLServer runtime: {', '.join(mlserver.RUNTIMES)}"),
            "health_timeout": Attribute("number", optional=True, default=120, description="seconds to wait for the model to be ready"),
            "id": Attribute("string", computed=True, description="the pid"),
            "pid": Attribute("number", computed=True),
            "start_ticks": Attribute("number", computed=True, description="start time from /proc, tells a reused pid apart"),
            "url": Attribute("string", computed=True, description="http://127.0.0.1:PORT"),
            "infer_url": Attribute("string", computed=True, description="URL/v2/models/NAME/infer"),
            "model_digest": Attribute("string", computed=True, description="digest of the artifact being served"),
            "log_file": Attribute("string", computed=True),
            "started_at": Attribute("string", computed=True),
        },
        description="A model served on this machine over the Open Inference Protocol (V2) by MLServer.",
    )

    def check(self, inputs: Mapping[str, Any]) -> list[str]:
        errors = []
        model, run = inputs.get("model"), inputs.get("runtime")
        if known(model) and model is not None and not (isinstance(model, dict) and "digest" in model):
            errors.append("model must be a step output (model = step.NAME.outputs.OUTPUT)")
        if known(run) and run is not None and run not in mlserver.RUNTIMES:
            errors.append(f"runtime must be one of: {', '.join(mlserver.RUNTIMES)}; got {run!r}")
        name = inputs.get("name")
        if known(name) and name is not None and not (isinstance(name, str) and MODEL_NAME.fullmatch(name)):
            errors.append(f"name must be letters, digits, '.', '_' or '-' (it is the /v2/models/NAME of every URL), got {name!r}")
        timeout = inputs.get("health_timeout")
        if known(timeout) and timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0):
            errors.append(f"health_timeout must be a positive number of seconds, got {timeout!r}")
        return errors + _port_problems(inputs.get("port"))

    # -- create / read / update / delete ------------------------------------------------------
    def create(self, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
        return self._start(name, self._folder(name), self.settings(inputs))

    def _start(self, name: str, folder: Path, s: dict[str, Any]) -> dict[str, Any]:
        """A server for instance ``name`` with its repository in ``folder``."""
        model_name = s["name"] or _resource_name(name)
        model = mlserver.model_file(s["model"], s["runtime"])
        port = int(s["port"]) if s["port"] is not None else mlserver.free_port()
        if mlserver.port_in_use(port):
            raise ProviderError(f"port {port} is already in use on 127.0.0.1: choose another port, or stop what listens there")
        python = runtime.ensure(self.context.log)
        shutil.rmtree(folder, ignore_errors=True)
        mlserver.write_repository(folder, model_name, port, s["runtime"], model)
        log_file = folder / "server.log"
        proc = procs.spawn([str(python), "-m", "mlserver.cli.main", "start", str(folder)], folder, _server_env(), log_file)
        st = procs.stat(proc.pid)
        start_ticks = st.start_ticks if st else None
        url = f"http://127.0.0.1:{port}"
        attrs = {
            **s, "name": model_name, "port": port, "id": str(proc.pid), "pid": proc.pid, "start_ticks": start_ticks,
            "url": url, "infer_url": f"{url}/v2/models/{model_name}/infer", "model_digest": s["model"]["digest"],
            "log_file": str(log_file), "started_at": now_iso(),
        }
        try:  # a killed apply leaves the server running: this file lets the next plan adopt it
            atomic_write_text(folder / STARTED, json.dumps(attrs, sort_keys=True))
            failure = _wait_ready(url, model_name, proc.pid, float(s["health_timeout"]), log_file)
        except BaseException:  # interrupted: leave no server that no state will remember
            _abandon(proc.pid, start_ticks, folder)
            raise
        if failure:
            _abandon(proc.pid, start_ticks, folder)
            raise ProviderError(f"model server {name!r} {failure}")
        return attrs

    def read(self, attrs: Mapping[str, Any]) -> dict[str, Any] | None:
        pid = attrs.get("pid")
        if pid is None or not procs.is_running(int(pid), attrs.get("start_ticks")):
            return None  # the server died or was stopped by hand: drift, created again by the next apply
        return dict(attrs)

    def update(self, before: Mapping[str, Any], inputs: Mapping[str, Any]) -> dict[str, Any]:
        s = {**self.settings(inputs), "name": before["name"], "port": before["port"]}
        if not procs.is_running(int(before["pid"]), before.get("start_ticks")):
            return self._start(before["name"], Path(before["log_file"]).parent, s)  # died since the plan: start it again
        model = mlserver.model_file(s["model"], s["runtime"])
        folder = Path(before["log_file"]).parent
        previous = mlserver.write_model_settings(folder, before["name"], s["runtime"], model)
        status, failure = mlserver.load(before["url"], before["name"], float(s["health_timeout"]))
        if failure is None and not mlserver.model_ready(before["url"], before["name"]):
            failure = "the model is not ready after loading"
        if failure:
            mlserver.restore_model_settings(folder, before["name"], previous)  # a restart serves the old one too
            if status in (0, 200):  # the server may have loaded it (after zplan stopped waiting)
                raise ProviderError(_load_back(before["url"], before["name"], failure))
            raise ProviderError(f"the new model could not be loaded, the old one keeps serving: {failure}")
        after = {**before, **s, "model_digest": s["model"]["digest"]}
        atomic_write_text(folder / STARTED, json.dumps(after, sort_keys=True))  # what an adoption would find
        return after

    def delete(self, attrs: Mapping[str, Any]) -> None:
        procs.stop_recorded(attrs, STOP_GRACE)
        if attrs.get("log_file"):
            _forget(Path(attrs["log_file"]).parent, attrs.get("pid"))
        port = attrs.get("port")
        deadline = time.monotonic() + 10
        while port is not None and mlserver.port_in_use(int(port)) and time.monotonic() < deadline:
            time.sleep(0.1)  # the socket closes just after the process ends

    def import_(self, id_: str) -> dict[str, Any]:
        raise ProviderError("a local_model_server cannot be imported: let zplan start it")

    def leftover(self, name: str, inputs: Mapping[str, Any]) -> dict[str, Any] | None:
        """A server started for ``name`` by an apply killed before state recorded it, still running:
        adopted with the settings it was started with (the plan diffs them as usual). One whose
        model is not ready is adopted with its settings unknown, so the plan replaces it."""
        found = _started(self._folder(name))
        if found is None or not procs.is_running(found["pid"], found.get("start_ticks")):
            return None
        if not mlserver.model_ready(found["url"], found["name"]):  # its port and name stay: delete waits for the port
            found.update(model=None, runtime=None, health_timeout=None)
        return found

    def _folder(self, name: str) -> Path:
        return Path(self.context.state_dir) / "serving" / _folder_name(name)


def _resource_name(name: str) -> str:
    """The resource's name without its module path nor instance key (module.m["x"].api["eu"] -> api):
    what /v2/models/NAME is by default; each instance is a server of its own, so they need no names of their own."""
    return MODULE_PATH.sub("", name).split("[", 1)[0]


def _folder_name(name: str) -> str:
    """The instance's repository folder: MLServer finds model settings by a glob, which would read
    the brackets of api["eu"] as a pattern; a name that had to change carries a digest of the
    original, so instances "b/c" and "b_c" keep folders of their own."""
    cleaned = re.sub(r"[^A-Za-z0-9_.-]", "_", name).lstrip(".") or "_"
    return cleaned if cleaned == name else f"{cleaned}-{hashlib.sha256(name.encode()).hexdigest()[:8]}"


def _server_env() -> dict[str, str]:
    """zplan's environment without its own secrets (as a local_process gets it) nor what would
    point Python at zplan's own packages."""
    return {k: v for k, v in _inherited_env().items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}


def _wait_ready(url: str, name: str, pid: int, timeout: float, log_file: Path) -> str | None:
    """None once the model answers ready; else why not (the model did not load, the server
    exited, or it was too slow)."""
    deadline = time.monotonic() + timeout
    delay = 0.05
    while True:
        code = procs.exit_code(pid)
        if why := _load_error(log_file):
            hint = "; the server's environment has MLServer and its runtime only: serve an estimator of the library's own classes" \
                if why.startswith("ModuleNotFoundError") else ""
            return f"could not load the model: {why} (the server's log: {log_file}){hint}"
        if code is not None:
            return f"exited with code {code} before its model was ready; last log lines ({log_file}):\n{_tail(log_file)}"
        if mlserver.model_ready(url, name):
            return None
        if time.monotonic() >= deadline:
            return f"was not ready after {timeout:g} s; last log lines ({log_file}):\n{_tail(log_file)}"
        time.sleep(delay)
        delay = min(delay * 1.5, 0.5)


def _load_error(log_file: Path) -> str | None:
    """The exception a failed load logged (its last line: "ModuleNotFoundError: No module named 'steps'"),
    once the server has logged it whole; None while there is none."""
    try:
        text = log_file.read_text(errors="replace")
    except OSError:
        return None
    if LOAD_FAILED not in text:
        return None
    found = [line for line in text.splitlines() if EXCEPTION_LINE.match(line)]
    return found[-1].strip() if found else None


def _load_back(url: str, name: str, failure: str) -> str:
    """Load the recorded model again after a swap given up on, so the server serves what state
    records (the runtime loads in the server's event loop, one load after another: this one follows
    the abandoned one); what to say."""
    _, back = mlserver.load(url, name, LOAD_BACK_TIMEOUT)
    if back is None and mlserver.model_ready(url, name):
        return f"the new model was not loaded ({failure}); the old one was loaded again and keeps serving"
    return (f"the new model was not loaded ({failure}), nor the old one again ({back or 'not ready'}): the server "
            "may serve either; apply again to load the configured one, or destroy it")


def _started(folder: Path) -> dict[str, Any] | None:
    """What the server started in ``folder`` recorded there; None when nothing or a damaged file is."""
    try:
        found = json.loads((folder / STARTED).read_text())
    except (OSError, ValueError):
        return None
    shaped = isinstance(found, dict) and isinstance(found.get("pid"), int) and isinstance(found.get("start_ticks"), (int, type(None)))
    return found if shaped and all(isinstance(found.get(k), str) for k in ("url", "name")) else None


def _abandon(pid: int, start_ticks: int | None, folder: Path) -> None:
    procs.stop(pid, start_ticks, STOP_GRACE)
    _forget(folder, pid)


def _forget(folder: Path, pid: Any) -> None:
    """Remove the adoption file of the server ``pid`` (a replacement created before this one was
    deleted, in the same folder, keeps its own)."""
    found = _started(folder)
    if found is not None and found["pid"] == pid:
        (folder / STARTED).unlink(missing_ok=True)


def _tail(log_file: Path) -> str:
    try:
        lines = log_file.read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n".join(lines[-LOG_TAIL:])
