"""The applier in-process: a fake provider registered in the test, steps run by the real runner."""

from __future__ import annotations

import dataclasses

import pytest

from zplan.apply.applier import Applier
from zplan.apply.worker import PathArg, StepTask, run_step
from zplan.artifacts import unregister
from zplan.hooks import Recorder
from zplan.plan import model as m
from zplan.state.model import State

from tests.unit.plan.inprocess import FakeProvider, copy_pipeline, plan, write_project

THING = "resource.fake_thing.a"
HCL = '''
variable "token" {
  default   = "s3cret-token"
  sensitive = true
}

resource "fake_thing" "a" {
  name  = "one"
  size  = 1
  token = var.token
}
'''


def _apply(root, state: State, **request):
    made, planner, _ = plan(root, state, **request)
    before = dataclasses.astuple(made)
    written: list[dict] = []
    hooks = Recorder()
    result = Applier(planner, made, state, lambda s: written.append(s.doc), hooks, parallelism=1).apply()
    assert dataclasses.astuple(made) == before  # apply never writes into the plan
    return made, result, hooks, written



def _run(project, source_file: str, function: str, log_dir, address: str | None = None, inputs: dict | None = None,
         declared_outputs: list | None = None, run_id: int = 1):
    """One step run in this process as its worker runs it (the log beside the test's files)."""
    return run_step(StepTask(
        address=address or f"pipeline.p.step.{function}", project_dir=str(project), source_file=source_file, function=function,
        params={}, inputs=inputs or {}, declared_outputs=declared_outputs,
        artifact_store_url="file://.zplan/artifacts", run_id=run_id, log_path=str(log_dir / f"{function}.log"),
    ))


def test_a_resource_is_created_through_the_provider_and_recorded_with_its_secret_sealed(tmp_path):
    FakeProvider.live.clear()
    root = write_project(tmp_path, HCL)
    state = State()
    made, result, hooks, written = _apply(root, state)
    assert made.resource(THING).action == m.CREATE and result.ok and result.outcome == {THING: "ok"}
    assert FakeProvider.live["fake_thing/one"]["token"] == "s3cret-token"
    record = state.resource(THING)
    assert record.provider == "fake" and record.attributes["id"] == "fake_thing/one" and record.sensitive == ["token"]
    assert "s3cret-token" not in str(written[-1])  # sealed at rest
    assert state.serial == 1 and hooks.events[0] == ("resource_started", THING, m.CREATE)
    again, _, _ = plan(root, state)
    assert again.resource(THING).action == m.NOOP


def test_a_resource_removed_from_the_configuration_is_deleted_and_forgotten(tmp_path):
    FakeProvider.live.clear()
    root = write_project(tmp_path, HCL)
    state = State()
    _apply(root, state)
    (root / "main.zp.hcl").write_text('variable "x" { default = 1 }\n')
    made, result, _, _ = _apply(root, state)
    assert made.resource(THING).action == m.DELETE and result.ok
    assert state.resource(THING) is None and FakeProvider.live == {}


def test_steps_run_record_and_hand_their_artifacts_downstream(tmp_path):
    root = copy_pipeline(tmp_path)
    state = State()
    made, result, hooks, _ = _apply(root, state)
    assert {s.action for s in made.steps} == {m.RUN}  # the plan still says what was decided
    assert set(result.outcome.values()) == {"ok"} and result.run_id == 1
    total = state.step_record(made.store_key, "pipeline.numbers.step.total")
    assert total.succeeded and total.outputs["output"]["value"] == 10.5
    assert [e[0] for e in hooks.events].count("step_finished") == 4
    again, _, _ = plan(root, state)
    assert {s.action for s in again.steps} == {m.CACHED}


def test_a_step_runs_in_this_process_from_its_task(tmp_path, monkeypatch):
    root = copy_pipeline(tmp_path)
    monkeypatch.chdir(tmp_path)  # the worker changes into the project folder: restore afterwards
    monkeypatch.syspath_prepend(str(root))
    raw = PathArg(str(root / "data" / "numbers.txt"))
    result = _run(root, "steps/data.py", "load", tmp_path, address="pipeline.numbers.step.load", inputs={"raw": raw}, run_id=7)
    assert result.ok, result.error
    assert result.outputs["output"]["materializer"] == "json" and result.outputs["output"]["value"] == [1.0, 2.0, 3.5, 4.0]


