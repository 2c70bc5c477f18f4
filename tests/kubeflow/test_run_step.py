"""`zplan run-step` as a Kubeflow / Vertex task runs it: told what the apply planned, it plans the
step again from the project it finds (here a local project stands in for the image's) and runs it
only when both plans agree."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time

import pytest

from tests.cli.helpers import zplan
from zplan.apply.remote import pipeline_tasks
from zplan.artifacts import ArtifactStore
from zplan.diags import DiagnosticError
from zplan.hooks import Hooks, Recorder
from zplan.operations.opening import ProjectArgs, open_project
from zplan.operations.run_step import run_step
from zplan.plan import model as m
from zplan.plan.planner import Planner, PlanRequest
from zplan.state.model import State

FIT = "pipeline.p.step.fit"
HCL = '''
variable "c" {
  type    = number
  default = 1.0
}

variable "layers" {
  default = [64, 32]
}

variable "token" {
  default   = "the-default-token"
  sensitive = true
}

pipeline "p" {
  step "fit" {
    source = "steps.py:fit"
    params = { c = var.c, layers = var.layers, token = var.token }
  }
}
'''
STEP = "def fit(c, layers, token):\n    return c * len(layers)\n"


@pytest.fixture
def project_dir(tmp_path, monkeypatch):
    root = tmp_path / "project"
    root.mkdir()
    (root / "main.zp.hcl").write_text(HCL)
    (root / "steps.py").write_text(STEP)
    monkeypatch.setenv("ZPLAN_VAR_token", "s3cret-from-env")  # the applying machine's secret
    return root


def _task_arguments(root, *variables: str, **request) -> list[str]:
    """The run-step arguments an apply with these -var compiles for the step."""
    project = open_project(ProjectArgs(root, list(variables)))
    plan = Planner(project, State(project.state_backend().read())).plan(PlanRequest(**request))
    return next(t for t in pipeline_tasks(project, list(plan.steps)) if t.address == FIT).arguments


def _applied(root, *variables: str):
    """What an apply with these -var compiles for the step: run-step's planned values and digests."""
    args = dict(zip(*[iter(_task_arguments(root, *variables))] * 2))
    return json.loads(args["-planned-vars"]), json.loads(args["-planned"])


def _step_plan(root, *variables: str) -> m.StepPlan:
    project = open_project(ProjectArgs(root, list(variables)))
    return Planner(project, State(project.state_backend().read())).plan(PlanRequest()).step(FIT)


def test_the_task_runs_with_the_values_the_apply_planned_with(project_dir):
    values, digests = _applied(project_dir, "c=0.5", "layers=[8, 4, 2]")
    assert values == {"c": 0.5, "layers": [8, 4, 2]}  # never the sensitive token
    assert run_step(ProjectArgs(project_dir), FIT, Recorder(), values, digests)
    # recorded under the key the apply planned: planning again with the same -var finds it cached
    assert _step_plan(project_dir, "c=0.5", "layers=[8, 4, 2]").action == m.CACHED
    assert _step_plan(project_dir).action == m.RUN


def test_the_task_refuses_a_step_planned_with_other_values(project_dir, monkeypatch):
    values, digests = _applied(project_dir, "c=0.5")
    with pytest.raises(DiagnosticError, match=r"pipeline.p.step.fit differs from what the apply planned \(params\)"):
        run_step(ProjectArgs(project_dir), FIT, Recorder(), None, digests)  # the values not passed: c is 1.0 here
    monkeypatch.delenv("ZPLAN_VAR_token")  # the task's environment lacks the secret: the default is used
    with pytest.raises(DiagnosticError, match="ZPLAN_VAR_token") as refused:
        run_step(ProjectArgs(project_dir), FIT, Recorder(), values, digests)
    assert "s3cret" not in str(refused.value)
    assert not (project_dir / ".zplan" / "artifacts").exists(), "nothing ran"
    assert _step_plan(project_dir, "c=0.5").reasons[0].code == m.NEVER_RAN


