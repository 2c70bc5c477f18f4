"""Serving the dashboard: uvicorn on 127.0.0.1 unless told otherwise, with a warning when exposed."""

from __future__ import annotations

import ipaddress

LOOPBACK_NAMES = ("localhost",)


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def exposure_warning(host: str) -> str | None:
    """What to tell the user when the dashboard listens beyond this machine."""
    if is_loopback(host):
        return None
    return (f"zplan ui listens on {host}: anyone who can reach this machine on that address can read this "
            "project's runs, params, logs, plans and resources (sensitive values stay hidden). "
            "Leave -host out to serve on 127.0.0.1 only.")


def allowed_hosts(host: str) -> list[str] | None:
    """The names a request may give in its Host header, None for any. On loopback only this machine's
    own: a web page whose name is made to resolve to 127.0.0.1 (DNS rebinding) would otherwise read the
    dashboard from the user's browser. Exposed on purpose, the names it is reached by are not known."""
    if not is_loopback(host):
        return None
    return sorted({"127.0.0.1", "localhost", "[::1]", f"[{host}]" if ":" in host else host})


def port_problem(host: str, port: int) -> tuple[str, str] | None:
    """Why the dashboard could not listen there, and what to do: the port is taken, or the
    address is not this machine's."""
    import errno
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as probe:
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return exc.strerror or str(exc), "choose another port with -port, or stop what uses it"
            return exc.strerror or str(exc), "give -host an address of this machine, or leave it out for 127.0.0.1"
    return None


def serve(app, host: str, port: int) -> None:
    import uvicorn

    uvicorn.run(app, host=host, port=port, log_level="warning", server_header=False)
