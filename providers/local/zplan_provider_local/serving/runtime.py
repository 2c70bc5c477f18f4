"""The model server's own Python environment, created once with uv and reused.

MLServer needs protobuf >= 5 and zplan's ML Metadata needs < 5, so the server
cannot live in zplan's environment; it gets its own, as a container would in
production. The pins are ``requirements.txt`` beside this file; the environment's
folder is named after their hash, so a change of pins makes a new one. It is
created under a lock (two applies at once build it once), and marked complete
only at the end: a half-made environment (offline, interrupted) is made again.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

from zplan.provider import ProviderError

REQUIREMENTS = Path(__file__).with_name("requirements.txt")
COMPLETE = ".zplan-complete"
CREATE_TIMEOUT = 900  # seconds for uv to download and install, on a slow line


def runtimes_dir() -> Path:
    """Where runtime environments live: ``ZPLAN_RUNTIMES_DIR``, else the user's cache."""
    if os.environ.get("ZPLAN_RUNTIMES_DIR"):
        return Path(os.environ["ZPLAN_RUNTIMES_DIR"])
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(cache) / "zplan" / "runtimes"


def environment_dir(requirements: Path = REQUIREMENTS) -> Path:
    digest = hashlib.sha256(requirements.read_bytes()).hexdigest()[:12]
    return runtimes_dir() / f"mlserver-{digest}"


def ensure(log: Callable[[str], None], requirements: Path = REQUIREMENTS) -> Path:
    """The environment's Python, creating the environment first when it is not there yet."""
    env = environment_dir(requirements)
    python = env / "bin" / "python"
    if (env / COMPLETE).exists():
        return python
    env.parent.mkdir(parents=True, exist_ok=True)
    with open(env.parent / f"{env.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another apply may be creating it right now
        if not (env / COMPLETE).exists():
            _create(env, requirements, log)
    return python


def _create(env: Path, requirements: Path, log: Callable[[str], None]) -> None:
    uv = _uv()
    if uv is None:
        raise ProviderError(
            "cannot create the model server's environment: uv is neither on the PATH nor beside this Python "
            f"({sys.executable}): install it (`pip install uv`, or see https://docs.astral.sh/uv/), then apply again"
        )
    shutil.rmtree(env, ignore_errors=True)  # what an interrupted attempt left
    log(f"creating the model server environment (MLServer, once; about a minute) in {env}")
    started = time.monotonic()
    _run([uv, "venv", "--quiet", "--python", sys.executable, str(env)], env, "create the environment")
    _run([uv, "pip", "install", "--quiet", "-r", str(requirements)], env, "install MLServer", {"VIRTUAL_ENV": str(env)})
    (env / COMPLETE).write_text(requirements.read_text())
    log(f"model server environment ready in {time.monotonic() - started:.0f} s")


def _uv() -> str | None:
    """uv on the PATH, else beside the Python running zplan: scripts/bootstrap links the uv it
    used there, so `.venv/bin/zplan` finds it without the venv activated."""
    beside = Path(sys.executable).with_name("uv")
    return shutil.which("uv") or (str(beside) if os.access(beside, os.X_OK) else None)


def _run(argv: list[str], env: Path, what: str, extra_env: dict[str, str] | None = None) -> None:
    try:
        proc = subprocess.run(
            argv, capture_output=True, text=True, timeout=CREATE_TIMEOUT, stdin=subprocess.DEVNULL,
            env={**os.environ, **(extra_env or {})},
        )
    except subprocess.TimeoutExpired:
        proc = None
    if proc is not None and proc.returncode == 0:
        return
    shutil.rmtree(env, ignore_errors=True)
    detail = "timed out" if proc is None else "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-8:])
    raise ProviderError(
        f"cannot create the model server's environment: uv could not {what} "
        f"(is the package index reachable?):\n{detail}"
    )
