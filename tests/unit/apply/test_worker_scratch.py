"""A step's scratch folder is removed however the step ends, before its function runs included."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest

from zplan.apply.worker import StepTask, run_step

BROKEN = "import not_a_module_anywhere\n\ndef f():\n    return 1\n"
FAILING = "def f():\n    raise ValueError('no')\n"


@pytest.mark.parametrize("code", [BROKEN, FAILING], ids=["import fails", "function fails"])
def test_no_scratch_folder_is_left_behind(tmp_path, monkeypatch, code):
    project = tmp_path / "project"
    project.mkdir()
    (project / "steps_scratch.py").write_text(code)
    temp = tmp_path / "temp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    monkeypatch.chdir(tmp_path)  # the worker changes into the project folder: restore afterwards
    monkeypatch.syspath_prepend(str(project))
    task = StepTask(address="pipeline.p.step.s", project_dir=str(project), source_file="steps_scratch.py", function="f",
                    params={}, inputs={}, declared_outputs=None, artifact_store_url="file://.zplan/artifacts", run_id=1,
                    log_path=str(tmp_path / "s.log"))
    result = run_step(task)
    assert not result.ok and result.error
    assert [p.name for p in temp.iterdir()] == []


USES_SCRATCH = (
    "import stat, zplan\n\n"
    "def f():\n"
    "    folder = zplan.step_context().scratch_dir\n"
    "    (folder / 'tmp.bin').write_bytes(b'x')\n"
    "    return [stat.S_IMODE(folder.stat().st_mode), folder.name.startswith('zplan-step-')]\n"
)
NO_SCRATCH = "def f():\n    return 1\n"


@pytest.mark.parametrize("code, made", [(USES_SCRATCH, True), (NO_SCRATCH, False)], ids=["asked for", "never asked"])
def test_the_scratch_folder_is_made_private_on_first_use_and_removed_after(tmp_path, monkeypatch, code, made):
    import os

    project = tmp_path / "project"
    project.mkdir()
    module = f"steps_lazy_{made}"  # (a module imported once per process: one per case)
    (project / f"{module}.py").write_text(code)
    temp = tmp_path / "temp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(project))
    real_mkdir, made_here = os.mkdir, []
    monkeypatch.setattr(os, "mkdir", lambda p, *a, **k: (made_here.append(str(p)), real_mkdir(p, *a, **k))[1])
    task = StepTask(address="pipeline.p.step.s", project_dir=str(project), source_file=f"{module}.py", function="f",
                    params={}, inputs={}, declared_outputs=None, artifact_store_url="file://.zplan/artifacts", run_id=1,
                    log_path=str(tmp_path / "s.log"))
    result = run_step(task)
    assert result.ok, result.error
    assert any("zplan-step-" in p for p in made_here) == made  # made only when the step asks for it
    assert [p.name for p in temp.iterdir()] == []
    if made:
        value = json.loads((Path(result.outputs["output"]["uri"].removeprefix("file://")) / "value.json").read_text())
        assert value == [0o700, True]


def test_an_existing_path_that_is_not_this_users_folder_is_refused_as_scratch(tmp_path):
    from zplan.runtime import StepContext

    trap = tmp_path / "trap"
    trap.symlink_to(tmp_path)
    ctx = StepContext("pipeline.p.step.s", 1, tmp_path, "", trap)
    with pytest.raises(FileExistsError):
        ctx.scratch_dir


STOPPED = (
    "import time, zplan\n\n"
    "def f(how):\n"
    "    (zplan.step_context().scratch_dir / 'big.bin').write_bytes(b'x' * 1024)\n"
    "    if how == 'crash':\n"
    "        import os\n"
    "        os._exit(3)\n"
    "    time.sleep(600)\n"
)


@pytest.mark.parametrize("how", ["timeout", "crash"])
def test_the_scratch_folder_of_a_step_stopped_or_crashed_in_its_worker_is_removed(tmp_path, monkeypatch, how):
    from zplan.apply.runner import WORKER_PRELOAD
    from zplan.apply.workers import TaskTimedOut, WorkerDied, WorkerPool

    project = tmp_path / "project"
    project.mkdir()
    (project / "steps_stopped.py").write_text(STOPPED)
    temp = tmp_path / "temp"
    temp.mkdir()
    monkeypatch.setenv("TMPDIR", str(temp))  # the workers' temporary folder
    monkeypatch.setattr(tempfile, "tempdir", str(temp))  # and this process's
    task = StepTask(address="pipeline.p.step.s", project_dir=str(project), source_file="steps_stopped.py", function="f",
                    params={"how": how}, inputs={}, declared_outputs=None, artifact_store_url="file://.zplan/artifacts",
                    run_id=1, log_path=str(tmp_path / "s.log"))
    pool = WorkerPool(1, grace=1.0, preload=WORKER_PRELOAD)
    try:
        with pytest.raises((TaskTimedOut, WorkerDied)):
            pool.submit(run_step, task, timeout=3.0).result(60)
    finally:
        pool.shutdown(cancel=True)
    assert [p.name for p in temp.iterdir() if p.name.startswith("zplan-step-")] == []


def test_a_step_closing_or_replacing_its_standard_streams_leaves_them_working_for_the_next_step(tmp_path, monkeypatch):
    """A step's result never depends on the steps that ran before it in its worker."""
    from zplan.apply.runner import WORKER_PRELOAD
    from zplan.apply.workers import WorkerPool

    project = tmp_path / "project"
    project.mkdir()
    (project / "steps_streams.py").write_text(
        "import io, sys\n\ndef closes():\n    print('closing')\n    sys.stdout.close()\n    sys.stderr.close()\n    return 1\n\n"
        "def replaces():\n    sys.stdout, sys.stderr = io.StringIO(), io.StringIO()\n    return 3\n\n"
        "def prints():\n    print('to stdout')\n    print('to stderr', file=sys.stderr)\n    return 2\n")

    def task(function: str) -> StepTask:
        return StepTask(address=f"pipeline.p.step.{function}", project_dir=str(project), source_file="steps_streams.py",
                        function=function, params={}, inputs={}, declared_outputs=None,
                        artifact_store_url="file://.zplan/artifacts", run_id=1, log_path=str(tmp_path / f"{function}.log"))

    pool = WorkerPool(1, grace=1.0, preload=WORKER_PRELOAD)  # one worker: each step runs after the one before
    try:
        results = [pool.submit(run_step, task(f)).result(60) for f in ("closes", "prints", "replaces", "prints")]
    finally:
        pool.shutdown(cancel=True)
    assert all(r.ok for r in results), [(r.error, r.traceback) for r in results]
    assert (tmp_path / "prints.log").read_text() == "to stdout\nto stderr\n" * 2


