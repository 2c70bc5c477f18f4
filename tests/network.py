"""An address that never answers, and a bound on how long a call may take to fail against it."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from typing import Any, Callable, Iterator


@contextlib.contextmanager
def silent_server() -> Iterator[int]:
    """A port on 127.0.0.1 that takes connections (the kernel completes them) and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)  # never accepted, never read from, never written to
        yield sock.getsockname()[1]


def outcome_within(seconds: float, call: Callable[[], Any]) -> tuple[float, BaseException | None]:
    """(time taken, what ``call`` raised); fails the test if it is still running after ``seconds``.

    The call runs in a daemon thread, so a call that hangs fails this test instead of the suite.
    """
    result: dict[str, BaseException | None] = {"error": None}

    def run() -> None:
        try:
            call()
        except BaseException as exc:  # noqa: BLE001 - returned to the test
            result["error"] = exc

    start = time.monotonic()
    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(seconds)
    assert not worker.is_alive(), f"still waiting after {seconds} s: a silent server hangs the call"
    return time.monotonic() - start, result["error"]
