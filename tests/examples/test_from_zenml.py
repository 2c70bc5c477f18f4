"""examples/from-zenml: ZenML's starter training pipeline (@step functions with Annotated outputs, a @pipeline),
converted by `zplan import-zenml` into a temporary copy, then applied — with the zplan fallbacks the steps
import when ZenML is absent, and (slow lane) with ZenML itself installed in a virtual environment of its own."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.helpers import cli_env, copy_project, ran, reasons, steps_by_action

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "from-zenml"
SPEC = "pipelines.training:training"
# Inside the checkout, like .venv-tfx: an environment kept elsewhere could hold another checkout's zplan.
ZENML_VENV = Path(os.environ.get("ZPLAN_ZENML_VENV", ROOT / ".venv-zenml"))


@pytest.fixture
def converted(tmp_path):
    project = copy_project(EXAMPLE, tmp_path / "project")
    project.path("zenml.zp.hcl").unlink()
    assert "wrote zenml.zp.hcl" in project.ok("import-zenml", SPEC).out
    return project


def test_the_converted_pipeline_is_the_one_shipped_with_the_example(converted):
    assert converted.read("zenml.zp.hcl") == (EXAMPLE / "zenml.zp.hcl").read_text()


def test_what_is_not_converted_is_named_at_its_file_and_line(converted):
    """The list of what was not converted said `line 22:` without the file, which need not be the module
    named on the command line (a package re-exports its pipeline). Each note starts at its file:line."""
    converted.replace("pipelines/training.py", "    model = model_trainer(",
                      "    for i in range(2):\n        print(i)\n    model = model_trainer(")
    shown = converted.ok("import-zenml", SPEC, "-force").out
    assert "  - pipelines/training.py:21: for statement not converted: for i in range(2):\n" in shown, shown
    assert "line 21" not in shown
    converted.ok("plan")


def test_the_zenml_shaped_steps_run_with_their_names_metadata_and_logs(converted):
    first = converted.apply()
    assert ran(first) == {"data_loader", "data_splitter", "data_preprocessor", "model_trainer", "model_evaluator"}, str(first)
    records = converted.step_records()
    assert set(records["data_preprocessor"]["outputs"]) == {"dataset_trn", "dataset_tst", "preprocess_pipeline"}
    assert set(records["model_trainer"]["outputs"]) == {"sklearn_classifier"}
    log = converted.read(".zplan/logs/local/run-1/pipeline.training.step.model_evaluator.log")
    assert "INFO steps.model_evaluator: Test accuracy=" in log, log
    _check_metadata(converted.root, sys.executable)

    doc = converted.plan_json("-var", "model_type=rf")
    assert steps_by_action(doc)["run"] == {"model_trainer", "model_evaluator"}
    assert reasons(doc)["model_trainer"] == ["params.model_type: 'sgd' -> 'rf'"]


def _check_metadata(root: Path, python: str) -> None:
    """What the evaluator gave log_metadata() is recorded with its execution in ML Metadata."""
    check = ("import zplan; e = {x.step: x for x in zplan.open('.').run(1).executions}['model_evaluator']; "
             "import json; print(json.dumps(e.metadata))")
    metadata = json.loads(subprocess.run([python, "-c", check], cwd=root, capture_output=True, text=True, check=True).stdout)
    assert set(metadata) == {"train_accuracy", "test_accuracy"} and 0.8 < metadata["test_accuracy"] <= 1.0


def _zenml_venv() -> Path | None:
    """A virtual environment with zplan (editable) and ZenML; None when it cannot be made here."""
    python = ZENML_VENV / "bin" / "python"
    # run outside the checkout, so `import zplan` finds the installed (editable) zplan, and it must be this one
    probe = [str(python), "-c", f"import zenml, zplan, sys; sys.exit(not zplan.__file__.startswith({str(ROOT)!r}))"]
    if python.exists() and subprocess.run(probe, capture_output=True, cwd=ZENML_VENV).returncode == 0:
        return python
    uv = shutil.which("uv")
    if uv is None:
        return None
    shutil.rmtree(ZENML_VENV, ignore_errors=True)  # one left by a moved or removed checkout: made afresh
    made = subprocess.run([uv, "venv", "-q", "--python", sys.executable, str(ZENML_VENV)], capture_output=True)
    install = subprocess.run([uv, "pip", "install", "-q", "--python", str(python), "-e", str(ROOT), "zenml>=0.80", "protobuf<5", "typer<0.16"],
                             capture_output=True, timeout=900) if made.returncode == 0 else made
    return python if install.returncode == 0 and subprocess.run(probe, capture_output=True, cwd=ZENML_VENV).returncode == 0 else None


@pytest.mark.slow
def test_the_steps_run_unchanged_with_zenml_installed(converted):
    python = _zenml_venv()
    if python is None:
        pytest.skip("ZenML could not be installed in a virtual environment of its own here")
    env = cli_env()
    result = subprocess.run([str(python), "-m", "zplan.cli", "apply", "-auto-approve"], cwd=converted.root, env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stdout + result.stderr
    assert "Apply complete: 5 ok." in result.stdout
    check = "import zenml.steps.base_step as b, steps; print(isinstance(steps.model_evaluator, b.BaseStep))"
    probe = subprocess.run([str(python), "-c", check], cwd=converted.root, env=env, capture_output=True, text=True)
    assert probe.stdout.strip() == "True", "the steps were ZenML steps, run through their entrypoints"
    log = converted.read(".zplan/logs/local/run-1/pipeline.training.step.model_evaluator.log")
    assert "Test accuracy=" in log, log
    _check_metadata(converted.root, str(python))  # zenml.log_metadata() reached zplan's