def test_an_image_with_other_code_is_refused_with_what_to_do(project_dir):
    values, digests = _applied(project_dir)
    (project_dir / "steps.py").write_text(STEP.replace("c * len", "c + len"))  # the image holds other code
    with pytest.raises(DiagnosticError, match=r"differs from what the apply planned \(code\)") as refused:
        run_step(ProjectArgs(project_dir), FIT, Recorder(), values, digests)
    assert "zplan build-image" in refused.value.diagnostics[0].detail


def test_a_variable_the_image_does_not_declare_is_refused(project_dir):
    values, digests = _applied(project_dir)
    with pytest.raises(DiagnosticError, match='planned with variable "epochs", which this image\'s configuration does not declare'):
        run_step(ProjectArgs(project_dir), FIT, Recorder(), {**values, "epochs": 3}, digests)



def test_a_step_the_apply_replaces_reruns_in_its_task(project_dir):
    values, digests = _applied(project_dir)
    assert run_step(ProjectArgs(project_dir), FIT, Recorder(), values, digests)
    arguments = _task_arguments(project_dir, replace=[FIT])  # apply -replace: "will rerun: forced by -replace"
    assert arguments[-2:] == ["-replace", FIT]
    hooks = Recorder()
    assert run_step(ProjectArgs(project_dir), FIT, hooks, values, digests, replace=True)
    assert [e[0] for e in hooks.events if e[0].startswith("step_")] == ["step_started", "step_finished"]


@pytest.mark.parametrize("cache", ["true", "false"])
def test_a_task_reads_what_its_upstream_task_recorded(tmp_path, cache):
    root = _project(tmp_path, "def load():\n    return 20\n\n\ndef double(x):\n    return 2 * x\n",
                    f'pipeline "p" {{\n  step "load" {{\n    source = "steps.py:load"\n    cache  = {cache}\n  }}\n'
                    '  step "double" {\n    source = "steps.py:double"\n    inputs = { x = step.load.outputs.output }\n  }\n}\n')
    with pytest.raises(DiagnosticError, match="reads pipeline.p.step.load, which has no successful result recorded"):
        run_step(ProjectArgs(root), "pipeline.p.step.double", Recorder())
    assert run_step(ProjectArgs(root), "pipeline.p.step.load", Recorder())  # the tasks, in the order KFP runs them
    hooks = Recorder()
    assert run_step(ProjectArgs(root), "pipeline.p.step.double", hooks)
    assert [e[0] for e in hooks.events if e[0].startswith("step_")] == ["step_started", "step_finished"]
    [finished] = [e for e in hooks.events if e[0] == "step_finished"]
    assert finished[2] is True, finished  # ok: its input came from the upstream task's record


