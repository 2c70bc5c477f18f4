"""Connecting to a Dask scheduler: with retries (a connection can die in an asyncio
``CancelledError`` while the client handshakes) and an overall timeout, so an address
nobody answers on becomes one clear error instead of a hang or a traceback."""

from __future__ import annotations

import time

from zplan import diags

CONNECT_TIMEOUT_SECONDS = 20.0


def connect(address: str, timeout: float = CONNECT_TIMEOUT_SECONDS, what: str = "the Dask scheduler"):
    """A ``distributed.Client`` for ``address``; a DiagnosticError when none answers within ``timeout``."""
    try:
        from distributed import Client
    except ImportError:
        raise diags.fail("Dask is not installed", "install zplan with the dask extra: pip install 'zplan[dask]'") from None
    deadline = time.monotonic() + timeout
    last: BaseException | None = None
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        try:
            return Client(address, timeout=max(1.0, min(left, 10.0)), set_as_default=False)
        except (OSError, TimeoutError) as exc:
            last = exc
        except BaseException as exc:  # CancelledError and friends during the handshake
            if isinstance(exc, KeyboardInterrupt):
                raise
            last = exc
        time.sleep(min(0.5, max(0.0, deadline - time.monotonic())))
    raise diags.fail(
        f"cannot reach {what} at {address} (no answer within {timeout:g}s)",
        f"is the scheduler running and is the address right? ({type(last).__name__}: {last})"
        if last else "is the scheduler running and is the address right?",
    )


def scheduler_address(settings) -> str | None:
    """The ``scheduler`` in a stack's ``orchestrator_options`` (None when not set)."""
    options = settings.get("orchestrator_options")
    value = options.get("scheduler") if isinstance(options, dict) else None
    return str(value) if isinstance(value, str) and value else None


def shared_project_dir(settings) -> bool:
    """``shared_project_dir`` in a stack's ``orchestrator_options``, converted as Terraform converts a
    bool ("false" from -var is false); ValueError for a value that is no bool."""
    from zplan.config.convert import ConversionError, convert
    from zplan.config.types import KEYWORDS

    options = settings.get("orchestrator_options")
    value = options.get("shared_project_dir") if isinstance(options, dict) else None
    try:
        return bool(convert(value, KEYWORDS["bool"], "shared_project_dir"))
    except ConversionError as exc:
        raise ValueError(f"{exc.path} must be true or false, got {exc.got}") from None
