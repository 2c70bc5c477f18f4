from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid

import pytest

from zplan.provider import ProviderError, ResourceChange
from zplan_provider_local import process as process_module
from zplan_provider_local import procs

from .conftest import free_port

T = "local_process"
PY = sys.executable


@pytest.fixture
def start(provider):
    """create() that also stops whatever it started when the test ends, pass or fail."""
    started: list[dict] = []

    def _start(name: str, inputs: dict) -> dict:
        attrs = provider.create(T, name, inputs)
        started.append(attrs)
        return attrs

    yield _start
    for attrs in started:
        procs.stop(attrs["pid"], attrs["start_ticks"], grace=1.0)


def wait_for(cond, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def running_with(marker: str) -> list[int]:
    """Pids of live processes whose command line holds ``marker``."""
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                line = procs.cmdline(int(entry.name))
            except OSError:
                continue
            if any(marker in part for part in line) and procs.is_running(int(entry.name), None):
                found.append(int(entry.name))
    return found


def fetch(url: str) -> str:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=5) as resp:
        return resp.read().decode()


def test_http_server_is_health_checked_over_http_and_deleted(provider, project, start):
    (project / "site").mkdir()
    (project / "site/index.html").write_text("model server up")
    port = free_port()
    attrs = start(
        "web",
        {
            "command": [PY, "-m", "http.server", "{port}", "--bind", "127.0.0.1"],
            "port": port,
            "working_dir": "site",
            "health_check": "http://127.0.0.1:{port}/index.html",
        },
    )
    pid = attrs["pid"]
    assert attrs["url"] == f"http://127.0.0.1:{port}" and attrs["id"] == str(pid)
    assert fetch(attrs["url"] + "/index.html") == "model server up"
    assert os.getsid(pid) == pid  # detached: its own session
    assert attrs["log_file"] == str(project / ".zplan/processes/web.log")
    assert (project / ".zplan/processes/web.pid").read_text().strip() == str(pid)
    assert "starting: " in (project / ".zplan/processes/web.log").read_text()
    assert provider.read(T, attrs) == attrs

    provider.delete(T, attrs)
    assert not procs.is_running(pid, attrs["start_ticks"])
    assert not (project / ".zplan/processes/web.pid").exists()
    with pytest.raises(OSError):
        fetch(attrs["url"])


def test_tcp_check_by_default_update_in_place_then_replace(provider, project, start):
    port = free_port()
    inputs = {"command": f"{PY} -m http.server {{port}} --bind 127.0.0.1", "port": port}
    attrs = start("svc", inputs)
    assert attrs["health_check"] is None and attrs["health_timeout"] == 30

    updated = provider.update(T, attrs, {**inputs, "health_timeout": 5})
    assert updated["pid"] == attrs["pid"] and updated["health_timeout"] == 5
    assert provider.read(T, updated) is not None  # untouched: still the same process

    new_port = free_port()
    change = ResourceChange("resource.local_process.svc", T, "svc", "replace", updated, {**inputs, "port": new_port})
    result = provider.apply_one(change)
    assert result.ok, result.error
    new = result.attributes
    try:
        assert new["pid"] != attrs["pid"] and new["url"] == f"http://127.0.0.1:{new_port}"
        assert provider.read(T, attrs) is None  # the old one was stopped
        assert "Directory listing" in fetch(new["url"] + "/")
    finally:
        provider.delete(T, new)


def test_env_reaches_the_process(provider, project, start):
    code = "import os, time; open('env.txt', 'w').write(os.environ['GREETING'] + ' ' + os.environ['PATH'][:1]); time.sleep(60)"
    start("envy", {"command": [PY, "-c", code], "env": {"GREETING": "hello"}})
    wait_for(lambda: (project / "env.txt").exists() and (project / "env.txt").read_text())
    assert (project / "env.txt").read_text() == "hello /"  # added to, not instead of, the environment
    assert "hello" not in (project / ".zplan/processes/envy.log").read_text()


def test_killed_or_reused_pid_reads_as_gone(provider, start):
    attrs = start("sleeper", {"command": [PY, "-c", "import time; time.sleep(60)"]})
    assert provider.read(T, attrs) == attrs
    assert provider.read(T, {**attrs, "start_ticks": attrs["start_ticks"] - 1}) is None  # pid now names another process
    os.kill(attrs["pid"], signal.SIGKILL)
    wait_for(lambda: provider.read(T, attrs) is None)
    provider.delete(T, attrs)  # nothing left to stop: fine


def test_never_healthy_is_stopped_and_shows_the_log_tail(provider, project):
    marker = f"never-{uuid.uuid4().hex}"
    code = "import time\nfor i in range(30): print('line', i)\nprint('booting', flush=True)\ntime.sleep(60)"
    inputs = {"command": [PY, "-c", code, marker], "port": free_port(), "health_timeout": 1}
    with pytest.raises(ProviderError) as info:
        provider.create(T, "stuck", inputs)
    message = str(info.value)
    assert "process 'stuck' was not healthy after 1 s" in message
    assert message.endswith("booting") and "line 29" in message and "line 10" not in message  # the last 20 lines
    assert running_with(marker) == []
    assert not (project / ".zplan/processes/stuck.pid").exists()


def test_early_exit_is_reported_with_its_code(provider):
    code = "import sys; print('bad config: no model path', flush=True); sys.exit(3)"
    with pytest.raises(ProviderError, match=r"exited with code 3 before becoming healthy(.|\n)*bad config: no model path"):
        provider.create(T, "crash", {"command": [PY, "-c", code]})


