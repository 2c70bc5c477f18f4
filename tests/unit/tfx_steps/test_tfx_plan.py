"""TFX steps as plan sees them, with or without TFX installed: each mistake is one clear
error at its file:line (exit 1), and ordinary projects never load zplan.tfx."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.cli.helpers import cli_env, copy_project, zplan
from zplan import diags
from zplan.config import loader
from zplan.config.model import StepConfig

TFX_RUNS_HERE = sys.version_info[:2] == (3, 10) and importlib.util.find_spec("tfx") is not None

HEADER = """\
stack "local" {
  orchestrator   = "local"
  artifact_store = "file://.zplan/artifacts"
  metadata_store = "sqlite:///.zplan/metadata.db"
}
"""

GOOD_STEPS = """\
  step "gen" {
    tfx    = "CsvExampleGen"
    inputs = { input_base = "data" }
  }
  step "stats" {
    tfx    = "StatisticsGen"
    inputs = { examples = step.gen.outputs.examples }
  }
  step "schema" {
    tfx    = "SchemaGen"
    inputs = { statistics = step.stats.outputs.statistics }
  }
"""


def project(tmp_path, steps: str, module: str | None = None):
    (tmp_path / "main.zp.hcl").write_text(HEADER + 'pipeline "p" {\n' + textwrap.dedent(steps) + "}\n")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "penguins.csv").write_text("species,body_mass_g\n0,3700\n1,5000\n")
    if module is not None:
        (tmp_path / "utils.py").write_text(module)
    return tmp_path


def plan_error(root) -> str:
    result = zplan(root, "plan")
    assert result.code == 1, result
    assert "Traceback" not in result.text, result
    return result.text


def line_of(root, text: str) -> int:
    return next(i for i, line in enumerate((root / "main.zp.hcl").read_text().splitlines(), 1) if text in line)


def test_an_unknown_component_is_named_with_a_suggestion(tmp_path):
    root = project(tmp_path, GOOD_STEPS.replace('"StatisticsGen"', '"StatisticsGn"'))
    text = plan_error(root)
    assert 'unknown TFX component "StatisticsGn"' in text
    assert 'did you mean "StatisticsGen"?' in text
    assert f"main.zp.hcl:{line_of(root, 'StatisticsGn')}" in text


def test_a_wrong_input_artifact_type_names_both_types(tmp_path):
    steps = GOOD_STEPS + """\
  step "validate" {
    tfx    = "ExampleValidator"
    inputs = { statistics = step.stats.outputs.statistics,
               schema     = step.gen.outputs.examples }
  }
"""
    root = project(tmp_path, steps)
    text = plan_error(root)
    assert 'input "schema" of ExampleValidator needs a Schema artifact, but step.gen.outputs.examples is an Examples' in text
    assert f"main.zp.hcl:{line_of(root, 'schema     = step.gen')}" in text


def test_a_missing_module_file_is_named_at_its_param(tmp_path):
    steps = GOOD_STEPS + """\
  step "transform" {
    tfx    = "Transform"
    inputs = { examples = step.gen.outputs.examples, schema = step.schema.outputs.schema }
    params = { module_file = "preprocessing.py" }
  }
"""
    root = project(tmp_path, steps)
    text = plan_error(root)
    assert "module file preprocessing.py does not exist" in text
    assert f"main.zp.hcl:{line_of(root, 'module_file')}" in text


def test_a_module_file_without_the_function_tfx_calls(tmp_path):
    steps = GOOD_STEPS + """\
  step "transform" {
    tfx    = "Transform"
    inputs = { examples = step.gen.outputs.examples, schema = step.schema.outputs.schema }
    params = { module_file = "utils.py" }
  }
