"""Libraries imported by an idle worker for a step before the step is ready to run.

A chain's next step often imports a heavy library (scikit-learn, torch) that its upstream step does
not; the worker running the upstream would import it only once the step starts, and the step waits
for that import on top of its upstream. So when a step starts, an idle worker (or a new one, while
the pool has room) imports what the steps right after it import, and each of those is handed to
the worker that has its libraries (``zplan.apply.workers``: a task goes where its ``needs`` are).

A step finds nothing it could not find today in a worker where an earlier step imported the same
libraries: the imports run inside the interpreter state a step runs in (``step_interpreter_state``),
so settings they change are put back, a library that registers a materializer or leaves a thread
ends the worker, and the project's own modules are never imported early (they are imported again
by each step). What the imports print goes nowhere: the step that imports them again finds them
loaded and prints nothing either, as in a worker an earlier step warmed.

The cycle collector is paused while they import (pandas and scikit-learn make ~500,000 long-lived objects,
and the collections their imports trigger rescan them: ~70 ms of a ~1.2 s import), and in a worker that
has run no step yet what is alive afterwards is frozen, so that the step's first collections do not rescan
them either. A worker that has run a step may hold its cyclic garbage, which freezing would keep for good.

The libraries are read from the step's code by the plan (``CodeInfo.imports``); the values a step is
given were made with its upstream steps' libraries, which its worker needs to load them.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from typing import Any, Callable


@dataclass(frozen=True)
class ImportJob:
    project_dir: str
    imports: tuple[str, ...]  # "pkg.sub" (``import pkg.sub``), "pkg.sub:name" (``from pkg.sub import name``)


def needs_of(imports: tuple[str, ...]) -> frozenset[str]:
    """The top-level packages of ``imports``: a worker that has them loaded imports the rest quickly."""
    return frozenset(name.partition(":")[0].split(".")[0] for name in imports)


def import_early(job: ImportJob) -> None:
    """In a worker: import ``job.imports`` as a step would, each failure left for the step to meet."""
    from zplan.apply.step_isolation import step_interpreter_state
    from zplan.apply.step_log import captured_output, withhold_private_environment
    from zplan.apply.strays import stop_left_running, threads_left, threads_now
    from zplan.apply.worker import ran_a_step
    from zplan.state import collector

    os.chdir(job.project_dir)
    withhold_private_environment()
    with captured_output(os.devnull, []), collector.paused(freeze=not ran_a_step):
        threads = threads_now()
        try:
            with step_interpreter_state(job.project_dir):
                for name in job.imports:
                    _import(name)
        finally:
            stop_left_running()
            threads_left(threads)  # a thread left running: this worker ends (``strays.spoiled``)


def _import(name: str) -> None:
    module, _, attribute = name.partition(":")
    try:
        imported = importlib.import_module(module)
        if attribute and not hasattr(imported, attribute):  # as ``from module import attribute`` does
            importlib.import_module(f"{module}.{attribute}")
    except (Exception, SystemExit):  # the step's own import meets it again, and reports it
        pass


class StepImports:
    """Per step of one apply: what its worker imports (its code's libraries, then its upstream steps'),
    worked out once each from the code index."""

    def __init__(self, plan, graph, config, code: Callable[[], Any]) -> None:
        """``code``: the apply's code index (``zplan.plan.code_hash.CodeIndex``), asked for when first needed."""
        self._plan, self._graph, self._config, self._code = plan, graph, config, code
        self._by_source: dict[str, tuple[str, ...]] = {}  # "file.py:function" -> its code's libraries (a sweep's share one)
        self._all: dict[str, tuple[str, ...]] = {}
        self._told: set[str] = set()  # steps whose imports ``after`` has given once already

    def of(self, address: str) -> tuple[str, ...]:
        """Nothing for a step that does not run in a local worker (a command, a TFX component, a training job)."""
        if address not in self._all:
            names: list[str] = []
            if self._runs_python_here(self._config.step(address)):
                upstream = (a for a in self._graph.predecessors(address) if self._plan.step(a) is not None)
                names = [*self._own(address), *(name for a in upstream for name in self._own(a))]
            self._all[address] = tuple(dict.fromkeys(names))
        return self._all[address]

    def after(self, address: str) -> list[tuple[str, ...]]:
        """What the steps right after ``address`` that will run import (each step's once, when it has any)."""
        from zplan.plan import model as m

        later = [a for a in self._graph.successors(address)
                 if a not in self._told and (s := self._plan.step(a)) is not None and s.action == m.RUN]
        self._told.update(later)
        return [imports for a in later if (imports := self.of(a))]

    @staticmethod
    def _runs_python_here(step) -> bool:
        return bool(step.file) and step.tfx is None and step.script is None and not getattr(step, "backend", None)

    def _own(self, address: str) -> tuple[str, ...]:
        step = self._config.step(address)
        if step.source not in self._by_source:
            imports: tuple[str, ...] = ()
            if self._runs_python_here(step):
                try:
                    imports = tuple(self._code().info(step.file, step.function).imports)
                except Exception:  # (unreadable code: the step's re-plan reports it)
                    pass
            self._by_source[step.source] = imports
        return self._by_source[step.source]