def test_start_failures_are_clear(provider, project):
    with pytest.raises(ProviderError, match="cannot start 'no-such-program-here'"):
        provider.create(T, "x", {"command": "no-such-program-here --flag"})
    with pytest.raises(ProviderError, match="working_dir .* is not a directory"):
        provider.create(T, "x", {"command": [PY, "-V"], "working_dir": "missing"})
    with socket_listening() as port:
        with pytest.raises(ProviderError, match=f"port {port} is already in use"):
            provider.create(T, "x", {"command": [PY, "-m", "http.server", "{port}"], "port": port})


class socket_listening:
    def __enter__(self) -> int:
        import socket

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        return self.sock.getsockname()[1]

    def __exit__(self, *exc) -> None:
        self.sock.close()


def test_delete_stops_the_whole_group(provider, start):
    marker = f"grp-{uuid.uuid4().hex}"
    attrs = start("shell", {"command": f"sh -c 'sleep 300 & sleep 300; : {marker}'"})
    wait_for(lambda: len([p for p in os.listdir("/proc") if p.isdigit() and _pgrp(int(p)) == attrs["pid"]]) >= 3)
    provider.delete(T, attrs)
    assert not procs.group_alive(attrs["pid"])


def _pgrp(pid: int) -> int | None:
    st = procs.stat(pid)
    return st.pgrp if st and st.state not in procs.GONE_STATES else None


def test_sigkill_after_the_grace_period(provider, project, start, monkeypatch):
    monkeypatch.setattr(process_module, "STOP_GRACE", 0.3)
    code = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True); time.sleep(60)"
    attrs = start("stubborn", {"command": [PY, "-c", code]})
    wait_for(lambda: "ready" in (project / ".zplan/processes/stubborn.log").read_text())
    began = time.monotonic()
    provider.delete(T, attrs)
    assert provider.read(T, attrs) is None
    assert 0.3 <= time.monotonic() - began < 5


def test_import_by_pid(provider, project):
    proc = subprocess.Popen([PY, "-c", "import time; time.sleep(60)"], cwd=project)
    try:
        wait_for(lambda: "import time; time.sleep(60)" in procs.cmdline(proc.pid))  # exec has happened
        attrs = provider.import_resource(T, str(proc.pid))
        assert attrs["command"] == [PY, "-c", "import time; time.sleep(60)"]
        assert attrs["working_dir"] == str(project) and attrs["pid"] == proc.pid
        assert attrs["started_at"] and attrs["log_file"] is None
        assert provider.read(T, attrs) == attrs
        provider.delete(T, attrs)  # not a group leader: only that process is signalled
        assert proc.wait(timeout=5) == -signal.SIGTERM
    finally:
        proc.kill()
        proc.wait()
    with pytest.raises(ProviderError, match="imported by pid"):
        provider.import_resource(T, "web")
    with pytest.raises(ProviderError, match=f"no running process with pid {proc.pid}"):
        provider.import_resource(T, str(proc.pid))


def test_check(provider):
    ok = {"command": ["python", "-m", "http.server", 8000], "port": 8000, "health_check": "http://127.0.0.1:{port}/"}
    assert provider.check(T, ok) == []
    assert provider.check(T, {"command": "serve", "health_check": "none"}) == []
    assert provider.check(T, {"command": []}) == ["command must not be empty"]
    assert provider.check(T, {"command": "  "}) == ["command must not be empty"]
    assert provider.check(T, {"command": "echo 'unclosed"}) == ["command cannot be split: No closing quotation"]
    assert provider.check(T, {"command": {"a": 1}}) == ["command must be a string or a list of strings"]
    assert provider.check(T, {"command": "x", "port": 70000}) == ["port must be a whole number from 1 to 65535, got 70000"]
    assert provider.check(T, {"command": "x", "port": 0})[0].startswith("port must be")
    assert provider.check(T, {"command": "x", "health_check": "tcp"}) == ['health_check "tcp" needs a port']
    assert provider.check(T, {"command": "x", "health_check": "ping"})[0].startswith('health_check must be "tcp", "none" or an http:// URL')
    assert provider.check(T, {"command": "x", "health_check": "http://127.0.0.1:{port}/"}) == [
        "health_check uses {port} but no port is set"
    ]
    assert provider.check(T, {"command": "x", "health_timeout": 0})[0].startswith("health_timeout must be a positive")
    assert provider.check(T, {"command": "x", "env": {"A": ["b"]}}) == ["env.A must be a string, number or bool"]
    unknown = object()  # a value known only after apply is not judged
    assert provider.check(T, {"command": unknown, "port": unknown, "health_check": "tcp"}) == []


def test_interrupted_start_leaves_no_process(provider, project, monkeypatch):
    from zplan_provider_local import health

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(health, "wait_healthy", interrupted)
    marker = f"int-{uuid.uuid4().hex}"
    with pytest.raises(KeyboardInterrupt):
        provider.create(T, "svc", {"command": [PY, "-c", "import time; time.sleep(60)", marker]})
    assert running_with(marker) == []
    assert not (project / ".zplan/processes/svc.pid").exists()


def test_null_settings_take_the_schema_defaults(provider, start):
    attrs = start("n", {"command": [PY, "-c", "import time; time.sleep(60)"], "health_timeout": None, "env": None, "port": None})
    assert attrs["health_timeout"] == 30 and attrs["url"] is None
