"""What a step changes in its worker's interpreter is undone before the worker's next step: the
modules it imported from the project's files are dropped, process-wide settings put back (named loggers
among them), the global random generators reseeded."""

from __future__ import annotations

import importlib
import logging
import sys
import types

from zplan.apply.step_isolation import _project_module, _step_code_modules


def _module(file: str) -> types.ModuleType:
    module = types.ModuleType("m")
    module.__file__ = file
    return module


def test_project_modules_imported_by_their_name_are_dropped():
    assert _project_module("steps.train", _module("/p/steps/train.py"), "/p")
    assert _project_module("steps", _module("/p/steps/__init__.py"), "/p")
    assert _project_module("zplan.modules.m.steps", _module("/p/.zplan/modules/m/steps.py"), "/p")  # a git module's checkout
    assert _project_module("mylib.core", _module("/p/src/mylib/core.py"), "/p")  # a src layout, on the path or installed editable
    assert _project_module("mylib", _module("/p/src/mylib/__init__.py"), "/p")


def test_libraries_and_modules_a_library_loaded_under_its_own_name_stay():
    assert not _project_module("pandas", _module("/p/.venv/lib/python3.11/site-packages/pandas/__init__.py"), "/p")
    assert not _project_module("user_module_0", _module("/p/tfx/trainer.py"), "/p")  # TFX keeps its own account of it
    assert not _project_module("fast", _module("/p/fast.cpython-311-x86_64-linux-gnu.so"), "/p")
    assert not _project_module("elsewhere", _module("/q/elsewhere.py"), "/p")


def test_a_library_beside_the_project_is_unloaded_unless_it_has_compiled_code(tmp_path, monkeypatch):
    """A compiled module cannot be loaded twice: the Python code of its library, run again over it, would fail."""
    project, libs = tmp_path / "project", tmp_path / "libs"
    project.mkdir()
    for lib in ("purelib", "fastlib"):
        (libs / lib).mkdir(parents=True)
        (libs / lib / "__init__.py").write_text("")
        (libs / lib / "core.py").write_text("")
    monkeypatch.syspath_prepend(str(libs))
    for name in ("purelib", "purelib.core", "fastlib", "fastlib.core"):
        monkeypatch.setitem(sys.modules, name, importlib.import_module(name))
    monkeypatch.setitem(sys.modules, "fastlib._speedups", _module(str(libs / "fastlib" / "_speedups.cpython-311-x86_64-linux-gnu.so")))
    imported = {"purelib", "purelib.core", "fastlib", "fastlib.core", "fastlib._speedups", "json.decoder"}
    assert _step_code_modules(imported, str(project)) == {"purelib", "purelib.core"}