def test_logging_a_step_set_up_is_not_left_to_the_next_step(tmp_path):
    """A handler a step added to the root logger, or logging it disabled, stays with that step."""
    from zplan.apply.runner import WORKER_PRELOAD
    from zplan.apply.workers import WorkerPool

    project = tmp_path / "project"
    project.mkdir()
    (project / "steps_logging.py").write_text(
        "import logging\n\ndef sets_up(path):\n    logging.getLogger().addHandler(logging.FileHandler(path))\n"
        "    logging.info('from sets_up')\n    logging.disable(logging.CRITICAL)\n    return 1\n\n"
        "def logs(path):\n    logging.info('from logs')\n    return 2\n")
    own_file = tmp_path / "sets_up-own.log"

    def task(function: str) -> StepTask:
        return StepTask(address=f"pipeline.p.step.{function}", project_dir=str(project), source_file="steps_logging.py",
                        function=function, params={"path": str(own_file)}, inputs={}, declared_outputs=None,
                        artifact_store_url="file://.zplan/artifacts", run_id=1, log_path=str(tmp_path / f"{function}.log"))

    pool = WorkerPool(1, grace=1.0, preload=WORKER_PRELOAD)  # one worker: the second step runs after the first
    try:
        first, second = (pool.submit(run_step, task(f)).result(60) for f in ("sets_up", "logs"))
    finally:
        pool.shutdown(cancel=True)
    assert first.ok and second.ok, (first.error, second.error)
    assert own_file.read_text() == "from sets_up\n"
    assert (tmp_path / "logs.log").read_text() == "INFO root: from logs\n"
