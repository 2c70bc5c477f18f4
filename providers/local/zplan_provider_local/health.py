"""Health checks for service processes: a TCP connect or an HTTP GET on 127.0.0.1."""

from __future__ import annotations

import socket
import time
from typing import Callable
from urllib.parse import urlparse

# Once started, a process with no health check must at least survive this long.
SETTLE_SECONDS = 0.2


def form_problem(check: str, has_port: bool) -> str | None:
    """Why a health_check value cannot work, or None (offline: no connection made)."""
    if check == "none":
        return None
    if check == "tcp":
        return None if has_port else 'health_check "tcp" needs a port'
    url = urlparse(check)
    if url.scheme not in ("http", "https") or not url.netloc:
        return f'health_check must be "tcp", "none" or an http:// URL, got {check!r}'
    if "{port}" in check and not has_port:
        return "health_check uses {port} but no port is set"
    return None


def probe_for(check: str, port: int | None) -> Callable[[], bool] | None:
    """A function that answers "healthy now?", or None for "none"."""
    if check == "none":
        return None
    if check == "tcp":
        return lambda: tcp_open(port)  # type: ignore[arg-type]
    url = check.replace("{port}", str(port))
    return lambda: http_ok(url)


def tcp_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0):
            return True
    except OSError:
        return False


def http_ok(url: str) -> bool:
    """A 2xx answer (after redirects) means healthy; anything else means not yet."""
    # Imported here: the provider is loaded on every plan, and urllib pulls in ssl.
    import http.client
    import urllib.error
    import urllib.request

    # Health checks talk to this machine: never through a proxy from the environment.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=2.0) as resp:
            return 200 <= resp.status < 300
    except (urllib.error.URLError, http.client.HTTPException, OSError):
        return False


def wait_healthy(probe: Callable[[], bool] | None, exited: Callable[[], int | None], timeout: float) -> str | None:
    """Poll until healthy; returns None when healthy, else why not (in a few words)."""
    deadline = time.monotonic() + (SETTLE_SECONDS if probe is None else timeout)
    delay = 0.05
    while True:
        code = exited()
        if code is not None:
            return f"exited with code {code} before becoming healthy"
        if probe is not None and probe():
            return None
        if time.monotonic() >= deadline:
            return None if probe is None else f"was not healthy after {timeout:g} s"
        time.sleep(delay)
        delay = min(delay * 1.5, 0.5)
