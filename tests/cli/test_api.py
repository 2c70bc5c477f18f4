"""The read API (`zplan.open`) on a real applied quickstart: every output and step artifact read back
equals what the CLI shows, nothing is written, and each bad request raises its own documented error."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import zplan
from zplan.api import ArtifactDamaged, InvalidProject, RunNotFound, SensitiveOutput, StoreUnreachable, UnknownAddress, UnknownOutput, ZplanAPIError

from .helpers import LINES_MATERIALIZER, QUICKSTART, Project, cli_env, copy_project

STEPS = ("load", "split", "scale", "train", "evaluate")


@pytest.fixture(scope="module")
def applied(tmp_path_factory) -> Project:
    """The quickstart applied twice: run 1 with c=1, run 2 with c=0.5 (train and evaluate rerun)."""
    project = copy_project(QUICKSTART, tmp_path_factory.mktemp("api") / "quickstart")
    project.git_commit_all()
    project.apply()
    project.apply("-var", "c=0.5")
    return project


def _tree(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()}


def test_runs_newest_first_with_status_and_commit(applied):
    api = zplan.open(applied.root)
    runs = api.runs()
    assert [r.number for r in runs] == [2, 1]
    assert all(r.status == "succeeded" and r.finished >= r.started for r in runs)
    head = subprocess.run(["git", "-C", str(applied.root), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    assert {r.git_commit for r in runs} == {head}
    listed = applied.ok("runs").out
    assert all(str(r.number) in listed for r in runs)
    assert {e.step for e in api.run(1).executions} == set(STEPS)


def test_every_output_and_step_artifact_reads_back(applied):
    before = _tree(applied.root)
    api = zplan.open(applied.root)
    recorded = json.loads(applied.ok("output", "-json").out)
    assert api.output("accuracy") == recorded["accuracy"]["value"]
    assert api.outputs() == {name: o["value"] for name, o in recorded.items()}
    assert api.output("accuracy", run=2) == recorded["accuracy"]["value"]
    records = applied.step_records()
    for step in STEPS:
        for name, out in records[step]["outputs"].items():
            artifact = api.artifact(f"pipeline.training.step.{step}", output=name)
            assert (artifact.digest, artifact.uri) == (out["digest"], out["uri"])
            assert artifact.size > 0 and artifact.load() is not None
            assert artifact.produced_by.address == f"pipeline.training.step.{step}"
    train = api.artifact("pipeline.training.step.train")
    assert train.produced_by.params["c"] == 0.5 and train.produced_by.run == 2
    assert train.produced_by.code_fingerprint and train.produced_by.git_commit
    assert api.artifact("pipeline.training.step.train", run=1).produced_by.params["c"] == 1.0
    lineage = train.lineage()
    assert {n.produced_by.step for n in lineage.walk() if n.produced_by} == {"load", "split", "scale", "train"}
    api.runs(), api.run(1), api.plan()
    assert _tree(applied.root) == before  # nothing written: no state, metadata, cache or bytecode


def test_plan_is_read_only_and_all_cached(applied):
    doc = zplan.open(applied.root).plan()
    cli = applied.plan_json()
    assert {s["address"]: s["action"] for s in doc["steps"]} == {s["address"]: s["action"] for s in cli["steps"]}
    with pytest.raises(TypeError):
        doc["steps"] = ()  # type: ignore[index]


def test_import_is_cheap_and_loading_never_imports_step_code(applied, tmp_path):
    script = (
        "import sys, zplan\n"
        "assert 'zplan.api' not in sys.modules\n"
        f"model = zplan.open({str(applied.root)!r}).artifact('pipeline.training.step.train').load()\n"
        "assert not any(m == 'steps' or m.startswith('steps.') for m in sys.modules), 'step code imported'\n"
        "print(type(model).__name__)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, env=cli_env())
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "LogisticRegression"


def test_loading_what_a_materializer_of_the_project_wrote_asks_for_its_module_to_be_imported(tmp_path):
    """The API never imports step code: without the module registering it, the artifact cannot be read, and that
    is an error of the API, saying what to do; with it imported, it loads."""
    project = Project(tmp_path / "p")
    project.write("main.zp.hcl", 'pipeline "p" {\n  step "a" {\n    source = "steps/a.py:a"\n  }\n}\n')
    project.write("steps/__init__.py", "")
    project.write("steps/mats.py", LINES_MATERIALIZER)
    project.write("steps/a.py", "import steps.mats  # registers\n\n\ndef a():\n    return [1, 2]\n")
    project.apply()
    script = (
        "import sys, zplan\n"
        "from zplan.api import MaterializerMissing\n"
        f"artifact = zplan.open({str(project.root)!r}).artifact('pipeline.p.step.a')\n"
        "try:\n    artifact.load()\nexcept MaterializerMissing as exc:\n    print(exc.summary)\n"
        f"sys.path.insert(0, {str(project.root)!r})\n"
        "import steps.mats\n"
        "print(artifact.load())\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, env=cli_env())
    assert done.returncode == 0, done.stderr
    digest = project.step_records()["a"]["outputs"]["output"]["digest"]
    assert done.stdout.splitlines() == [f"artifact {digest[:12]}: no materializer named 'lines' is registered", "[1, 2]"]


def test_explore_example_recomputes_the_recorded_accuracy(applied):
    shutil.copy(QUICKSTART / "explore.py", applied.root / "explore.py")
    done = subprocess.run([sys.executable, "explore.py"], cwd=applied.root, capture_output=True, text=True, env=cli_env(), timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "accuracy" in done.stdout


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda p: p.artifact("pipeline.training.step.nope"), UnknownAddress),
        (lambda p: p.artifact("resource.local_directory.reports"), UnknownAddress),
        (lambda p: p.artifact("pipeline.training.step.train", output="nope"), UnknownAddress),
        (lambda p: p.output("nope"), UnknownOutput),
        (lambda p: p.run(99), RunNotFound),
        (lambda p: p.artifact("pipeline.training.step.train", run=99), RunNotFound),
        (lambda p: p.runs(0), ZplanAPIError),  # not "every run", nor a store error
        (lambda p: p.runs(-1), ZplanAPIError),
        (lambda p: p.runs(status="succeded"), ZplanAPIError),  # a typo: not "no such run"
        (lambda p: p.lineage("train"), UnknownAddress),  # an artifact id is a number
    ],
)
def test_bad_requests_raise_their_error(applied, call, error):
    with pytest.raises(error) as caught:
        call(zplan.open(applied.root))
    assert isinstance(caught.value, ZplanAPIError) and caught.value.summary
    assert not isinstance(caught.value, StoreUnreachable)


def test_a_mistake_in_the_project_is_invalid_project_not_a_store_error(applied, tmp_path):
    """What the caller must fix in the project is not reported as a store it cannot reach."""
    (tmp_path / "empty").mkdir()
    broken = applied.clone(tmp_path / "broken")
    broken.write("broken.zp.hcl", 'output "x" {\n  value = \n}\n')
    calls = [
        (lambda: zplan.open(tmp_path / "empty"), "no *.zp.hcl files"),
        (lambda: zplan.open(broken.root), 'expected a value after "value ="'),
        (lambda: zplan.open(applied.root, stack="nope"), 'no stack named "nope"'),
        (lambda: zplan.open(applied.root).saved_plan("nope.zplan"), "nope.zplan does not exist"),
    ]
    for call, message in calls:
        with pytest.raises(InvalidProject, match=message.replace("*", r"\*").replace(".", r"\.")) as caught:
            call()
        assert not isinstance(caught.value, StoreUnreachable)
    with pytest.raises(InvalidProject) as caught:
        zplan.open(broken.root)
    assert [str(d.range).rsplit(":", 2)[0].endswith("broken.zp.hcl") for d in caught.value.diagnostics] == [True]


def test_sensitive_output_is_refused_unless_revealed(applied, tmp_path):
    project = applied.clone(tmp_path / "p")
    project.write("secret.zp.hcl", 'output "secret_accuracy" {\n  value     = step.evaluate.outputs.output\n  sensitive = true\n}\n')
    api = zplan.open(project.root)
    with pytest.raises(SensitiveOutput):
        api.output("secret_accuracy")
    assert api.output("secret_accuracy", run=2, reveal=True) == api.output("accuracy")


def test_a_large_json_output_reads_back_as_its_value_not_its_artifact_uri(tmp_path):
    """A step's JSON output over 4 KB is kept in state as its artifact's URI; the API gives the value."""
    metrics = {f"class_{i}": {"precision": i / 1000, "recall": 0.5} for i in range(200)}
    project = Project(tmp_path / "p")
    project.write("main.zp.hcl", 'pipeline "p" {\n  step "m" {\n    source = "steps.py:metrics"\n  }\n}\n\n'
                                 'output "metrics" {\n  value = step.m.outputs.output\n}\n')
    project.write("steps.py", f"def metrics() -> dict:\n    return {metrics!r}\n")
    project.apply()
    api = zplan.open(project.root)
    assert api.output("metrics") == metrics and api.outputs() == {"metrics": metrics}
    digest = project.step_records()["m"]["outputs"]["output"]["digest"]
    for folder in project.path(".zplan/artifacts").rglob(digest):
        shutil.rmtree(folder)
    with pytest.raises(ArtifactDamaged, match="the output of pipeline.p.step.m"):
        zplan.open(project.root).output("metrics")


def test_damaged_artifact_is_refused(applied, tmp_path):
    project = applied.clone(tmp_path / "p")
    api = zplan.open(project.root)
    artifact = api.artifact("pipeline.training.step.train")
    (victim,) = [p for p in artifact.path().rglob("*") if p.is_file() and p.name != ".complete"][:1]
    victim.chmod(0o644)
    victim.write_bytes(victim.read_bytes() + b"tampered")
    with pytest.raises(ArtifactDamaged):
        api.artifact("pipeline.training.step.train").load()


def test_unreachable_metadata_store_is_one_error(applied, tmp_path):
    project = applied.clone(tmp_path / "p")
    project.replace("main.zp.hcl", 'metadata_store = "sqlite:///.zplan/metadata.db"', 'metadata_store = "mysql://zplan@127.0.0.1:1/zplan"')
    with pytest.raises(StoreUnreachable):
        zplan.open(project.root).runs()


def test_a_damaged_state_file_is_the_state_backend_s_error_for_every_read_of_it(applied, tmp_path):
    """``resources()`` called a damaged state.json a mistake in the configuration (InvalidProject), where
    ``outputs()`` and ``output()`` call it what the README says: the state backend cannot be read."""
    project = applied.clone(tmp_path / "p")
    project.write(".zplan/state.json", "{garbage")
    api = zplan.open(project.root)
    for read in (api.outputs, api.resources, lambda: api.output("accuracy")):
        with pytest.raises(StoreUnreachable, match="state.json is damaged"):
            read()


def test_runs_before_a_number_past_the_store_s_integers_are_every_run(applied):
    """A run number past 64 bits was handed to the store's filter, which refused it: a store error
    (StoreUnreachable, and a 400 page on the dashboard) for a page of runs that are all below it."""
    from starlette.testclient import TestClient

    from zplan.ui.app import create_app

    api = zplan.open(applied.root)
    assert [r.number for r in api.runs(before=10**30)] == [2, 1]
    page = TestClient(create_app(applied.root)).get("/api/runs", params={"before": str(10**30)})
    assert page.status_code == 200 and [r["number"] for r in page.json()["runs"]] == [2, 1]


def test_log_of_an_instance_whose_key_holds_a_slash_or_percent(tmp_path):
    # Log files are named with "/" and "%" escaped; reading must name them the same way.
    project = Project(tmp_path)
    project.write("main.zp.hcl", 'pipeline "p" {\n  step "s" {\n    for_each = toset(["data/a.csv", "50%"])\n'
                                 '    source   = "steps.py:say"\n    params   = { key = each.key }\n  }\n}\n')
    project.write("steps.py", 'def say(key: str) -> str:\n    print("said", key)\n    return key\n')
    project.apply()
    api = zplan.open(tmp_path)
    assert api.log(1, 'pipeline.p.step.s["data/a.csv"]') == "said data/a.csv\n"
    assert api.log(1, 'pipeline.p.step.s["50%"]') == "said 50%\n"


def test_an_output_of_an_instance_or_of_several_step_outputs_has_each_run_s_value(tmp_path):
    project = Project(tmp_path)
    project.write("main.zp.hcl", 'variable "k" {\n  default = 1\n}\n\n'
                                 'pipeline "p" {\n  step "a" {\n    source = "steps.py:plus"\n    params = { k = var.k, n = 0 }\n  }\n'
                                 '  step "b" {\n    for_each = { x = 10, y = 20 }\n    source   = "steps.py:plus"\n'
                                 '    params   = { k = var.k, n = each.value }\n  }\n}\n\n'
                                 'output "inst" {\n  value = step.b["x"].outputs.output\n}\n\n'
                                 'output "both" {\n  value = [step.a.outputs.output, step.b["y"].outputs.output]\n}\n')
    project.write("steps.py", "def plus(k: int, n: int) -> int:\n    return k + n\n")
    project.apply()
    project.apply("-var", "k=2")
    api = zplan.open(tmp_path)
    assert (api.output("inst"), api.output("both")) == (12, [2, 22])
    assert (api.output("inst", run=1), api.output("both", run=1)) == (11, [1, 21])  # not step a's value alone
    assert [p.value for p in api.output_history("inst")] == [11, 12] and api.output_is_traced("inst")
    assert [p.value for p in api.output_history("both")] == [[1, 21], [2, 22]]
    assert api.output_artifact("inst").produced_by.address == 'pipeline.p.step.b["x"]'


def test_an_artifact_two_steps_made_alike_is_traced_to_the_step_asked_about(tmp_path):
    # evaluate and a smoke test both give 1.0: one artifact, made first by evaluate
    project = Project(tmp_path)
    project.write("main.zp.hcl", 'pipeline "p" {\n  step "evaluate" {\n    source = "steps.py:score"\n  }\n'
                                 '  step "smoke" {\n    source = "steps.py:check"\n    inputs = { offline = step.evaluate.outputs.output }\n  }\n}\n\n'
                                 'output "served" {\n  value = step.smoke.outputs.output\n}\n')
    project.write("steps.py", "def score() -> float:\n    return 1.0\n\n\ndef check(offline: float) -> float:\n    return 1.0\n")
    project.apply()
    api = zplan.open(tmp_path)
    smoke = api.artifact("pipeline.p.step.smoke")
    assert smoke.id == api.artifact("pipeline.p.step.evaluate").id
    assert smoke.produced_by.address == "pipeline.p.step.smoke" and smoke.lineage().produced_by.address == "pipeline.p.step.smoke"
    assert api.output_artifact("served").produced_by.address == "pipeline.p.step.smoke"
    for what in ("served", "pipeline.p.step.smoke"):
        assert project.ok("lineage", what).out.splitlines()[1].startswith("  <- pipeline.p.step.smoke (run 1, complete")
    assert project.ok("lineage", "pipeline.p.step.evaluate").out.splitlines()[1].startswith("  <- pipeline.p.step.evaluate (")
    from starlette.testclient import TestClient

    from zplan.ui.app import create_app

    page = TestClient(create_app(tmp_path)).get("/api/lineage/output/served").json()
    assert [n["address"] for n in page["nodes"] if n["kind"] == "execution"] == ["pipeline.p.step.smoke"]
