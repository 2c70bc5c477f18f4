"""What porting a DVC and a ZenML pipeline found, driven through the real command line."""

from __future__ import annotations

import json
import re

import pytest

from tests.cli.helpers import Project, ran, reasons, steps_by_action

STACK = """
stack "local" {
  orchestrator   = "local"
  artifact_store = "file://.zplan/artifacts"
  metadata_store = "sqlite:///.zplan/metadata.db"
}
"""


def _project(tmp_path, hcl: str, steps: str) -> Project:
    project = Project(tmp_path / "proj")
    project.write("main.zp.hcl", STACK + hcl)
    project.write("steps/s.py", steps)
    return project


def _output(project: Project, name: str):
    return json.loads(project.ok("output", "-json").out)[name]["value"]


TWO_STEPS = """
def a() -> int:
    return 1

def b(x: int) -> int:
    return x + 1
"""


def test_an_output_holding_a_map_of_step_outputs_is_planned_applied_and_recorded(tmp_path):
    project = _project(tmp_path, """
pipeline "p" {
  step "a" { source = "steps/s.py:a" }
  step "b" {
    source = "steps/s.py:b"
    inputs = { x = step.a.outputs.output }
  }
}
output "both" {
  value = { a = step.a.outputs.output, b = [step.b.outputs.output] }
}
""", TWO_STEPS)
    first = project.plan_json()
    assert first["outputs"]["both"]["known"] is False
    project.apply()
    assert _output(project, "both") == {"a": 1, "b": [2]}
    assert project.plan_json()["outputs"]["both"] == {"value": {"a": 1, "b": [2]}, "known": True, "sensitive": False}


@pytest.mark.parametrize("where", ["output", "input"])
def test_a_reference_to_an_output_the_step_does_not_declare_fails_validate(tmp_path, where):
    use = 'output "x" { value = step.b.outputs.model }' if where == "output" else ""
    inputs = "{ x = step.a.outputs.model }" if where == "input" else "{ x = step.a.outputs.output }"
    project = _project(tmp_path, f"""
pipeline "p" {{
  step "a" {{ source = "steps/s.py:a" }}
  step "b" {{
    source = "steps/s.py:b"
    inputs = {inputs}
  }}
}}
{use}
""", TWO_STEPS)
    result = project.run("validate")
    assert result.code == 1 and "Traceback" not in result.err, str(result)
    assert 'has no output "model"' in result.text and "its outputs are: output" in result.text, str(result)
    assert "main.zp.hcl:" in result.text


def test_annotated_return_types_name_the_outputs(tmp_path):
    project = _project(tmp_path, """
pipeline "p" {
  step "split" { source = "steps/s.py:split" }
  step "size" {
    source = "steps/s.py:size"
    inputs = { train = step.split.outputs.train, test = step.split.outputs.test }
  }
}
output "n" { value = step.size.outputs.n }
""", """
from typing import Annotated, Tuple

def split() -> Tuple[Annotated[list, "train"], Annotated[list, "test"]]:
    return [1, 2, 3], [4]

def size(train: list, test: list) -> Annotated[int, "n"]:
    return len(train) * 10 + len(test)
""")
    project.apply()
    assert _output(project, "n") == 31


def test_a_tuple_return_type_without_names_gives_zenmls_output_n_names(tmp_path):
    # ZenML names the outputs of `-> Tuple[A, B]` returning `a, b` output_0, output_1 (an Annotated one keeps its name)
    project = _project(tmp_path, """
pipeline "p" {
  step "split" { source = "steps/s.py:split" }
  step "size" {
    source = "steps/s.py:size"
    inputs = { train = step.split.outputs.output_0, test = step.split.outputs.output_1, n = step.split.outputs.n }
  }
}
output "n" { value = step.size.outputs.output }
""", """
from typing import Annotated, Tuple

def split() -> Tuple[list, list, Annotated[int, "n"]]:
    def pair():
        return 1, 2
    return [1, 2, 3], [4], sum(pair())

def size(train: list, test: list, n: int) -> int:
    return len(train) * 100 + len(test) * 10 + n
""")
    project.apply()
    assert _output(project, "n") == 313


def test_a_zenml_step_with_options_runs_with_zplans_step_in_place_of_zenmls(tmp_path):
    # the README's fallback: a step module written for ZenML imports zplan's step when ZenML is absent
    project = _project(tmp_path, """
pipeline "p" {
  step "load" { source = "steps/s.py:load" }
  step "count" {
    source = "steps/s.py:count"
    inputs = { rows = step.load.outputs.rows }
  }
}
output "n" { value = step.count.outputs.n }
""", """
from typing import Annotated

try:
    from zenml import step
except ImportError:
    from zplan import step

@step(enable_cache=False, settings={"resources": {"cpu_count": 1}}, experiment_tracker="mlflow")
def load() -> Annotated[list, "rows"]:
    return [1, 2, 3]

@step(name="counter")
def count(rows: list) -> Annotated[int, "n"]:
    return len(rows)
""")
    project.apply()
    assert _output(project, "n") == 3


