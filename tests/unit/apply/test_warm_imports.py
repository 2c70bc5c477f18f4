"""What a worker importing early for a later step leaves: the libraries loaded, and nothing else a step
would not find in a worker an earlier step warmed (settings put back, failures left to the step, a library
leaving a thread ends the worker). And what the plan reads of a step's code for it (``CodeInfo.imports``)."""

from __future__ import annotations

import os
import sys
import textwrap
import warnings
from pathlib import Path

import pytest

from zplan.apply.runner import WORKER_PRELOAD
from zplan.apply.warm_imports import ImportJob, import_early, needs_of
from zplan.apply.workers import WorkerPool
from zplan.plan.code_hash import CodeIndex

LIBRARIES = {
    "fakelib/__init__.py": """
        import os
        import warnings

        thing = 3  # an attribute: `from fakelib import thing` imports no submodule
        os.environ["FAKELIB_SIDE_EFFECT"] = "set"
        warnings.simplefilter("ignore")
        print("fakelib says hello")
    """,
    "fakelib/sub.py": "VALUE = 1\n",
    "fakelib/thing.py": "raise AssertionError('never imported: fakelib has an attribute of that name')\n",
    "broken/__init__.py": "raise RuntimeError('broken at import')\n",
    "exiting/__init__.py": "raise SystemExit(3)\n",
    "threaded/__init__.py": """
        import threading
        import time

        threading.Thread(target=time.sleep, args=(30,), daemon=True, name="poller").start()
    """,
    # installed, not source beside the project (which each step imports again: zplan.plan.source_roots)
    "fakelib-1.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: fakelib\nVersion: 1.0\n",
}


@pytest.fixture
def vendor(tmp_path) -> Path:
    for rel, text in LIBRARIES.items():
        path = tmp_path / "vendor" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    (tmp_path / "project").mkdir()
    return tmp_path


def _early_then_look(arg: tuple[str, ImportJob]) -> dict:
    folder, job = arg
    sys.path.insert(0, folder)
    filters = list(warnings.filters)
    import_early(job)
    loaded = sorted(m for m in ("fakelib", "fakelib.sub", "fakelib.thing", "broken", "exiting", "threaded") if m in sys.modules)
    return {"loaded": loaded, "env": os.environ.get("FAKELIB_SIDE_EFFECT"), "filters_kept": warnings.filters == filters}


def test_the_libraries_stay_loaded_their_side_effects_do_not_and_failures_are_left_to_the_step(vendor):
    job = ImportJob(str(vendor / "project"), ("fakelib", "fakelib:sub", "fakelib:thing", "broken", "exiting", "missing_library"))
    pool = WorkerPool(1, grace=1.0, preload=WORKER_PRELOAD)
    try:
        seen = pool.submit(_early_then_look, (str(vendor / "vendor"), job)).result(60)
    finally:
        pool.shutdown(cancel=True)
    assert seen == {"loaded": ["fakelib", "fakelib.sub"], "env": None, "filters_kept": True}


def test_a_library_leaving_a_thread_ends_the_worker_and_the_step_goes_to_another(vendor):
    pool = WorkerPool(2, grace=1.0, preload=WORKER_PRELOAD)
    try:
        first = pool.submit(_pid, None).result(60)
        job = ImportJob(str(vendor / "project"), ("threaded",))
        warmed = pool.submit(_early_then_look, (str(vendor / "vendor"), job)).result(60)
        assert warmed["loaded"] == ["threaded"]
        assert pool.submit(_pid, None).result(60) != first, "the worker the thread was left in ended"
    finally:
        pool.shutdown(cancel=True)


class _Cycle:
    def __init__(self) -> None:
        self.me = self