def test_an_output_the_materializer_cannot_write_fails_the_step_naming_it_without_zplan_frames(tmp_path, monkeypatch):
    (tmp_path / "steps").mkdir()
    (tmp_path / "steps" / "mixed.py").write_text('import pandas as pd\n\ndef make():\n    return pd.DataFrame({"n": [1, "x"]})\n')
    monkeypatch.chdir(tmp_path)
    result = _run(tmp_path, "steps/mixed.py", "make", tmp_path)
    assert not result.ok and result.traceback is None
    assert result.error.startswith("output 'output': materializer pandas.parquet could not store the pandas.DataFrame: ArrowInvalid")
    assert "column n" in result.error


def _run_registering(tmp_path, monkeypatch, materializer: str, source: str):
    """Run ``make`` of steps/thing.py (``source``), which registers ``materializer`` (unregistered after)."""
    (tmp_path / "steps").mkdir()
    (tmp_path / "steps" / "thing.py").write_text(source)
    monkeypatch.chdir(tmp_path)
    try:
        return _run(tmp_path, "steps/thing.py", "make", tmp_path)
    finally:
        unregister(materializer)


def test_a_user_materializer_that_fails_shows_its_own_traceback(tmp_path, monkeypatch):
    result = _run_registering(tmp_path, monkeypatch, "thing-that-fails", (
        "import zplan\n\nclass Thing:\n    pass\n\n"
        "@zplan.materializer(Thing, name='thing-that-fails')\nclass ThingMaterializer:\n"
        "    def save(self, value, folder):\n        raise RuntimeError('disk says no')\n"
        "    def load(self, folder):\n        return Thing()\n\n"
        "def make():\n    return Thing()\n"
    ))
    assert not result.ok
    assert result.error == "output 'output': materializer thing-that-fails could not store the steps.thing.Thing: RuntimeError: disk says no"
    assert result.traceback.startswith("Traceback") and 'thing.py", line 9, in save' in result.traceback
    assert "zplan" not in result.traceback.replace(str(tmp_path), "")


def test_a_user_materializer_whose_can_save_fails_is_named_with_its_own_traceback(tmp_path, monkeypatch):
    """Not the bare error of its can_save, as if the value were at fault."""
    result = _run_registering(tmp_path, monkeypatch, "picky-things", (
        "import zplan\n\nclass Thing:\n    pass\n\n"
        "@zplan.materializer('picky-things')\nclass PickyMaterializer:\n"
        "    def can_save(self, value):\n        return value.size > 0\n"
        "    def save(self, value, folder):\n        pass\n"
        "    def load(self, folder):\n        return Thing()\n\n"
        "def make():\n    return Thing()\n"
    ))
    assert not result.ok
    assert result.error == ("output 'output': materializer picky-things's can_save failed on the steps.thing.Thing: "
                            "AttributeError: 'Thing' object has no attribute 'size'")
    assert result.traceback.startswith("Traceback") and 'thing.py", line 9, in can_save' in result.traceback


def test_an_input_its_materializer_cannot_load_fails_the_step_naming_the_input(tmp_path, monkeypatch):
    from zplan.apply.worker import ArtifactArg
    from zplan.artifacts import ArtifactStore

    (tmp_path / "steps").mkdir()
    (tmp_path / "steps" / "reader.py").write_text(
        "import zplan\n\nclass Thing:\n    pass\n\n"
        "@zplan.materializer(Thing, name='thing-that-cannot-load')\nclass ThingMaterializer:\n"
        "    def save(self, value, folder):\n        (folder / 'v.txt').write_text('1')\n"
        "    def load(self, folder):\n        raise KeyError('version')\n\n"
        "def read(x):\n    return 1\n"
    )
    (tmp_path / "stored").mkdir()
    (tmp_path / "stored" / "v.txt").write_text("1")
    monkeypatch.chdir(tmp_path)
    stored = ArtifactStore.from_url("file://.zplan/artifacts", tmp_path).put(tmp_path / "stored")
    result = _run(tmp_path, "steps/reader.py", "read", tmp_path, inputs={"x": ArtifactArg(stored.digest, "thing-that-cannot-load", "steps.reader")})
    assert not result.ok
    assert result.error == f"input x: materializer thing-that-cannot-load could not load artifact {stored.digest[:12]}: KeyError: 'version'"
    assert 'reader.py", line 11, in load' in result.traceback and "zplan" not in result.traceback.replace(str(tmp_path), "")