def _tasks(root, *arguments: list[str]) -> None:
    """``zplan run-step ARGUMENTS`` for each of ``arguments``, all at once (the pods of one pipeline)."""
    env = {**os.environ, "ZPLAN_NO_COLOR": "1"}
    tasks = [subprocess.Popen([sys.executable, "-m", "zplan.cli.app", "run-step", *a], cwd=root, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for a in arguments]
    for task in tasks:
        out, _ = task.communicate(timeout=120)
        assert task.returncode == 0, out


SIDE_BY_SIDE = """import json
import time
from pathlib import Path


def timed(name, other, folder):
    \"\"\"Notes when it started, waits (at most 20 s) for its sibling to start, notes when it ended.\"\"\"
    folder = Path(folder)
    start = time.time()
    (folder / f"{name}.started").write_text("")
    while not (folder / f"{other}.started").exists() and time.time() < start + 20:
        time.sleep(0.05)
    (folder / f"{name}.json").write_text(json.dumps([start, time.time()]))
    return name
"""


def test_independent_tasks_run_side_by_side_and_both_are_recorded(tmp_path):
    root, times = tmp_path / "project", tmp_path / "times"
    root.mkdir()
    times.mkdir()
    (root / "steps.py").write_text(SIDE_BY_SIDE)
    steps = "".join(f'  step "{n}" {{\n    source = "steps.py:timed"\n    params = {{ name = "{n}", other = "{o}", folder = "{times}" }}\n  }}\n'
                    for n, o in (("a", "b"), ("b", "a")))
    both = 'output "both" {\n  value = [step.a.outputs.output, step.b.outputs.output]\n}\n'
    (root / "main.zp.hcl").write_text(f'pipeline "p" {{\n{steps}}}\n{both}')
    _tasks(root, ["pipeline.p.step.a"], ["pipeline.p.step.b"])
    (a_start, a_end), (b_start, b_end) = (json.loads((times / f"{n}.json").read_text()) for n in "ab")
    assert a_start < b_end and b_start < a_end, "the second task waited for the first one's step to end"
    project = open_project(ProjectArgs(root))
    plan = Planner(project, State(project.state_backend().read())).plan(PlanRequest())
    assert [(s.address, s.action) for s in plan.steps] == [("pipeline.p.step.a", m.CACHED), ("pipeline.p.step.b", m.CACHED)]
    assert {s.cached_from.run for s in plan.steps} == {1, 2}, "each task's own run"
    assert State(project.state_backend().read()).outputs_of(project.stack_name)["both"]["value"] == ["a", "b"]
    for n in "ab":  # a task of the next pipeline run finds its step cached
        hooks = Recorder()
        assert run_step(ProjectArgs(root), f"pipeline.p.step.{n}", hooks)
        assert not [e for e in hooks.events if e[0] == "step_started"]


def test_tasks_side_by_side_on_a_new_metadata_store_all_record(tmp_path, mysql_url):
    root = tmp_path / "project"
    root.mkdir()
    (root / "steps.py").write_text("def s(k):\n    return k\n")
    keys = ["a", "b", "c", "d"]
    (root / "main.zp.hcl").write_text(f'stack "team" {{\n  artifact_store = "file://.zplan/artifacts"\n  metadata_store = "{mysql_url}"\n}}\n\n'
                                      f'pipeline "p" {{\n  step "s" {{\n    for_each = toset({json.dumps(keys)})\n'
                                      '    source   = "steps.py:s"\n    params   = { k = each.key }\n  }\n}\n')
    _tasks(root, *([f'pipeline.p.step.s["{k}"]', "-stack", "team"] for k in keys))  # the first tasks ever to write there
    project = open_project(ProjectArgs(root, stack="team"))
    plan = Planner(project, State(project.state_backend().read())).plan(PlanRequest())
    assert {s.action for s in plan.steps} == {m.CACHED} and len(plan.steps) == 4


def test_a_task_takes_the_lock_only_to_write_something_new(project_dir, monkeypatch):
    from zplan.state.backend import FileBackend

    written, write = [], FileBackend.write

    def noted(self, doc, **kwargs):
        written.append(json.dumps(doc, sort_keys=True))
        write(self, doc, **kwargs)

    monkeypatch.setattr(FileBackend, "write", noted)
    values, digests = _applied(project_dir)
    assert run_step(ProjectArgs(project_dir), FIT, Recorder(), values, digests)
    assert written and all(a != b for a, b in zip(written, written[1:])), "the siblings wait for each write"


def test_a_metadata_store_known_only_after_apply_is_named_as_such(tmp_path):
    root = _project(tmp_path, "def a():\n    return 1\n",
                    'resource "local_directory" "d" {\n  path = "meta"\n}\n\n'
                    'stack "s" {\n  artifact_store = "file://.zplan/artifacts"\n'
                    '  metadata_store = "sqlite:///${resource.local_directory.d.id}/m.db"\n}\n\n'
                    'pipeline "p" {\n  step "a" {\n    source = "steps.py:a"\n  }\n}\n')
    with pytest.raises(DiagnosticError, match="stack s: metadata_store still unknown after its resources were applied"):
        run_step(ProjectArgs(root, stack="s"), "pipeline.p.step.a", Recorder())  # the resource was never applied


class _GcAsTheStepIsTakenFromTheCache(Hooks):
    """Runs a real `zplan gc -keep-runs 1` at the moment the task has planned its step as cached
    and not recorded it yet: the task holds no lock then (its siblings run meanwhile)."""

    def __init__(self, root) -> None:
        self.root, self.gc = root, None

    def step_cached(self, address: str, reason: str) -> None:
        self.gc = zplan(self.root, "gc", "-keep-runs", "1")


def test_an_old_cache_hit_a_task_reuses_is_renewed_so_gc_keeps_it_for_the_steps_downstream(tmp_path):
    """fit with c=1 ran in run 1, with c=2 in run 2 (its latest record), both days ago. A pipeline
    run with c=1 takes fit from run 1's entry: a gc keeping only the newest run, between the task's
    plan and its record, would delete that artifact under it and the step reading it downstream."""
    root = _project(tmp_path, "def fit(c):\n    return [c] * 100\n\n\ndef total(xs):\n    return sum(xs)\n",
                    'variable "c" {\n  default = 1\n}\n\npipeline "p" {\n  step "fit" {\n    source = "steps.py:fit"\n'
                    '    params = { c = var.c }\n  }\n  step "total" {\n    source = "steps.py:total"\n'
                    '    inputs = { xs = step.fit.outputs.output }\n  }\n}\n')
    for c in ("1", "2"):
        assert run_step(ProjectArgs(root, [f"c={c}"]), FIT, Recorder())
    store = ArtifactStore.from_url("file://.zplan/artifacts", root)
    days_ago = time.time() - 3 * 86400
    for artifact in store.listing():
        os.utime(store.path(artifact.digest), (days_ago, days_ago))
    reused = _step_plan(root, "c=1").cached_from.outputs["output"]["digest"]

    hooks = _GcAsTheStepIsTakenFromTheCache(root)
    assert run_step(ProjectArgs(root, ["c=1"]), FIT, hooks)
    assert hooks.gc is not None and hooks.gc.code == 0, hooks.gc
    assert reused not in hooks.gc.out and "Kept 1 artifact(s) nothing refers to" in hooks.gc.out, hooks.gc.out
    assert store.exists(reused)
    assert run_step(ProjectArgs(root, ["c=1"]), "pipeline.p.step.total", Recorder())
    assert _step_plan(root, "c=1").cached_from.outputs["output"]["digest"] == reused


def test_a_task_reads_its_upstream_result_of_this_pipeline_run_not_another_runs_recorded_since(tmp_path):
    """load (cache = false) ran with c=1 in this pipeline run, then with c=5 in another one running
    beside it (the latest record): double, in the c=1 run, reads load's c=1 result."""
    root = _project(tmp_path, "def load(c):\n    return c\n\n\ndef double(x):\n    return 2 * x\n",
                    'variable "c" {\n  default = 1\n}\n\npipeline "p" {\n  step "load" {\n    source = "steps.py:load"\n'
                    '    cache  = false\n    params = { c = var.c }\n  }\n  step "double" {\n    source = "steps.py:double"\n'
                    '    inputs = { x = step.load.outputs.output }\n  }\n}\n\noutput "d" {\n  value = step.double.outputs.output\n}\n')
    for c in ("1", "5"):
        assert run_step(ProjectArgs(root, [f"c={c}"]), "pipeline.p.step.load", Recorder())
    assert run_step(ProjectArgs(root, ["c=1"]), "pipeline.p.step.double", Recorder())
    project = open_project(ProjectArgs(root, ["c=1"]))
    assert State(project.state_backend().read()).outputs_of(project.stack_name)["d"]["value"] == 2
    (root / "steps.py").write_text("def load(c):\n    return c + 1\n\n\ndef double(x):\n    return 2 * x\n")  # load never ran so
    with pytest.raises(DiagnosticError, match="reads pipeline.p.step.load, which has no successful result recorded for what this pipeline run planned"):
        run_step(ProjectArgs(root, ["c=1"]), "pipeline.p.step.double", Recorder())


def test_a_cache_hit_a_task_finds_only_with_its_upstream_result_is_renewed_too(tmp_path):
    """double reads load (cache = false), so its key is known only once load's task recorded: the
    task finds it cached as it starts, from run 2 (c=1), while its latest record is c=5's. A gc
    keeping only the newest run before the task records must not delete that artifact."""
    root = _project(tmp_path, "def load(c):\n    return [c] * 100\n\n\ndef double(x):\n    return [2 * v for v in x]\n",
                    'variable "c" {\n  default = 1\n}\n\npipeline "p" {\n  step "load" {\n    source = "steps.py:load"\n'
                    '    cache  = false\n    params = { c = var.c }\n  }\n  step "double" {\n    source = "steps.py:double"\n'
                    '    inputs = { x = step.load.outputs.output }\n  }\n}\n')
    for c in ("1", "5"):
        for step in ("load", "double"):
            assert run_step(ProjectArgs(root, [f"c={c}"]), f"pipeline.p.step.{step}", Recorder())
    assert run_step(ProjectArgs(root, ["c=1"]), "pipeline.p.step.load", Recorder())
    store = ArtifactStore.from_url("file://.zplan/artifacts", root)
    days_ago = time.time() - 3 * 86400
    for artifact in store.listing():
        os.utime(store.path(artifact.digest), (days_ago, days_ago))
    (recorded,) = State(open_project(ProjectArgs(root)).state_backend().read()).doc["stores"].values()
    reused = next(e for e in recorded["cache"].values()
                  if e["address"] == "pipeline.p.step.double" and e["run"] == 2)["outputs"]["output"]["digest"]

    hooks = _GcAsTheStepIsTakenFromTheCache(root)
    assert run_step(ProjectArgs(root, ["c=1"]), "pipeline.p.step.double", hooks)
    assert hooks.gc is not None and hooks.gc.code == 0, hooks.gc
    assert reused not in hooks.gc.out and store.exists(reused), hooks.gc.out


def test_a_task_waits_for_the_lock_as_long_as_it_is_told(project_dir):
    """A task that finds the lock held (an apply or gc of the user's) waits -lock-timeout, then
    names the holder; the apply tells its tasks its own -lock-timeout when that is longer than
    a task's default (10m), never a shorter one (its siblings take the lock in turn)."""
    from zplan.state.backend import StateLockedError

    values, digests = _applied(project_dir)
    backend = open_project(ProjectArgs(project_dir)).state_backend()
    with backend.lock("gc"):
        began = time.monotonic()
        with pytest.raises(StateLockedError, match="state is locked: .* gc by"):
            run_step(ProjectArgs(project_dir), FIT, Recorder(), values, digests, lock_timeout=1.5)
        assert 1.4 <= time.monotonic() - began < 10
    with backend.lock("gc"):
        held = zplan(project_dir, "run-step", FIT, "-lock-timeout", "0.5s")
    assert held.code == 1 and "state is locked" in held.err and "Traceback" not in held.err
    assert zplan(project_dir, "run-step", FIT, "-lock-timeout", "soon").err.count("invalid -lock-timeout 'soon'") == 1
    assert "-lock-timeout" not in _task_arguments(project_dir)
    project = open_project(ProjectArgs(project_dir))
    plan = Planner(project, State(project.state_backend().read())).plan(PlanRequest())
    assert "-lock-timeout" not in pipeline_tasks(project, list(plan.steps), 300.0)[0].arguments
    assert pipeline_tasks(project, list(plan.steps), 5400.0)[0].arguments[-2:] == ["-lock-timeout", "5400s"]


HOLD_THE_LOCK_ONCE_THE_STEP_RUNS = """
import sys, time
from pathlib import Path
from zplan.state.backend import FileBackend

folder = Path(sys.argv[1])
while not (folder / "started").exists():
    time.sleep(0.02)
with FileBackend(Path(".zplan/state.json")).lock("gc") as info:
    print(info.id, flush=True)
    (folder / "go").write_text("")
    time.sleep(120)
"""


def test_a_task_that_cannot_get_the_lock_to_record_keeps_its_result_for_its_retry(tmp_path):
    """Another process (a gc of the user's) takes the lock while the step runs and holds it past the
    task's -lock-timeout: the step's record is kept in the recovery file, and the task run again
    takes it from there instead of running the step again."""
    from zplan.apply.state_writes import RECOVERY_NAME

    root = _slow_steps(tmp_path, "slow")
    task, lock_id = _locked_out(root, "pipeline.p.step.slow", tmp_path / "slow")
    kept = root / ".zplan" / RECOVERY_NAME
    assert task.code == 1 and "Traceback" not in task.err, task
    assert f"cannot record the state: state is locked: ID {lock_id}, gc by" in task.err
    assert "these ran but are not recorded in state: pipeline.p.step.slow\n" in task.err
    assert f"is kept in {kept}: once the lock is free, run this task again" in task.err
    assert "takes the record of pipeline.p.step.slow from there instead of running it again" in task.err
    assert [s.reasons[0].code for s in _plans_of(root)] == [m.NEVER_RAN]  # nothing half-written
    gc = zplan(root, "gc", "-grace", "0", "-keep-runs", "0")  # keeps what the file refers to, as state's
    assert gc.code == 0 and "Removed 0 artifact(s)" in gc.out, gc

    hooks = Recorder()  # the retry, once the lock is free
    assert run_step(ProjectArgs(root), "pipeline.p.step.slow", hooks)
    assert not [e for e in hooks.events if e[0] == "step_started"], "the step ran again"
    assert [s.action for s in _plans_of(root)] == [m.CACHED]


def test_sibling_tasks_locked_out_in_turn_both_keep_their_results(tmp_path):
    """The second task's recovery file holds what the first one kept there too."""
    root = _slow_steps(tmp_path, "a", "b")
    for step in "ab":
        assert _locked_out(root, f"pipeline.p.step.{step}", tmp_path / step)[0].code == 1
    for step in "ab":
        hooks = Recorder()
        assert run_step(ProjectArgs(root), f"pipeline.p.step.{step}", hooks)
        assert not [e for e in hooks.events if e[0] == "step_started"], f"{step} ran again"
    assert [s.action for s in _plans_of(root)] == [m.CACHED, m.CACHED]


def _slow_steps(tmp_path, *names: str):
    """Steps that each note in a folder of its name that it started, then wait to be let go."""
    steps = "".join(f'  step "{n}" {{\n    source = "steps.py:slow"\n    params = {{ folder = "{tmp_path / n}" }}\n  }}\n' for n in names)
    for n in names:
        (tmp_path / n).mkdir()
    return _project(tmp_path, "import time\nfrom pathlib import Path\n\n\ndef slow(folder):\n    (Path(folder) / 'started').write_text('')\n"
                              "    while not (Path(folder) / 'go').exists():\n        time.sleep(0.02)\n    return folder\n",
                    f'pipeline "p" {{\n{steps}}}\n')


def _locked_out(root, address: str, signals):
    """``zplan run-step ADDRESS`` while another process takes the lock once the step has started and
    holds it past the task's -lock-timeout; the task's result and the id of the lock it found held."""
    holder = subprocess.Popen([sys.executable, "-c", HOLD_THE_LOCK_ONCE_THE_STEP_RUNS, str(signals)], cwd=root, stdout=subprocess.PIPE, text=True)
    try:
        task = zplan(root, "run-step", address, "-lock-timeout", "1s")
        return task, holder.stdout.readline().strip()
    finally:
        holder.kill()
        holder.wait()


def _plans_of(root) -> list[m.StepPlan]:
    project = open_project(ProjectArgs(root))
    return list(Planner(project, State(project.state_backend().read())).plan(PlanRequest()).steps)


def _release_after_one_refused_write(server, database: str, holder) -> threading.Thread:
    """Let ``holder`` go (it holds the state row) once one write waiting for the row has given up."""
    def watch() -> None:
        watcher = server.connect(database, autocommit=True)
        try:
            first, deadline = None, time.monotonic() + 60
            while time.monotonic() < deadline:
                with watcher.cursor() as cur:
                    cur.execute("SELECT id FROM information_schema.PROCESSLIST WHERE info LIKE 'INSERT INTO zplan_state%%'")
                    waiting = {row[0] for row in cur.fetchall()}
                if first is None and waiting:
                    first = min(waiting)
                elif first is not None and first not in waiting:
                    break
                time.sleep(0.005)
        finally:
            watcher.close()
            holder.rollback()

    thread = threading.Thread(target=watch)
    thread.start()
    return thread


def test_a_task_whose_record_is_refused_once_records_its_step_with_its_last_write(tmp_path, mariadb_server, mysql_url, monkeypatch):
    """The write after the step is refused (another client holds the state row), the task's last write
    goes through: it must hold the step's record, never only a new serial."""
    from zplan.state.mysql import MySQLBackend

    root = _a_recorded_on_mysql(tmp_path, mysql_url)
    monkeypatch.setattr(MySQLBackend, "lock_wait_timeout", 1)
    database = mysql_url.rsplit("/", 1)[1]
    holder = mariadb_server.connect(database)
    with holder.cursor() as cur:
        cur.execute("START TRANSACTION")
        cur.execute("SELECT doc FROM zplan_state WHERE workspace = 'team' FOR UPDATE")
    released = _release_after_one_refused_write(mariadb_server, database, holder)
    try:
        with pytest.raises(DiagnosticError, match=r"Lock wait timeout exceeded; try restarting transaction; the task stopped there"):
            run_step(ProjectArgs(root, stack="team"), "pipeline.p.step.b", Recorder())
    finally:
        released.join(90)
        holder.close()
    project = open_project(ProjectArgs(root, stack="team"))
    plan = Planner(project, State(project.state_backend().read())).plan(PlanRequest())
    assert [(s.address, s.action) for s in plan.steps] == [("pipeline.p.step.a", m.CACHED), ("pipeline.p.step.b", m.CACHED)]


def test_a_task_whose_writes_are_all_refused_names_only_the_step_it_ran_and_keeps_the_state(tmp_path, mariadb_server, mysql_url, monkeypatch):
    """What an earlier task recorded is in state: the error names only what this task could not record."""
    from zplan.apply.state_writes import RECOVERY_NAME
    from zplan.state.mysql import MySQLBackend

    root = _a_recorded_on_mysql(tmp_path, mysql_url)
    monkeypatch.setattr(MySQLBackend, "lock_wait_timeout", 1)
    holder = mariadb_server.connect(mysql_url.rsplit("/", 1)[1])
    try:
        with holder.cursor() as cur:
            cur.execute("START TRANSACTION")
            cur.execute("SELECT doc FROM zplan_state WHERE workspace = 'team' FOR UPDATE")
        with pytest.raises(DiagnosticError) as refused:
            run_step(ProjectArgs(root, stack="team"), "pipeline.p.step.b", Recorder())
    finally:
        holder.rollback()
        holder.close()
    assert "these ran but are not recorded in state: pipeline.p.step.b\n" in str(refused.value)
    kept = root / ".zplan" / RECOVERY_NAME
    assert f"is kept in {kept}" in str(refused.value)
    assert set(json.loads(kept.read_text())["stores"].popitem()[1]["steps"]) == {"pipeline.p.step.a", "pipeline.p.step.b"}


def test_a_task_reads_the_upstream_result_its_own_pipeline_run_recorded_when_no_plan_knows_its_key(tmp_path):
    """load and scale both have cache = false, so scale's key is known only inside its task: double,
    in pipeline run A (c=1), reads scale's result of run A, not that of run B (c=5), recorded since."""
    root = _chain(tmp_path, scale_cached=False)
    for run, c in (("run-a", "1"), ("run-b", "5")):
        for step in ("load", "scale"):
            assert run_step(ProjectArgs(root, [f"c={c}"]), f"pipeline.p.step.{step}", Recorder(), pipeline_run=run)
    assert run_step(ProjectArgs(root, ["c=1"]), "pipeline.p.step.double", Recorder(), pipeline_run="run-a")
    project = open_project(ProjectArgs(root, ["c=1"]))
    assert State(project.state_backend().read()).outputs_of(project.stack_name)["d"]["value"] == 20
    with pytest.raises(DiagnosticError, match=r"reads pipeline.p.step.scale, which has no successful result recorded in this pipeline run \(run-c\)"):
        run_step(ProjectArgs(root, ["c=1"]), "pipeline.p.step.double", Recorder(), pipeline_run="run-c")


def test_every_task_of_a_compiled_pipeline_is_told_the_run_it_is_in(tmp_path):
    from kfp import dsl

    from zplan.kubeflow.compile import StepTask, compile_pipeline

    spec = compile_pipeline("p", [StepTask(FIT, "fit")], "image:1", "kf", tmp_path / "p.yaml").read_text()
    assert f"- -pipeline-run\n        - '{dsl.PIPELINE_JOB_ID_PLACEHOLDER}'" in spec, spec


def test_an_upstream_step_its_task_took_from_the_cache_is_found_as_this_pipeline_run_s_result(tmp_path):
    """scale reads load (cache = false), so no plan knows its key: in run B it is taken from run A's
    cache as its task starts, and double, in run B, finds that result as run B's."""
    root = _chain(tmp_path, scale_cached=True)
    for run in ("run-a", "run-b"):
        for step in ("load", "scale", "double"):
            assert run_step(ProjectArgs(root, ["c=1"]), f"pipeline.p.step.{step}", Recorder(), pipeline_run=run)
    project = open_project(ProjectArgs(root, ["c=1"]))
    state = State(project.state_backend().read())
    (key,) = state.doc["stores"]
    assert state.step_record(key, "pipeline.p.step.scale").pipeline_run == "run-b"
    assert state.outputs_of(project.stack_name)["d"]["value"] == 20


def _chain(tmp_path, scale_cached: bool):
    """load (cache = false) -> scale -> double, and an output of double's: no plan knows scale's key."""
    scale_cache = "" if scale_cached else "    cache  = false\n"
    return _project(
        tmp_path, "def load(c):\n    return c\n\n\ndef scale(x):\n    return 10 * x\n\n\ndef double(x):\n    return 2 * x\n",
        'variable "c" {\n  default = 1\n}\n\npipeline "p" {\n'
        '  step "load" {\n    source = "steps.py:load"\n    cache  = false\n    params = { c = var.c }\n  }\n'
        f'  step "scale" {{\n    source = "steps.py:scale"\n{scale_cache}    inputs = {{ x = step.load.outputs.output }}\n  }}\n'
        '  step "double" {\n    source = "steps.py:double"\n    inputs = { x = step.scale.outputs.output }\n  }\n}\n\n'
        'output "d" {\n  value = step.double.outputs.output\n}\n')


def _a_recorded_on_mysql(tmp_path, mysql_url):
    """Steps a and b with state and metadata on the MariaDB server; a recorded (the state row exists)."""
    root = _project(tmp_path, "def a():\n    return 1\n\n\ndef b():\n    return 2\n",
                    f'stack "team" {{\n  artifact_store = "file://.zplan/artifacts"\n  metadata_store = "{mysql_url}"\n}}\n\n'
                    'pipeline "p" {\n  step "a" {\n    source = "steps.py:a"\n  }\n'
                    '  step "b" {\n    source = "steps.py:b"\n  }\n}\n')
    assert run_step(ProjectArgs(root, stack="team"), "pipeline.p.step.a", Recorder())
    return root


def _project(tmp_path, steps: str, hcl: str):
    """A project folder holding steps.py and main.zp.hcl."""
    root = tmp_path / "project"
    root.mkdir()
    (root / "steps.py").write_text(steps)
    (root / "main.zp.hcl").write_text(hcl)
    return root