def _collector_after_early_import(arg: tuple[str, ImportJob, bool]) -> dict:
    import gc
    import weakref

    from zplan.apply import worker

    folder, job, ran_a_step = arg
    sys.path.insert(0, folder)
    worker.ran_a_step = ran_a_step  # (as run_step leaves it)
    garbage = _Cycle()
    dead = weakref.ref(garbage)
    del garbage  # cyclic garbage a step could have left
    frozen, threshold = gc.get_freeze_count(), gc.get_threshold()
    import_early(job)
    grew = gc.get_freeze_count() > frozen
    gc.collect()
    return {"enabled": gc.isenabled(), "threshold_kept": gc.get_threshold() == threshold, "frozen": grew,
            "garbage_freed": dead() is None, "loaded": "fakelib" in sys.modules}


@pytest.mark.parametrize("ran_a_step", [False, True])
def test_the_collector_is_paused_while_importing_and_only_a_fresh_worker_freezes(vendor, ran_a_step):
    """What the libraries made is frozen (no later collection rescans it) in a worker that has run no step; one that
    has may hold a step's cyclic garbage, which freezing would keep for good."""
    job = ImportJob(str(vendor / "project"), ("fakelib",))
    pool = WorkerPool(1, grace=1.0, preload=WORKER_PRELOAD)
    try:
        seen = pool.submit(_collector_after_early_import, (str(vendor / "vendor"), job, ran_a_step)).result(60)
    finally:
        pool.shutdown(cancel=True)
    assert seen == {"enabled": True, "threshold_kept": True, "frozen": not ran_a_step, "garbage_freed": ran_a_step,
                    "loaded": True}


def _pid(_: object) -> int:
    return os.getpid()


def test_needs_are_the_top_level_packages():
    assert needs_of(("sklearn.model_selection", "sklearn.linear_model:LogisticRegression", "pandas")) == {"sklearn", "pandas"}


def test_the_plan_reads_the_libraries_a_step_imports_by_name(tmp_path):
    (tmp_path / "helpers.py").write_text("import numpy\n\ndef helper():\n    return numpy.zeros(1)\n")
    (tmp_path / "steps.py").write_text(textwrap.dedent("""
        import json
        import pandas as pd
        from helpers import helper


        def step():
            import sklearn.linear_model
            from scipy import stats, optimize
            from . import nothing  # (relative: the project's own)
            return pd, json, helper(), sklearn.linear_model, stats, optimize
    """))
    info = CodeIndex(tmp_path).info("steps.py", "step")
    assert info.imports == ["numpy", "pandas", "scipy", "scipy:optimize", "scipy:stats", "sklearn", "sklearn.linear_model"]


def test_a_steps_imports_are_its_codes_then_its_upstreams_and_each_is_told_once():
    from types import SimpleNamespace

    from zplan.apply.warm_imports import StepImports
    from zplan.graph.dag import Dag
    from zplan.plan import model as m

    sources = {"load": "steps.py:load", "split": "steps.py:split", "cmd": "", "cached": "steps.py:split"}
    code = {"load": ["pandas"], "split": ["sklearn.model_selection"]}
    graph = Dag()
    for a, b in (("load", "split"), ("load", "cmd"), ("load", "cached")):
        graph.add_edge(a, b)
    config = SimpleNamespace(step=lambda a: SimpleNamespace(source=sources[a], file=sources[a].partition(":")[0],
                                                            function=sources[a].partition(":")[2], tfx=None,
                                                            script=object() if a == "cmd" else None))
    plan = SimpleNamespace(step=lambda a: SimpleNamespace(action=m.CACHED if a == "cached" else m.RUN))
    index = SimpleNamespace(info=lambda file, function: SimpleNamespace(imports=code[function]))
    imports = StepImports(plan, graph, config, lambda: index)
    assert imports.of("split") == ("sklearn.model_selection", "pandas")
    assert imports.of("cmd") == ()  # a command step runs no Python of the project's here
    assert imports.after("load") == [("sklearn.model_selection", "pandas")]  # (not the cached step's)
    assert imports.after("load") == []
