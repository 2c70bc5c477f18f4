"""``local_process``: a long-running service (a model server, a database, ...)."""

from __future__ import annotations

import json
import os
import shlex
from pathlib import Path
from typing import Any, Mapping

from zplan.fsutil import atomic_write_text
from zplan.hashing import hash_value
from zplan.provider import Attribute, ProviderError, ResourceSchema

from . import health, procs
from .base import LocalResource, known, now_iso

STOP_GRACE = 10.0  # seconds between SIGTERM and SIGKILL
LOG_TAIL = 20
SCALARS = (str, int, float, bool)


class LocalProcess(LocalResource):
    schema = ResourceSchema(
        "local_process",
        {
            "command": Attribute("any", required=True, force_new=True, description="a list of strings, or one string split like a shell"),
            "env": Attribute("map", optional=True, force_new=True, sensitive=True, description="added to zplan's own environment"),
            "port": Attribute("number", optional=True, force_new=True, description='replaces "{port}" in command, env and health_check'),
            "working_dir": Attribute("string", optional=True, force_new=True, description="defaults to the project folder"),
            "health_check": Attribute("string", optional=True, description='"tcp" (default with a port), "none" or an http:// URL'),
            "health_timeout": Attribute("number", optional=True, default=30, description="seconds to wait for health"),
            "id": Attribute("string", computed=True, description="the pid"),
            "pid": Attribute("number", computed=True),
            "start_ticks": Attribute("number", computed=True, description="start time from /proc, tells a reused pid apart"),
            "log_file": Attribute("string", computed=True),
            "started_at": Attribute("string", computed=True),
            "url": Attribute("string", computed=True, description="http://127.0.0.1:PORT when a port is set"),
        },
        description="A service process started and watched on this machine.",
    )

    def check(self, inputs: Mapping[str, Any]) -> list[str]:
        port = inputs.get("port")
        errors = [*_command_problems(inputs.get("command")), *_port_problems(port)]
        check = inputs.get("health_check")
        if isinstance(check, str) and (problem := health.form_problem(check, port is not None)):
            errors.append(problem)
        elif known(check) and check is not None and not isinstance(check, str):
            errors.append("health_check must be a string")
        timeout = inputs.get("health_timeout")
        if known(timeout) and timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0):
            errors.append(f"health_timeout must be a positive number of seconds, got {timeout!r}")
        env = inputs.get("env")
        if known(env) and env is not None:
            if not isinstance(env, dict):
                errors.append("env must be a map of strings")
            else:
                errors += [f"env.{k} must be a string, number or bool" for k, v in env.items() if known(v) and not isinstance(v, SCALARS)]
        return errors

    def create(self, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
        s = self.settings(inputs)
        port = int(s["port"]) if s["port"] is not None else None
        argv, cwd, check = self._prepare(s, port)
        log_file, pid_file = self._files(name)
        started_at = now_iso()
        proc, offset = _spawn_logged(argv, cwd, _env(s["env"], port), log_file)
        st = procs.stat(proc.pid)
        start_ticks = st.start_ticks if st else None
        attrs = {
            **s,
            "id": str(proc.pid),
            "pid": proc.pid,
            "start_ticks": start_ticks,
            "log_file": str(log_file),
            "started_at": started_at,
            "url": f"http://127.0.0.1:{port}" if port is not None else None,
        }
        try:
            _write_pid_file(pid_file, attrs, s)
            probe = health.probe_for(check, port)
            failure = health.wait_healthy(probe, lambda: procs.exit_code(proc.pid), float(s["health_timeout"]))
        except BaseException:  # interrupted: leave no process that no state will remember
            _abandon(proc.pid, start_ticks, pid_file)
            raise
        if failure:
            _abandon(proc.pid, start_ticks, pid_file)
            raise ProviderError(f"process {name!r} {failure}; last log lines ({log_file}):\n{_tail(log_file, offset)}")
        return attrs

    def _prepare(self, s: Mapping[str, Any], port: int | None) -> tuple[list[str], Path, str]:
        """Everything that can be refused before a process exists: argv, folder, health check."""
        argv = _argv(s["command"], port)
        cwd = self.resolve(s["working_dir"]) if s["working_dir"] else Path(self.context.project_dir)
        if not cwd.is_dir():
            raise ProviderError(f"working_dir {cwd} is not a directory")
        if port is not None and health.tcp_open(port):
            # A health check would be answered by the other program and lie.
            raise ProviderError(f"port {port} is already in use on 127.0.0.1")
        check = s["health_check"] or ("tcp" if port is not None else "none")
        if problem := health.form_problem(check, port is not None):
            raise ProviderError(problem)
        return argv, cwd, check

    def read(self, attrs: Mapping[str, Any]) -> dict[str, Any] | None:
        pid = attrs.get("pid")
        if pid is None or not procs.is_running(int(pid), attrs.get("start_ticks")):
            return None
        return dict(attrs)

    def update(self, before: Mapping[str, Any], inputs: Mapping[str, Any]) -> dict[str, Any]:
        # Only the health settings update in place: they matter at the next start.
        return {**before, **self.settings(inputs)}

    def delete(self, attrs: Mapping[str, Any]) -> None:
        procs.stop_recorded(attrs, STOP_GRACE)
        if attrs.get("log_file"):
            _remove_pid_file(Path(attrs["log_file"]).with_suffix(".pid"))

    def import_(self, id_: str) -> dict[str, Any]:
        try:
            pid = int(id_)
        except ValueError:
            raise ProviderError(f"a local_process is imported by pid, got {id_!r}") from None
        st = procs.stat(pid)
        if st is None or not procs.is_running(pid, None):
            raise ProviderError(f"no running process with pid {pid}")
        return {
            **self.settings({}),
            "command": procs.cmdline(pid),
            "working_dir": procs.cwd(pid),
            "id": str(pid),
            "pid": pid,
            "start_ticks": st.start_ticks,
            "log_file": None,  # its output goes wherever its starter sent it
            "started_at": procs.started_at(st.start_ticks),
            "url": None,
        }

    def leftover(self, name: str, inputs: Mapping[str, Any]) -> dict[str, Any] | None:
        """A process started for ``name`` by an apply killed before state recorded it: its pid
        file names it, and it is still the same process. Started with ``inputs``, it is
        adopted as is; otherwise its settings are unknown (None), so the plan replaces it."""
        found = _read_pid_file(self._files(name)[1])
        if found is None or not procs.is_running(int(found["pid"]), found.get("start_ticks")):
            return None
        digest = found.pop("settings_digest", None)
        s = self.settings(inputs)
        settings = s if _digest(s) == digest else {k: None for k in s}
        return {**settings, **found}

    def _files(self, name: str) -> tuple[Path, Path]:
        folder = Path(self.context.state_dir) / "processes"
        safe = name.replace(os.sep, "_")
        return folder / f"{safe}.log", folder / f"{safe}.pid"


# zplan's own secrets: a service gets only the values its env attribute gives it.
_PRIVATE_ENV_PREFIXES = ("ZPLAN_VAR_", "ZPLAN_STATE_KEY", "ZPLAN_MYSQL_PASSWORD")


def _inherited_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(_PRIVATE_ENV_PREFIXES)}


