"""A process's standard streams when whoever started it closed them (`zplan plan >&-`).

Python then sets ``sys.stdout`` (or stdin, stderr) to None, so any write or flush fails, and
the descriptor is free: the next file opened takes it, and a stray write to the stream (a
library's, a child program's) would land in that file. Commands and step workers call
``fill_closed_standard_streams`` before opening anything.
"""

from __future__ import annotations

import os
import sys


def fill_closed_standard_streams() -> None:
    """Each closed standard stream becomes the null device: what is written to it is dropped,
    as Python's own ``print`` drops it, and child processes inherit the same."""
    for fd, name, mode in ((0, "stdin", "r"), (1, "stdout", "w"), (2, "stderr", "w")):
        if getattr(sys, name) is not None:
            continue
        try:
            os.fstat(fd)
        except OSError:
            null = os.open(os.devnull, os.O_RDWR)  # the lowest free descriptor: this one, if 0-2 are in order
            if null != fd:
                os.dup2(null, fd)  # (inheritable)
                os.close(null)
            else:
                os.set_inheritable(fd, True)  # os.open's descriptors are not: workers and programs need it
        setattr(sys, name, open(fd, mode, closefd=False))