"""
    root = project(tmp_path, steps, module="def preprocess(inputs):\n    return inputs\n")
    text = plan_error(root)
    assert "utils.py has no function 'preprocessing_fn'" in text
    assert f"main.zp.hcl:{line_of(root, 'module_file')}" in text


@pytest.mark.parametrize(
    ("change", "message", "hint"),
    [
        (('inputs = { examples = step.gen.outputs.examples }', 'inputs = { exmples = step.gen.outputs.examples }'),
         'StatisticsGen has no input "exmples"', 'did you mean "examples"?'),
        (('inputs = { examples = step.gen.outputs.examples }', 'inputs = { examples = "data" }'),
         'input "examples" of StatisticsGen needs an Examples artifact, not a project path', "step.NAME.outputs.OUTPUT"),
        (('inputs = { statistics = step.stats.outputs.statistics }', 'params = { infer_shape = 1 }'),
         'SchemaGen has no param "infer_shape"', 'did you mean "infer_feature_shape"?'),
        (('inputs = { input_base = "data" }', 'params = { input_base = "data" }'),
         "input_base is an input of a zplan step, not a param", 'inputs = { input_base = "data/" }'),
    ],
)
def test_other_mistakes_in_a_tfx_step(tmp_path, change, message, hint):
    root = project(tmp_path, GOOD_STEPS.replace(*change))
    text = plan_error(root)
    assert message in text and hint in text
    assert f"main.zp.hcl:{line_of(root, change[1])}" in text


def test_a_tfx_project_is_planned_on_any_python(tmp_path):
    result = zplan(project(tmp_path, GOOD_STEPS), "plan")
    assert result.code == 0, result
    assert "pipeline.p.step.stats" in result.out and "Steps: 3 to run" in result.out


@pytest.mark.skipif(TFX_RUNS_HERE, reason="TFX runs in this environment")
def test_running_a_tfx_step_outside_python_3_10_with_tfx_is_refused_at_its_line(tmp_path):
    root = project(tmp_path, GOOD_STEPS)
    result = zplan(root, "apply", "-auto-approve")
    assert result.code == 1 and "Traceback" not in result.text, result
    assert not (root / ".zplan" / "artifacts").exists()  # refused before anything ran
    text = result.text
    if sys.version_info[:2] != (3, 10):
        assert f'step "gen" runs the TFX component CsvExampleGen, which needs Python 3.10 (this is Python {sys.version_info[0]}.{sys.version_info[1]}' in text
    else:
        assert 'step "gen" runs the TFX component CsvExampleGen, but tfx is not installed' in text
    assert "pip install 'zplan[tfx]'" in text
    assert f"main.zp.hcl:{line_of(root, 'CsvExampleGen')}" in text


def test_tfx_not_installed_on_python_3_10(monkeypatch):
    from zplan.tfx import planning

    step = StepConfig("p", "gen", "", diags.Range("main.zp.hcl", 9, 5), diags.Range("main.zp.hcl", 8, 3), tfx="CsvExampleGen")
    monkeypatch.setattr(planning, "TFX_PYTHON", sys.version_info[:2])
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(diags.DiagnosticError) as err:
        planning.check_runtime(step)
    text = str(err.value.diagnostics[0])
    assert "but tfx is not installed" in text and "pip install 'zplan[tfx]'" in text and "main.zp.hcl:9" in text


@pytest.mark.parametrize(
    ("attributes", "message"),
    [
        ('source = "steps.py:f"\n    tfx = "StatisticsGen"', "has both source and tfx"),
        ("tfx = 3", "tfx must name a TFX component"),
    ],
)
def test_the_tfx_attribute_in_the_loader(tmp_path, attributes, message):
    (tmp_path / "main.zp.hcl").write_text(f'pipeline "p" {{\n  step "s" {{\n    {attributes}\n  }}\n}}\n')
    with pytest.raises(diags.DiagnosticError) as err:
        loader.load(tmp_path)
    assert message in str(err.value.diagnostics[0]) and "main.zp.hcl:" in str(err.value.diagnostics[0])


def test_a_tfx_step_is_loaded_with_its_component(tmp_path):
    (tmp_path / "main.zp.hcl").write_text('pipeline "p" {\n  step "s" {\n    tfx = "StatisticsGen"\n  }\n}\n')
    step = loader.load(tmp_path).pipelines["p"].steps["s"]
    assert (step.tfx, step.source, step.source_range.line) == ("StatisticsGen", "", 3)


def test_planning_an_ordinary_project_never_loads_zplan_tfx(tmp_path):
    (tmp_path / "main.zp.hcl").write_text('pipeline "p" {\n  step "s" {\n    source = "steps.py:f"\n  }\n}\n')
    (tmp_path / "steps.py").write_text("def f():\n    return 1\n")
    script = (
        "import sys, zplan\n"
        f"zplan.open({str(tmp_path)!r}).plan()\n"
        "loaded = sorted(m for m in sys.modules if m.startswith('zplan.tfx') or m == 'tfx')\n"
        "assert not loaded, loaded\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, env=cli_env())
    assert done.returncode == 0, done.stderr


def test_the_penguin_example_plans_on_any_python(tmp_path):
    example = Path(__file__).resolve().parents[3] / "examples" / "tfx-penguin"
    project = copy_project(example, tmp_path / "penguin")
    project.ok("validate")
    doc = project.plan_json()
    assert {s["step"]: s.get("tfx") for s in doc["steps"]}["transform"] == "Transform"
    assert doc["summary"]["steps_run"] == 10


@pytest.mark.parametrize("orchestrator", ["kubeflow", "vertex"])
def test_a_tfx_step_on_a_kubeflow_or_vertex_stack_is_refused_at_its_line(tmp_path, orchestrator):
    """The plan passed; apply then refused for want of Python 3.10 here (where no TFX step runs) or, with
    it, compiled TFX tasks that the README says these orchestrators do not run yet."""
    from zplan.operations.opening import ProjectArgs, open_project
    from zplan.plan.planner import Planner, PlanRequest
    from zplan.state.model import State

    root = project(tmp_path, GOOD_STEPS)
    options = '{ project = "p", location = "europe-west4", pipeline_root = "gs://b/p" }' if orchestrator == "vertex" else "{}"
    (root / "main.zp.hcl").write_text((root / "main.zp.hcl").read_text().replace(HEADER, f"""\
