"""Inputs a step reads in place (``snapshot = "reference"``): nothing copies them, so what the
step read is what its key was computed from only if they did not move while it ran.

Their stamps are taken before the step is planned again as it starts (the re-plan hashes them),
and compared when it ends, as its code files are: a write in between, even one made before the
re-plan read the file, fails the step rather than keep its result under either content's key.
One ``stat`` per file and folder of such an input, twice a step; other steps pay nothing.
"""

from __future__ import annotations

import os
from pathlib import Path

from zplan.plan import model as m
from zplan.plan.code_hash import code_stamp


def reference_stamps(root: Path, inputs: dict[str, m.StepInput]) -> dict[str, list[int]]:
    """Each file and folder of the step's reference inputs (relative to ``root``) with its stamps
    (a folder's move when a file is added to it or removed from it)."""
    stamps: dict[str, list[int]] = {}
    for spec in inputs.values():
        if isinstance(spec, m.DataInput) and spec.reference:
            for path in _paths(os.path.join(root, spec.path)):
                try:
                    stamps[os.path.relpath(path, root)] = code_stamp(os.stat(path))
                except OSError:  # gone already: the re-plan says so
                    pass
    return stamps


def _paths(top: str) -> list[str]:
    if not os.path.isdir(top):
        return [top]
    found = []
    for dirpath, _, filenames in os.walk(top):
        found += [dirpath, *(os.path.join(dirpath, name) for name in filenames)]
    return found
