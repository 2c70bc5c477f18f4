"""Read numbers, then sum them scaled; ``total`` can be held at a gate by a test."""

import os
import time
from pathlib import Path

GATE_ENV = "TINY_GATE"  # a folder: the step marks it "entered", then waits for "open"


def load(raw: Path) -> list:
    return [int(line) for line in raw.read_text().split()]


def total(values: list, factor: int) -> int:
    _wait_at_gate(os.environ.get(GATE_ENV))
    return sum(values) * factor


def _wait_at_gate(folder: str | None) -> None:
    # Lets a test hold an apply (and so its state lock) exactly as long as it needs.
    if not folder:
        return
    Path(folder, "entered").touch()
    deadline = time.monotonic() + 60
    while not Path(folder, "open").exists():
        if time.monotonic() > deadline:
            raise TimeoutError("the gate was never opened")
        time.sleep(0.05)