@pytest.mark.parametrize("hcl_outputs, code", [
    ("", 'import zplan\n\n@zplan.step(outputs=["a", "a"])\ndef two():\n    return 1, 2\n'),
    ("", 'from typing import Annotated, Tuple\n\ndef two() -> Tuple[Annotated[int, "a"], Annotated[int, "a"]]:\n    return 1, 2\n'),
    ('\n    outputs = ["a", "a"]', "def two():\n    return 1, 2\n"),
], ids=["decorator", "annotated", "hcl"])
def test_an_output_declared_twice_is_an_error_at_the_step_not_a_value_silently_overwritten(tmp_path, hcl_outputs, code):
    project = _project(tmp_path, 'pipeline "p" {\n  step "w" {\n    source = "steps/s.py:two"%s\n  }\n}\n' % hcl_outputs, code)
    for command in ("validate", "plan"):
        result = project.run(command)
        assert result.code == 1 and "Traceback" not in result.err, str(result)
        where = "main.zp.hcl:10:5" if hcl_outputs else "main.zp.hcl:9:5"
        assert f'Error: {where}: step "w": ' in result.err and '"a"' in result.err and "twice" in result.err, str(result)


def test_a_tuple_returned_without_output_names_says_how_to_name_them(tmp_path):
    project = _project(tmp_path, 'pipeline "p" {\n  step "a" { source = "steps/s.py:a" }\n}\n', """
class Model:
    pass

def a():
    return Model(), Model()
""")
    result = project.run("apply", "-auto-approve")
    assert result.code == 1 and "Traceback" not in result.err, str(result)
    assert "returned a tuple of 2 values but declares no outputs" in result.out, str(result)
    assert '@zplan.step(outputs=["out1", "out2"])' in result.out and "Annotated" in result.out


def test_a_step_calling_sys_exit_shows_its_last_output_lines(tmp_path):
    project = _project(tmp_path, 'pipeline "p" {\n  step "a" { source = "steps/s.py:a" }\n}\n', """
import sys

def a():
    print("loading params.yaml")
    print("error: train.n_est must be positive", file=sys.stderr)
    sys.exit(1)
""")
    result = project.run("apply", "-auto-approve")
    assert result.code == 1 and "Traceback" not in result.err, str(result)
    failed = result.out[result.out.index("step.a: FAILED"):]
    assert "exited with code 1" in failed and "error: train.n_est must be positive" in failed, str(result)
    assert "loading params.yaml" in failed
    assert "error: train.n_est must be positive" in project.step_records()["a"]["error"]


def test_a_step_an_older_execution_serves_is_not_given_reasons_against_the_latest_one(tmp_path):
    project = _project(tmp_path, """
variable "n_est" { default = 50 }
pipeline "p" {
  step "prepare" {
    source = "steps/s.py:prepare"
    inputs = { raw = "data/raw.txt" }
  }
  step "train" {
    source = "steps/s.py:train"
    inputs = { features = step.prepare.outputs.output }
    params = { n_est = var.n_est }
  }
}
""", """
def prepare(raw):
    return [int(x) for x in raw.read_text().split()]

def train(features, n_est):
    return sum(features) * n_est
""")
    project.write("data/raw.txt", "1 2 3\n")
    project.apply()
    project.apply("-var", "n_est=100")  # the latest execution of train used 100
    project.write("data/raw.txt", "1 2  3\n")  # prepare reruns, and gives the same output
    why = reasons(project.plan_json())["train"]
    assert not any("n_est" in r for r in why), why
    assert why == ["input features changes (upstream prepare reruns)",
                   "cached from run 1 instead if those outputs come out unchanged"], why
    result = project.apply()
    assert ran(result) == {"prepare"} and "step.train: cached: upstream output unchanged" in result.out, str(result)


def test_a_step_time_excludes_its_module_import(tmp_path):
    project = _project(tmp_path, """
pipeline "p" {
  step "a" { source = "steps/s.py:a" }
  step "b" {
    source = "steps/s.py:b"
    inputs = { x = step.a.outputs.output }
  }
}
""", """
import os
import time

time.sleep(1.5)  # a heavy library import
with open(os.path.join(os.path.dirname(__file__), "imported.txt"), "a") as marks:
    marks.write("imported\\n")

def a() -> int:
    return 1

def b(x: int) -> int:
    return x + 1
""")
    result = project.apply("-parallelism", "1")
    times = {m[0]: float(m[1]) for m in re.findall(r"step\.(\w+): done in ([0-9.]+)s", result.out)}
    assert set(times) == {"a", "b"} and max(times.values()) < 1.0, str(result)
    # each step imports the project's module afresh (what one step leaves in its globals never reaches the
    # next: zplan.apply.step_isolation); the libraries it imports stay loaded in the worker
    assert project.read("steps/imported.txt") == "imported\n" * 2
