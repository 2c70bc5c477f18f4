"""What a failed step says: the failure kinds a worker reports, and the traceback from the
step's own frames on (zplan's frames are noise to the user)."""

from __future__ import annotations

import os
import traceback
from typing import Any


class StepFailed(Exception):
    def __init__(self, message: str, trace: str | None) -> None:
        super().__init__(message)
        self.message, self.trace = message, trace


class StepExited(StepFailed):
    """The step called sys.exit() (a script's ``main``, argparse on bad arguments)."""


class InputDamaged(StepFailed):
    """An input artifact is missing or no longer hashes to its digest: the step never saw it."""

    def __init__(self, message: str, digest: str) -> None:
        super().__init__(message, None)
        self.digest = digest


def user_traceback(exc: BaseException) -> str:
    """The traceback from the step's own frames on (zplan's frames are noise to the user)."""
    return "".join(traceback.format_exception(type(exc), exc, _own_frames(exc)))


def step_traceback(exc: BaseException) -> str | None:
    """What the step's function raised, from its own frames on; None when it has none.

    Then zplan's wrapper of the function failed (a @beam_step's pipeline), and its
    message says it all: a Beam failure carries its worker's traceback.
    """
    return user_traceback(exc) if _own_frames(exc) is not None else None


def _own_frames(exc: BaseException) -> Any:
    tb = exc.__traceback__
    while tb is not None and _is_zplan_frame(tb.tb_frame.f_code.co_filename):
        tb = tb.tb_next
    return tb


def _is_zplan_frame(filename: str) -> bool:
    # zplan/beam/: a @beam_step's wrapper stands between the worker and the step's function
    return any(f"{os.sep}zplan{os.sep}{part}{os.sep}" in filename for part in ("apply", "artifacts", "beam")) or "importlib" in filename
