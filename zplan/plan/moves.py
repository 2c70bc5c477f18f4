"""``moved`` blocks: state entries take their new addresses before anything is planned.

Resource records and step records (in every store) move; cache entries keep their
keys and only learn the new address, so a renamed step, resources wrapped into a
module or ``count`` turned into ``for_each`` are neither recreated nor rerun. The
plan lists each move ("X has moved to Y"); apply writes the moved state.
"""

from __future__ import annotations

from zplan.addrs import moved_to
from zplan.config.model import Config
from zplan.state.model import State


def apply_moves(config: Config, state: State) -> list[tuple[str, str]]:
    """Move ``state``'s entries as the configuration's moved blocks say, in the order written."""
    moved: dict[str, str] = {}
    for block in config.moved:
        for old, new in state.move(lambda address, b=block: moved_to(address, b.from_addr, b.to_addr)):
            first = next((k for k, v in moved.items() if v == old), old)  # a -> b then b -> c: a -> c
            moved.pop(first, None)
            moved[first] = new
    return sorted(moved.items())