stack "remote" {{
  orchestrator         = "{orchestrator}"
  orchestrator_options = {options}
  container_image      = "europe-docker.pkg.dev/acme/zplan:1"
  artifact_store       = "gs://acme/zplan"
  metadata_store       = "mysql://zplan@db.internal/zplan"
}}
"""))
    with pytest.raises(diags.DiagnosticError) as err:
        Planner(open_project(ProjectArgs(root)), State()).plan(PlanRequest())
    [problem] = err.value.diagnostics
    assert f'step "gen" runs the TFX component CsvExampleGen, which the {orchestrator} orchestrator does not run yet' in str(problem)
    assert 'a stack whose orchestrator is "local"' in problem.detail
    assert (problem.range.file, problem.range.line) == (str(root / "main.zp.hcl"), line_of(root, "CsvExampleGen"))


TRANSFORM = GOOD_STEPS + """\
  step "transform" {
    tfx    = "Transform"
    inputs = { examples = step.gen.outputs.examples, schema = step.schema.outputs.schema }
    params = { module_file = "utils.py" }
  }
"""
PREPROCESSING = "def preprocessing_fn(inputs):\n    return inputs\n\n\ndef unused():\n    return 1\n"
HOOK = "\n\ndef stats_options_updater_fn(stats_type, stats_options):\n    stats_options.num_top_values = {}\n    return stats_options\n"


def _transform_key(root) -> str:
    from zplan.operations.opening import ProjectArgs, open_project
    from zplan.plan.planner import Planner, PlanRequest
    from zplan.state.model import State

    plan = Planner(open_project(ProjectArgs(root)), State()).plan(PlanRequest())
    return plan.step("pipeline.p.step.transform").code_hash  # (its cache key waits for the upstream outputs)


def test_transform_is_keyed_by_the_stats_options_updater_fn_of_its_module_file(tmp_path):
    """Transform calls stats_options_updater_fn when its module file defines one (its statistics
    outputs change with it), but only preprocessing_fn keyed the step: adding or editing the hook
    left Transform cached."""
    root = project(tmp_path, TRANSFORM, module=PREPROCESSING)
    without = _transform_key(root)
    (root / "utils.py").write_text(PREPROCESSING + HOOK.format(5))
    with_hook = _transform_key(root)
    (root / "utils.py").write_text(PREPROCESSING + HOOK.format(10))
    edited = _transform_key(root)
    assert len({without, with_hook, edited}) == 3
    (root / "utils.py").write_text(PREPROCESSING.replace("return 1", "return 2") + HOOK.format(10))
    assert _transform_key(root) == edited  # a function TFX never calls still reruns nothing
    (root / "utils.py").write_text(PREPROCESSING + "\n\nstats_options_updater_fn = None\n")
    assert _transform_key(root) not in (without, with_hook, edited)  # bound otherwise: keyed by the whole file


@pytest.mark.skipif(not TFX_RUNS_HERE, reason="proto-typed params are parsed where tfx is installed (the TFX lane)")
@pytest.mark.parametrize(
    ("params", "message", "hint"),
    [
        ("train_args = { num_stepz = 60 }", "params.train_args is not a valid tfx.components.trainer.TrainArgs",
         'has no field named "num_stepz"'),
        ('train_args = { num_steps = "many" }', "params.train_args is not a valid tfx.components.trainer.TrainArgs",
         "Failed to parse num_steps field"),
        ("eval_args = 5", "params.eval_args is not a valid tfx.components.trainer.EvalArgs", "an object of its fields is required, got int"),
    ],
)
def test_a_proto_param_that_tfx_cannot_parse_is_refused_at_its_line(tmp_path, params, message, hint):
    """A misspelt proto field planned fine; the apply then ran the upstream steps and failed the
    Trainer with a traceback, naming no line."""
    steps = TRANSFORM.replace('params = { module_file = "utils.py" }', 'params = { module_file = "utils.py" }\n  }\n  step "train" {\n'
                              '    tfx    = "Trainer"\n    inputs = { examples = step.transform.outputs.transformed_examples }\n'
                              f'    params = {{ module_file = "utils.py", {params} }}')
    root = project(tmp_path, steps, module=PREPROCESSING + "\n\ndef run_fn(fn_args):\n    pass\n")
    text = plan_error(root)
    assert message in text and hint in text
    assert f"main.zp.hcl:{line_of(root, params)}" in text
    (root / "main.zp.hcl").write_text((root / "main.zp.hcl").read_text().replace(params, "train_args = { num_steps = 60 }"))
    assert zplan(root, "plan").code == 0


@pytest.mark.skipif(TFX_RUNS_HERE, reason="stands a broken tfx package in for the missing one")
def test_a_tfx_that_cannot_load_leaves_the_proto_params_to_the_run(tmp_path):
    broken = tmp_path / "site"
    (broken / "tfx" / "proto").mkdir(parents=True)
    (broken / "tfx" / "__init__.py").write_text("")
    (broken / "tfx" / "proto" / "__init__.py").write_text("")
    (broken / "tfx" / "proto" / "trainer_pb2.py").write_text("raise ImportError('built for another protobuf')\n")
    steps = TRANSFORM + '  step "train" {\n    tfx    = "Trainer"\n    inputs = { examples = step.transform.outputs.transformed_examples }\n' \
                        '    params = { module_file = "utils.py", train_args = { num_steps = 60 } }\n  }\n'
    (tmp_path / "p").mkdir()
    root = project(tmp_path / "p", steps, module=PREPROCESSING + "\n\ndef run_fn(fn_args):\n    pass\n")
    result = zplan(root, "plan", env=cli_env(PYTHONPATH=os.pathsep.join([str(broken), *sys.path])))
    assert result.code == 0 and "Traceback" not in result.text, result
