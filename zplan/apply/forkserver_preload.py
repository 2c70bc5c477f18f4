"""Whether a module is being imported by the step workers' forkserver as it preloads (its ``main``):
modules preloaded there set up what every worker it forks inherits."""

from __future__ import annotations

import os
import sys

_FORKSERVER_MAIN = os.path.join("multiprocessing", "forkserver.py")


def preloaded_by_forkserver() -> bool:
    """Whether this import runs inside the forkserver's own ``main`` (its preload loop)."""
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_name == "main" and frame.f_code.co_filename.endswith(_FORKSERVER_MAIN):
            return True
        frame = frame.f_back
    return False