MEDDLES = """
import asyncio, decimal, gc, locale, logging, logging.config, multiprocessing, os, random, resource, signal, socket, sys, tempfile, threading, time
import warnings

import numpy as np
import pandas as pd
import sklearn


def meddle():
    random.seed(0)
    np.random.seed(0)
    np.seterr(all="raise")
    np.set_printoptions(precision=2)
    pd.set_option("display.max_rows", 3)
    sklearn.set_config(transform_output="pandas")  # every transformer of a later step would return DataFrames
    warnings.filterwarnings("error")
    os.chdir("/")
    os.umask(0o077)
    sys.setrecursionlimit(123456)
    os.environ["TZ"] = "XYZ-5:45" if time.localtime(0).tm_gmtoff != 20700 else "UTC0"  # (POSIX: no tzdata needed)
    time.tzset()
    signal.signal(signal.SIGALRM, lambda *_: None)
    signal.setitimer(signal.ITIMER_REAL, 60)  # a guard of its own it did not cancel
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM, signal.SIGUSR1})
    signal.pthread_kill(threading.get_ident(), signal.SIGUSR1)  # pending while blocked: delivered later, it would end the worker
    locale.setlocale(locale.LC_ALL, "C.UTF-8")
    decimal.getcontext().prec = 5
    decimal.getcontext().traps[decimal.Inexact] = True
    socket.setdefaulttimeout(3)
    gc.disable()
    gc.set_threshold(1, 1, 1)
    sys.setswitchinterval(0.5)
    multiprocessing.set_start_method("spawn")  # as in a script's main process: once (each time in a new process)
    sys.set_int_max_str_digits(640)
    for limit, soft in ((resource.RLIMIT_AS, 64 << 30), (resource.RLIMIT_NOFILE, 512), (resource.RLIMIT_CPU, 3600)):
        resource.setrlimit(limit, (soft, resource.getrlimit(limit)[1]))  # a guard of its own
    sys.setprofile(lambda *_: None)
    futures = logging.getLogger("concurrent.futures")  # a library's logger, there before any step
    futures.setLevel(logging.CRITICAL)
    futures.propagate = False
    futures.addHandler(logging.NullHandler())
    futures.addFilter(lambda record: False)
    logging.getLogger().addFilter(lambda record: False)
    logging.getLogger("lib_made_in_step").setLevel(logging.ERROR)  # (sklearn's, when the step imported it first)
    logging.config.dictConfig({"version": 1})  # disables every logger there is, numpy's and pandas' too
    sys.argv[1:] = ["--lr", "5"]  # as a step calling a script's main() does, for its argparse
    tempfile.tempdir = "/a/folder/the/step/removed"  # where its own temporary files went
    asyncio.run(asyncio.sleep(0))  # which leaves no current event loop


def _event_loop():
    try:  # as a library written for older asyncio runs a coroutine
        return asyncio.get_event_loop().run_until_complete(asyncio.sleep(0, result="ran"))
    except RuntimeError as exc:
        return str(exc)


def observe():
    logging.getLogger("lib_made_in_step")
    umask = os.umask(0o022)
    os.umask(umask)
    try:
        warnings.warn("a warning", UserWarning)
        raised = False
    except UserWarning:
        raised = True
    return {"random": random.random(), "np.random": float(np.random.rand()), "seterr": np.geterr(),
            "precision": np.get_printoptions()["precision"], "max_rows": pd.get_option("display.max_rows"),
            "transform output": sklearn.get_config()["transform_output"],
            "warning raised": raised, "cwd": os.getcwd(), "umask": umask, "recursion limit": sys.getrecursionlimit(),
            "utc offset": time.localtime(0).tm_gmtoff, "alarm set": signal.getitimer(signal.ITIMER_REAL)[0] > 0,
            "handlers": [str(signal.getsignal(s)) for s in (signal.SIGALRM, signal.SIGTERM)],
            "blocked": sorted(map(int, signal.pthread_sigmask(signal.SIG_BLOCK, ()))),
            "locale": [locale.setlocale(c) for c in (locale.LC_NUMERIC, locale.LC_TIME, locale.LC_COLLATE)],
            "decimal": repr(decimal.getcontext()), "one third": str(decimal.Decimal(1) / 3),
            "socket timeout": socket.getdefaulttimeout(), "gc": [gc.isenabled(), *gc.get_threshold()],
            "switch interval": sys.getswitchinterval(), "long number": len(str(int("7" * 1000))),
            "profiled": sys.getprofile() is not None, "argv": sys.argv,
            "temp folder": tempfile.gettempdir(),
            "start method": multiprocessing.get_start_method(),
            "limits": [list(resource.getrlimit(limit)) for limit in (resource.RLIMIT_AS, resource.RLIMIT_NOFILE, resource.RLIMIT_CPU)],
            "loggers": {name: [logger.level, logger.propagate, logger.disabled, len(logger.handlers), len(logger.filters)]
                        for name, logger in logging.Logger.manager.loggerDict.items() if isinstance(logger, logging.Logger)},
            "root filters": len(logging.getLogger().filters), "event loop": _event_loop()}
"""


def test_a_step_sees_no_setting_or_random_state_an_earlier_step_left_in_its_worker(tmp_path):
    from zplan.apply.runner import WORKER_PRELOAD
    from zplan.apply.worker import StepTask, run_step
    from zplan.apply.workers import WorkerPool

    project = tmp_path / "project"
    project.mkdir()
    (project / "steps_meddle.py").write_text(MEDDLES)

    def one_worker(*functions: str) -> list:
        """What each step returned, run one after another in one worker."""
        pool, results = WorkerPool(1, grace=1.0, preload=WORKER_PRELOAD), []
        try:
            for function in functions:
                task = StepTask(address=f"pipeline.p.step.{function}", project_dir=str(project), source_file="steps_meddle.py",
                                function=function, params={}, inputs={}, declared_outputs=None,
                                artifact_store_url="file://.zplan/artifacts", run_id=1, log_path=str(tmp_path / f"{function}.log"))
                results.append(pool.submit(run_step, task).result(120))
        finally:
            pool.shutdown(cancel=True)
        assert all(r.ok for r in results), [(r.error, r.traceback) for r in results]
        return [r.outputs["output"].get("value") for r in results]

    [expected] = one_worker("observe")
    # the first meddling step imports numpy, pandas and scikit-learn in its worker, the second finds them imported
    seen = one_worker("meddle", "observe", "meddle", "observe")[1::2]
    draws = {"random", "np.random"}
    for observed in seen:
        assert {k: v for k, v in observed.items() if k not in draws} == {k: v for k, v in expected.items() if k not in draws}
    assert expected["cwd"] == str(project) and expected["recursion limit"] != 123456 and expected["precision"] == 8
    assert expected["start method"] == "forkserver"  # the worker's own, by default
    assert expected["locale"] == ["C", "C", "C"] and expected["one third"] == "0.3333333333333333333333333333"
    assert expected["loggers"]["concurrent.futures"] == [logging.NOTSET, True, False, 0, 0]
    assert not any(disabled for _, _, disabled, _, _ in expected["loggers"].values())
    seeded = {"random": 0.8444218515250481, "np.random": 0.5488135039273248}  # the first draws after seed(0)
    assert all(observed[k] != seeded[k] for observed in seen for k in draws), seen
    assert seen[0]["random"] != seen[1]["random"] and seen[0]["np.random"] != seen[1]["np.random"]