def _spawn_logged(argv: list[str], cwd: Path, env: Mapping[str, str], log_file: Path) -> tuple[Any, int]:
    """Start the process after a header line in its log; returns it and where this run's output begins."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    offset = log_file.stat().st_size if log_file.exists() else 0
    with open(log_file, "a") as log:  # the program only: arguments and env values may be secret
        log.write(f"--- {now_iso()} starting: {shlex.quote(argv[0])} ({len(argv) - 1} argument(s))\n")
    try:
        return procs.spawn(argv, cwd, {**_inherited_env(), **env}, log_file), offset
    except OSError as exc:
        raise ProviderError(f"cannot start {argv[0]!r}: {exc.strerror or exc}") from None


def _write_pid_file(pid_file: Path, attrs: Mapping[str, Any], settings: Mapping[str, Any]) -> None:
    """The pid file, and beside it (for adopting the process after a killed apply) its
    computed attributes and a digest of its settings (which may hold secrets: never in clear)."""
    kept = {k: v for k, v in attrs.items() if k not in settings}
    kept["settings_digest"] = _digest(settings)
    atomic_write_text(_started_file(pid_file), json.dumps(kept, sort_keys=True))
    atomic_write_text(pid_file, f"{attrs['pid']}\n")


def _read_pid_file(pid_file: Path) -> dict[str, Any] | None:
    try:
        pid = int(pid_file.read_text().strip())
        attrs = json.loads(_started_file(pid_file).read_text())
    except (OSError, ValueError):
        return None
    return attrs if isinstance(attrs, dict) and attrs.get("pid") == pid else None


def _digest(settings: Mapping[str, Any]) -> str | None:
    try:
        return hash_value(dict(settings))
    except (TypeError, ValueError):  # a value not known before apply
        return None


def _remove_pid_file(pid_file: Path) -> None:
    pid_file.unlink(missing_ok=True)
    _started_file(pid_file).unlink(missing_ok=True)


def _started_file(pid_file: Path) -> Path:
    return pid_file.with_suffix(".started.json")


def _abandon(pid: int, start_ticks: int | None, pid_file: Path) -> None:
    procs.stop(pid, start_ticks, STOP_GRACE)
    _remove_pid_file(pid_file)


def _argv(command: Any, port: int | None) -> list[str]:
    problems = _command_problems(command)
    if problems:
        raise ProviderError(problems[0])
    argv = shlex.split(command) if isinstance(command, str) else [str(a) for a in command]
    return [_with_port(a, port) for a in argv]


def _env(env: Mapping[str, Any] | None, port: int | None) -> dict[str, str]:
    return {str(k): _with_port(_env_text(v), port) for k, v in (env or {}).items()}


def _env_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _with_port(text: str, port: int | None) -> str:
    return text if port is None else text.replace("{port}", str(port))


def _command_problems(command: Any) -> list[str]:
    if not known(command):
        return []
    if isinstance(command, str):
        try:
            argv = shlex.split(command)
        except ValueError as exc:
            return [f"command cannot be split: {exc}"]
        return [] if argv else ["command must not be empty"]
    if isinstance(command, list):
        if not command or command[0] in ("", None):
            return ["command must not be empty"]
        bad = [a for a in command if known(a) and (isinstance(a, bool) or not isinstance(a, (str, int, float)))]
        return ["command items must be strings"] if bad else []
    return ["command must be a string or a list of strings"]


def _port_problems(port: Any) -> list[str]:
    if port is None or not known(port):
        return []
    if isinstance(port, bool) or not isinstance(port, (int, float)) or port != int(port) or not 1 <= port <= 65535:
        return [f"port must be a whole number from 1 to 65535, got {port!r}"]
    return []


def _tail(log_file: Path, offset: int) -> str:
    """The last lines this start wrote (earlier starts' output is skipped)."""
    with open(log_file, "rb") as f:
        f.seek(offset)
        lines = f.read().decode(errors="replace").splitlines()
    return "\n".join(lines[-LOG_TAIL:])