NAMED_OUT_OF_ORDER = (
    "from typing import NamedTuple\n"
    "import zplan\n\n"
    "class Split(NamedTuple):\n"
    "    test: list\n"
    "    train: list\n\n"
    "@zplan.step(outputs=['train', 'test'])\n"
    "def split():\n"
    "    return Split(test=[4], train=[1, 2, 3])\n"
)


def test_a_named_tuple_fills_the_declared_outputs_by_name_not_by_position(tmp_path, monkeypatch):
    project = tmp_path / "project"
    project.mkdir()
    (project / "steps_named.py").write_text(NAMED_OUT_OF_ORDER)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(project))
    result = _run(project, "steps_named.py", "split", tmp_path, declared_outputs=["train", "test"])
    assert result.ok, result.error
    assert result.outputs["train"]["value"] == [1, 2, 3] and result.outputs["test"]["value"] == [4]


def test_a_step_reads_its_pipeline_and_step_names_from_any_address(tmp_path, monkeypatch):
    project = tmp_path / "project"
    project.mkdir()
    (project / "steps_names.py").write_text(
        "import zplan\n\ndef names():\n    ctx = zplan.step_context()\n    return [ctx.pipeline_name, ctx.step_name]\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(project))
    result = _run(project, "steps_names.py", "names", tmp_path, address='module.training.pipeline.p.step.train["c=0.5"]')
    assert result.ok, result.error
    assert result.outputs["output"]["value"] == ["p", 'train["c=0.5"]']


def test_an_output_its_materializer_cannot_store_fails_the_step_naming_the_output(tmp_path, monkeypatch):
    project = tmp_path / "project"
    project.mkdir()
    (project / "steps_mixed.py").write_text(
        "import pandas as pd\n\ndef mixed():\n    return pd.DataFrame({'c': [1, 'two', 3.0]})\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(project))
    result = _run(project, "steps_mixed.py", "mixed", tmp_path)
    assert not result.ok
    assert result.error.startswith("output 'output': ") and "column c" in result.error, result.error
    assert result.traceback is None  # zplan's and pyarrow's frames say nothing about the step
    assert list((project / ".zplan" / "artifacts").glob("*/*")) == []  # nothing half-stored


def test_a_materializer_returning_facts_state_cannot_hold_fails_its_step_not_the_apply(tmp_path, monkeypatch):
    (tmp_path / "steps").mkdir()
    (tmp_path / "steps" / "facts.py").write_text(
        "import zplan\n\nclass Thing:\n    pass\n\n"
        "@zplan.materializer(Thing, name='thing-with-facts')\nclass ThingMaterializer:\n"
        "    def save(self, value, folder):\n        (folder / 'v.txt').write_text('1')\n        return folder / 'v.txt'\n"
        "    def load(self, folder):\n        return Thing()\n\n"
        "def make():\n    return Thing()\n"
    )
    monkeypatch.chdir(tmp_path)
    result = _run(tmp_path, "steps/facts.py", "make", tmp_path)
    assert not result.ok and result.outputs == {}
    assert result.error == ("output 'output': materializer thing-with-facts's save must return None or a dict of JSON values "
                            "(small facts about what it wrote): it returned a pathlib.PosixPath")


def test_a_sweep_instance_with_a_key_too_long_for_a_file_name_runs_and_keeps_its_log(tmp_path):
    key = "k" * 300
    root = write_project(tmp_path, f'pipeline "p" {{\n  step "t" {{\n    for_each = toset(["{key}", "short"])\n'
                                   f'    source   = "s.py:t"\n    params   = {{ k = each.key }}\n  }}\n}}\n')
    (root / "s.py").write_text("def t(k):\n    print('key of', len(k))\n    return len(k)\n")
    _, result, _, _ = _apply(root, State())
    assert result.ok and set(result.outcome.values()) == {"ok"}, result.outcome
    logs = sorted(p.read_text() for p in (root / ".zplan" / "logs").rglob("*.log"))
    assert logs == ["key of 300\n", "key of 5\n"]


def test_an_apply_says_which_processes_a_step_left_running_and_stopped(tmp_path):
    root = write_project(tmp_path, 'pipeline "p" {\n  step "serve" {\n    source = "s.py:serve"\n  }\n}\n')
    (root / "s.py").write_text("import subprocess\n\ndef serve():\n"
                               "    return subprocess.Popen(['sleep', '600'], start_new_session=True).pid\n")
    state = State()
    made, result, hooks, _ = _apply(root, state)
    assert result.ok
    pid = state.step_record(made.store_key, "pipeline.p.step.serve").outputs["output"]["value"]
    assert [e[1] for e in hooks.events if e[0] == "notice"] == [
        f"pipeline.p.step.serve: the step left 1 process running when it ended, stopped now: sleep (pid {pid})"]


def test_an_apply_says_which_threads_a_step_left_running_and_ends_its_worker(tmp_path):
    root = write_project(tmp_path, 'pipeline "p" {\n  step "poll" {\n    source = "s.py:poll"\n  }\n}\n')
    (root / "s.py").write_text("import threading, time\n\ndef poll():\n"
                               "    threading.Thread(target=time.sleep, args=(600,), name='poller', daemon=True).start()\n")
    _, result, hooks, _ = _apply(root, State())
    assert result.ok
    assert [e[1] for e in hooks.events if e[0] == "notice"] == [
        "pipeline.p.step.poll: the step left 1 thread running when it ended, which cannot be stopped: its worker ends "
        "after it, and the next step starts in a new one: poller"]


def test_a_step_declaring_no_outputs_may_return_nothing_but_not_a_value(tmp_path, monkeypatch):
    project = tmp_path / "project"
    project.mkdir()
    (project / "steps_none.py").write_text(
        "import zplan\n\n@zplan.step(outputs=[])\ndef notify():\n    print('sent')\n\n"
        "@zplan.step(outputs=[])\ndef forgets():\n    return 42\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(project))

    def run(function: str):
        return _run(project, "steps_none.py", function, tmp_path)

    notify, forgets = run("notify"), run("forgets")
    assert notify.ok and notify.outputs == {}, notify.error
    assert not forgets.ok and forgets.error == "step declares no outputs but returned a value of type int", forgets.error


@pytest.mark.parametrize("returned, says", [
    ("Path('gone.txt')", "the step returned the path gone.txt, which does not exist (return a path to a file or folder"),
    ("Path('.')", "the step returned the folder ., which holds the artifact store"),
])
def test_a_path_output_that_cannot_be_stored_says_why(tmp_path, monkeypatch, returned, says):
    project = tmp_path / "project"
    project.mkdir()
    (project / "steps_paths.py").write_text(f"from pathlib import Path\n\ndef path():\n    return {returned}\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(project))
    result = _run(project, "steps_paths.py", "path", tmp_path)
    assert not result.ok and result.error.startswith(says), result.error
    assert len(result.error) < 400 and result.traceback is None


@pytest.mark.parametrize("body", ["    for i in range(3):\n        yield i\n", "    return (i for i in range(3))\n"])
def test_a_step_that_yields_is_told_to_return_its_values(tmp_path, monkeypatch, body):
    project = tmp_path / "project"
    project.mkdir()
    (project / "steps_yield.py").write_text(f"def rows():\n{body}")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(project))
    result = _run(project, "steps_yield.py", "rows", tmp_path)
    assert not result.ok
    assert result.error == ("output 'output': the step returned a generator (a yield in its function, or a generator "
                            "expression), which is never run to its end; return the values instead, e.g. as a list"), result.error


def test_a_nan_output_fails_the_step_before_anything_is_stored(tmp_path, monkeypatch):
    project = tmp_path / "project"
    project.mkdir()
    (project / "steps_nan.py").write_text("def score():\n    return {'auc': float('nan')}\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(project))
    result = _run(project, "steps_nan.py", "score", tmp_path)
    assert not result.ok and result.error.startswith("output output.auc is NaN or infinite"), result.error
    assert list((project / ".zplan" / "artifacts").glob("*/*")) == []
