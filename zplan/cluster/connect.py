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


def check_workers(client, address: str) -> None:
    """A DiagnosticError naming the workers that cannot import zplan's task runner: Dask cannot
    unpickle a step's task there, so the worker ends, and the task goes to the next one or, with
    none left, waits for ever."""
    def probe():  # (defined here, so it is shipped by value: a worker without zplan can run it)
        import importlib

        try:
            importlib.import_module("zplan.apply.cluster_task")
        except Exception as exc:  # noqa: BLE001 - any reason it cannot be imported is the answer
            return f"{type(exc).__name__}: {exc}"
        return None

    found = client.run(probe, on_error="return")
    broken = {worker: why for worker, why in sorted(found.items()) if why is not None}
    if broken:
        listed = "; ".join(f"{worker}: {why}" for worker, why in broken.items())
        raise diags.fail(f"{len(broken)} of the {len(found)} workers of the Dask cluster at {address} cannot import zplan ({listed})",
                         "install zplan and the steps' libraries on every worker, the same environment as this machine's "
                         "(a container image built from requirements.lock)")


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
