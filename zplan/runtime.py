"""What a running step may know about its run (set by the executor, read by step code).

Step functions stay plain Python; code that needs the run's context (a Beam step
building its pipeline options, a step writing scratch files) calls ``current()``
(``step_context()`` raises outside a step), and ``log_metadata()`` records values
with the execution, as ZenML's ``get_step_context()`` / ``log_metadata()`` do.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping


@dataclass(frozen=True)
class StepContext:
    address: str  # pipeline.NAME.step.STEP
    run_id: int
    project_dir: Path
    artifact_store_url: str
    scratch: Path  # where the private temporary folder goes: made on first use of scratch_dir, removed after the step
    stack: Mapping[str, Any] = field(default_factory=dict)  # the stack's settings (processing, ...)
    metadata: dict[str, Any] = field(default_factory=dict)  # what log_metadata() recorded, kept in ML Metadata
    _scratch_made: list[bool] = field(default_factory=list, repr=False, compare=False)

    @property
    def scratch_dir(self) -> Path:
        """The step's private temporary folder, made on first use: most steps never ask for one,
        and making a folder is one of the dearest calls on some disks."""
        if not self._scratch_made:
            try:
                os.mkdir(self.scratch, 0o700)
            except FileNotFoundError:  # (given a path in a folder still to make)
                os.makedirs(self.scratch, 0o700)
            except FileExistsError:  # (given an existing folder): it must be a folder of this user
                st = os.lstat(self.scratch)
                if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid():
                    raise
            self._scratch_made.append(True)
        return self.scratch

    @property
    def step_name(self) -> str:
        """The step's name, with its instance key: train["c=0.5"] (a key may hold dots)."""
        return self._parsed().step

    @property
    def pipeline_name(self) -> str:
        """The pipeline's name, also inside a module (module.M.pipeline.P.step.S)."""
        return self._parsed().pipeline

    def _parsed(self) -> Any:
        from zplan.addrs import parse

        return parse(self.address)


_current: contextvars.ContextVar[StepContext | None] = contextvars.ContextVar("zplan_step", default=None)


def current() -> StepContext | None:
    return _current.get()


def step_context() -> StepContext:
    """The running step's context (what ZenML's ``get_step_context()`` gives): raises outside a step."""
    ctx = _current.get()
    if ctx is None:
        raise RuntimeError("zplan.step_context() is available only inside a running step")
    return ctx


def log_metadata(metadata: Mapping[str, Any], artifact_name: str | None = None, **_zenml_targets: Any) -> None:
    """Record values with this step's execution in ML Metadata (as ZenML's ``log_metadata``):
    under ``artifact_name`` when given (one output's metadata). Later keys replace earlier ones.
    ZenML's other targets (a model version, a run) have no zplan equivalent: the step keeps those too."""
    import json

    ctx = step_context()
    clean = json.loads(json.dumps(dict(metadata), default=str))  # stored as JSON: anything else as its text
    target = ctx.metadata.setdefault(artifact_name, {}) if artifact_name else ctx.metadata
    target.update(clean)


@contextlib.contextmanager
def running(ctx: StepContext) -> Iterator[StepContext]:
    token = _current.set(ctx)
    try:
        yield ctx
    finally:
        _current.reset(token)
