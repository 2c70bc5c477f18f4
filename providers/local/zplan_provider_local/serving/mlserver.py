"""MLServer as the local model server: its model repository on disk, and the few calls
of the Open Inference Protocol (V2) and of its repository API zplan makes.

One server per resource, one model per server. The repository folder holds the
server's ``settings.json`` and ``MODEL/model-settings.json``; swapping the model is
rewriting the latter and asking the server to load it again, which MLServer does
by loading the new model before unloading the old one (no request is dropped, and
when the new model cannot load the old one keeps serving).
"""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any, Mapping

from zplan.fsutil import atomic_write_text
from zplan.provider import ProviderError

# runtime name -> (MLServer implementation, the zplan materializer whose files it reads, the file)
RUNTIMES: dict[str, tuple[str, str, str]] = {
    "sklearn": ("mlserver_sklearn.SKLearnModel", "sklearn.pickle", "model.pkl"),
}


def model_file(model: Mapping[str, Any], runtime: str) -> Path:
    """The file the runtime loads, from an artifact reference; refused when it cannot serve it."""
    _, materializer, filename = RUNTIMES[runtime]
    if model.get("materializer") != materializer:
        raise ProviderError(
            f"the {runtime} runtime cannot load this model: it was stored by the "
            f"{model.get('materializer') or 'unknown'!r} materializer, and the {runtime} runtime serves "
            f"{materializer!r} artifacts (a scikit-learn estimator returned by the step)"
        )
    if not model.get("path"):
        raise ProviderError(
            f"the model artifact is not on this machine ({model.get('uri')}): a local_model_server serves "
            "models from a local artifact store (file://)"
        )
    path = Path(model["path"]) / filename
    if not path.is_file():
        raise ProviderError(f"the model artifact has no {filename} ({path}): it is missing or damaged")
    return path


def write_repository(folder: Path, name: str, port: int, runtime: str, model: Path) -> None:
    """The server's settings (this port only on 127.0.0.1, free ports for gRPC, no metrics
    server, inference in the server process) and the model's settings."""
    folder.mkdir(parents=True, exist_ok=True)
    settings = {
        "host": "127.0.0.1",
        "http_port": port,
        "grpc_port": free_port(),
        "metrics_endpoint": None,
        "parallel_workers": 0,
        "load_models_at_startup": True,
    }
    atomic_write_text(folder / "settings.json", json.dumps(settings, indent=2) + "\n")
    write_model_settings(folder, name, runtime, model)


def write_model_settings(folder: Path, name: str, runtime: str, model: Path) -> str:
    """Point the model's settings at ``model``; returns what they held before ("" when new)."""
    path = folder / name / "model-settings.json"
    before = path.read_text() if path.exists() else ""
    implementation = RUNTIMES[runtime][0]
    settings = {"name": name, "implementation": implementation, "parameters": {"uri": str(model)}}
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(settings, indent=2) + "\n")
    return before


def restore_model_settings(folder: Path, name: str, text: str) -> None:
    atomic_write_text(folder / name / "model-settings.json", text)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_in_use(port: int) -> bool:
    """Something listens there (a connection is accepted). Not a bind test: connections
    the old server just closed linger in TIME_WAIT and would make a free port look taken."""
    with socket.socket() as s:
        s.settimeout(1.0)
        return s.connect_ex(("127.0.0.1", port)) == 0


# -- the HTTP API ---------------------------------------------------------------------------------


def model_ready(url: str, name: str) -> bool:
    """``GET /v2/models/NAME/ready``: the server is up and the model loaded."""
    status, _ = _call("GET", f"{url}/v2/models/{name}/ready", timeout=2.0)
    return status == 200


def load(url: str, name: str, timeout: float) -> tuple[int, str | None]:
    """``POST /v2/repository/models/NAME/load``: the HTTP status (0: no answer in time, the server
    may still be loading it) and None when loaded, else why not."""
    status, body = _call("POST", f"{url}/v2/repository/models/{name}/load", b"", timeout)
    if status == 200:
        return status, None
    return status, f"HTTP {status}: {_last_line(body)}" if status else body


def infer(url: str, name: str, rows: list[list[float]], timeout: float = 30.0) -> list:
    """One V2 inference request with a FP64 matrix; returns the first output's data."""
    request = {"inputs": [{"name": "input-0", "shape": [len(rows), len(rows[0]) if rows else 0], "datatype": "FP64",
                           "data": [float(v) for row in rows for v in row]}]}
    status, body = _call("POST", f"{url}/v2/models/{name}/infer", json.dumps(request).encode(), timeout)
    if status != 200:
        raise RuntimeError(f"inference failed: HTTP {status}: {_last_line(body)}")
    return json.loads(body)["outputs"][0]["data"]


def _call(method: str, url: str, data: bytes | None = None, timeout: float = 5.0) -> tuple[int, str]:
    """(status, body); status 0 when nothing answered (body says why)."""
    import http.client
    import urllib.error
    import urllib.request

    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # this machine: never a proxy
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with opener.open(request, timeout=timeout) as resp:
            return resp.status, resp.read().decode(errors="replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")
    except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
        return 0, str(getattr(exc, "reason", exc))


def _last_line(body: str) -> str:
    """MLServer answers a failed load with a traceback: its last line says what failed."""
    try:
        return str(json.loads(body).get("error", body))
    except (ValueError, AttributeError):
        lines = [line for line in body.strip().splitlines() if line.strip()]
        return lines[-1] if lines else body
