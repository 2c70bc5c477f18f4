"""zplan: Terraform-style plan/apply for ML pipelines and the infrastructure they run on.

The public Python API is small: ``step`` names a step's outputs, ``materializer``
registers how a type is stored, ``beam_step`` marks an Apache Beam step and
``current`` / ``step_context`` give a running step its context and ``log_metadata``
records values with its execution. ``Project`` / ``open(path, stack)`` read a
project's recorded runs, artifacts and outputs back (``zplan.api``, loaded only when asked for).
"""

from __future__ import annotations

from typing import Any

from zplan import _record_code

_record_code.install()  # before any module defining a dataclass is imported

from zplan.steps import step  # noqa: E402

__version__ = "0.1.0"
__all__ = ["step", "materializer", "beam_step", "current", "step_context", "log_metadata", "__version__"]  # not `open`: a star import must not shadow the builtin


def __getattr__(name: str) -> Any:  # parts that commands don't need load only when asked for
    if name in ("current", "step_context", "log_metadata"):  # only a running step has a context: `plan` never loads the runtime
        from zplan import runtime

        return getattr(runtime, name)
    if name == "materializer":
        from zplan.artifacts.materializers import materializer

        return materializer
    if name == "beam_step":
        from zplan.beam.step import beam_step

        return beam_step
    if name in ("Project", "open"):  # the read API: never needed by step code or commands
        from zplan import api

        return getattr(api, name)
    raise AttributeError(name)
