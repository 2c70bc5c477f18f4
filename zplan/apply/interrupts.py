"""Ctrl-C (SIGINT) and SIGTERM during an apply: a stop, not a crash.

The first signal asks the apply to stop: nothing new starts, running steps are
told to stop (SIGTERM to their process groups, SIGKILL after the grace period),
resource operations already under way finish, and everything that finished is
recorded. A second signal ends the grace period: steps are killed at once.
The command then exits 130 (SIGINT) or 143 (SIGTERM), as a shell reports them.

Signal handlers belong to the main thread; elsewhere (an apply driven from a
thread) this does nothing and the signals keep their usual meaning.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from typing import Callable, Iterator

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopRequest:
    """Set by the first signal: which one, so the exit code can say it."""

    def __init__(self) -> None:
        self.signum: int | None = None

    @property
    def requested(self) -> bool:
        return self.signum is not None

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name if self.signum else ""


@contextlib.contextmanager
def stop_on_signals(request: StopRequest, on_stop: Callable[[], None], on_hurry: Callable[[], None]) -> Iterator[None]:
    """While inside, SIGINT/SIGTERM call ``on_stop`` (first) and ``on_hurry`` (later ones),
    each on a thread of its own: a handler interrupts the main thread anywhere, even
    inside a lock the callbacks need."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, _frame) -> None:
        first = not request.requested
        if first:
            request.signum = signum
        threading.Thread(target=on_stop if first else on_hurry, name="zplan-stop", daemon=True).start()

    previous = {sig: signal.signal(sig, handler) for sig in SIGNALS}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
