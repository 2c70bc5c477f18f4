"""The cycle collector while a command builds its long-lived objects (the state document, the plan).

Decoding a 20,000-step state and planning its steps make millions of containers that live as
long as the command and are nearly all acyclic: each collection the allocations trigger rescans
the ones made so far (at 20,000 steps ~10 % of a no-change plan's CPU, growing with the size).
While they are built the collector is paused; what they leave behind is freed by reference
counting as always. In a command (``loader.FREEZE_PARSED_TREES``, set by the CLI) what is alive
afterwards is moved out of the collector's reach, as the parsed configuration is.
"""

from __future__ import annotations

import gc
from contextlib import contextmanager
from typing import Iterator


@contextmanager
def paused() -> Iterator[None]:
    if not gc.isenabled():  # an outer pause (or the caller's choice): leave it as it is
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        from zplan.config import loader

        if loader.FREEZE_PARSED_TREES:
            gc.freeze()
        gc.enable()
