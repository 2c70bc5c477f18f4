"""The cycle collector while a command builds its long-lived objects (the configuration's
instances, the state document, the plan).

Expanding a 20,000-instance for_each step, decoding its 24 MB state and planning its steps make
millions of containers that live as long as the command and are nearly all acyclic: each
collection their allocations trigger rescans the ones made so far (at 20,000 steps ~10-15 % of a
no-change plan's CPU, growing with the size). While they are built the collector is paused, and
what they leave behind is freed by reference counting as always; cyclic garbage made meanwhile
waits for the next collection after the pause. (Freezing what is alive afterwards, as the parsed
configuration is, would save the one rescan that follows, ~4 %, but it would also freeze any
cyclic garbage alive at that moment for good: a long process planning many times, a test run
or a notebook, would leak.)

The `zplan` command's own process is no such caller: it exits with its command. There
(``FREEZE_AFTER``, set by zplan.cli.process) what is alive when a pause ends is frozen: the
objects the pause let pile up (an apply's plan, and the modules the early start imported meanwhile:
ML Metadata, protobuf) would otherwise be rescanned by the collection that follows at once, 10-40 ms
on the path of every apply. Cyclic garbage frozen with them waits for the process's exit.
"""

from __future__ import annotations

import gc
from contextlib import contextmanager
from typing import Iterator

FREEZE_AFTER = False  # the process ends with its command: freeze what is alive when a pause ends


@contextmanager
def paused(freeze: bool | None = None) -> Iterator[None]:
    """The collector off within; ``freeze``: what is alive at the end is frozen (``FREEZE_AFTER`` when not given)."""
    if not gc.isenabled():  # an outer pause (or the caller's choice): leave it as it is
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        if FREEZE_AFTER if freeze is None else freeze:
            gc.freeze()  # (also restarts the count that would trigger that collection)
        gc.enable()
