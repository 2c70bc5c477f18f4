"""`zplan import-zenml` on pipeline forms the static reading must handle or report."""

from __future__ import annotations

import pytest

from tests.unit.plan.inprocess import plan
from zplan import diags
from zplan.config import hcl
from zplan.operations.from_zenml import convert, import_zenml

STEPS = '''
from typing import Annotated, Tuple
from zenml import step

@step
def load(n: int = 3) -> Annotated[list, "rows"]:
    return list(range(n))

@step
def split(rows: list) -> Tuple[Annotated[list, "a"], Annotated[list, "b"]]:
    return rows[:1], rows[1:]

@step
def report(x: list, label: str) -> None:
    print(label, x)
'''

PIPELINE = '''
from zenml import pipeline
from lib import load as fetch, split, report

@pipeline
def flow(n: int = 5, label="run"):
    rows = fetch(n)
    first, rest = split(rows=rows)
    report(first, label=label)
    report(rest, label="rest", after=[first])
    for i in range(2):
        report(rows, label=str(i))
    helper(rows)
'''


@pytest.fixture
def root(tmp_path):
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "__init__.py").write_text("from .steps import load, split, report\n")
    (tmp_path / "lib" / "steps.py").write_text(STEPS)
    (tmp_path / "flows.py").write_text(PIPELINE)
    return tmp_path


def test_calls_become_steps_inputs_params_and_variables(root):
    converted = convert(root, "flows:flow")
    text = converted.text
    hcl.parse_text(text, "zenml.zp.hcl")
    assert 'variable "n" {\n  type    = number\n  default = 5\n' in text and 'type    = string\n  default = "run"' in text
    assert 'step "fetch" {\n    source = "lib/steps.py:load"\n    params = { n = var.n }' in text, text  # named as the pipeline calls it
    assert "inputs = { rows = step.fetch.outputs.rows }" in text
    assert 'step "report" {' in text and "inputs = { x = step.split.outputs.a }" in text and "params = { label = var.label }" in text
    assert 'step "report_2" {' in text and 'params     = { label = "rest" }' in text and "depends_on = [step.split]" in text
    notes = "\n".join(converted.notes)
    assert "for statement not converted" in notes and "helper(rows) is not a step function" in notes, notes


def test_out_is_a_configuration_file(root):
    # `-out zenml.hcl` was written, and "Next: zplan plan" said, though no plan reads that name
    with pytest.raises(diags.DiagnosticError, match="zenml.hcl is not a configuration file"):
        import_zenml(root, "flows:flow", root / "zenml.hcl")
    assert not (root / "zenml.hcl").exists()


def test_a_step_called_in_another_steps_argument_is_a_step_of_its_own(root):
    (root / "nested.py").write_text("""
from zenml import pipeline
from lib import load, split, report

@pipeline
def flow(n: int = 4):
    report(load(n), label="all")
    report(x=load(n=2), label=load())

@pipeline
def unpacked():
    report(split(load()), label="split")
""")
    converted = convert(root, "nested:flow")
    (root / "main.zp.hcl").write_text(converted.text)
    planned, _, _ = plan(root)
    inputs = {s.step: {k: f"{v.step.rsplit('.', 1)[1]}.{v.output}" for k, v in s.inputs.items()} for s in planned.steps}
    assert inputs == {"load": {}, "report": {"x": "load.rows"}, "load_2": {}, "load_3": {},
                      "report_2": {"x": "load_2.rows", "label": "load_3.rows"}}, converted.text
    assert not converted.notes
    assert convert(root, "nested:unpacked").notes == ["nested.py:12: argument x=split(load()) passes 2 outputs of split: not converted"]


def test_literal_arguments_and_defaults_are_passed_as_written(root):
    # a "${...}" or "%{...}" in a Python string is text, never an HCL template
    (root / "literals.py").write_text("""
from zenml import pipeline
from lib import load, report

@pipeline
def flow(label: str = "${HOME}/out", n=None):
    rows = load(n=3)
    report(rows, label="cost: ${price} %{x}")
    report(rows, label=label)
    report(rows, label={"a b": (1, 2.5), "ok": True, "none": None, "text": "line\\n\\"two\\""})

@pipeline
def with_a_set():
    report(load(), label={1, 2})
""")
    converted = convert(root, "literals:flow")
    (root / "main.zp.hcl").write_text(converted.text)
    planned, _, _ = plan(root)
    labels = [s.params.get("label") for s in planned.steps if s.step.startswith("report")]
    assert labels == ["cost: ${price} %{x}", "${HOME}/out", {"a b": [1, 2.5], "ok": True, "none": None, "text": 'line\n"two"'}]
    assert not converted.notes
    assert convert(root, "literals:with_a_set").notes == ["literals.py:14: argument label={1, 2} is not converted"]


def test_after_names_steps_by_zenml_invocation_id_or_result(root):
    # ZenML's ids: id=, else the step's name (not the name it is imported as), then name_2, name_3...
    (root / "ordered.py").write_text("""
from zenml import pipeline
from lib import load as fetch, report

@pipeline
def flow(label: str = "x"):
    rows = fetch()
    more = fetch(n=2, id="second")
    report(rows, label="a", after="load")
    report(rows, label="b", after=["second", "report"])
    report(more, label="c", after=[rows, label, "nope"])
""")
    converted = convert(root, "ordered:flow")
    (root / "main.zp.hcl").write_text(converted.text)
    planned, _, _ = plan(root)
    edges = {(a.rsplit(".", 1)[1], b.rsplit(".", 1)[1]) for a, b in planned.edges}
    assert {("fetch", "report"), ("fetch_2", "report_2"), ("report", "report_2"), ("fetch", "report_3")} <= edges, edges
    assert "depends_on = [step.fetch]" in converted.text and "depends_on = [step.fetch_2, step.report]" in converted.text
    assert "depends_on = [step.fetch]\n" in converted.text.split('step "report_3"')[1]
    assert converted.notes == ["ordered.py:8: id= is not kept (the step is named fetch_2)", "ordered.py:11: after=label names no step called before: not converted",
                               "ordered.py:11: after='nope' names no step called before: not converted"]


def test_outputs_named_by_artifact_config_are_the_inputs_downstream(tmp_path):
    (tmp_path / "steps.py").write_text("""
from typing import Annotated, Tuple
from zenml import ArtifactConfig, step

@step
def split() -> Tuple[Annotated[list, ArtifactConfig(name="train_set", tags=["raw"])], Annotated[list, ArtifactConfig(name="test_set")]]:
    return [1, 2], [3]

@step
def train(rows: list) -> Annotated[float, ArtifactConfig(name="model", is_model_artifact=True)]:
    return sum(rows)

@step
def evaluate(model: float, rows: list) -> None:
    print(model, rows)
""")
    (tmp_path / "flows.py").write_text("""
from zenml import pipeline
from steps import split, train, evaluate

@pipeline
def flow():
    train_set, test_set = split()
    model = train(train_set)
    evaluate(model, test_set)
""")
    converted = convert(tmp_path, "flows:flow")
    assert "inputs = { model = step.train.outputs.model, rows = step.split.outputs.test_set }" in converted.text
    assert not converted.notes
    (tmp_path / "main.zp.hcl").write_text(converted.text)
    planned, _, _ = plan(tmp_path)  # the references are checked against the outputs the functions declare
    assert planned.step("pipeline.flow.step.train").inputs["rows"].output == "train_set"


def test_results_of_a_tuple_return_type_without_names_are_zenmls_output_n(tmp_path):
    (tmp_path / "steps.py").write_text("""
from typing import Tuple
from zenml import step

@step
def split() -> Tuple[list, list]:
    return [1, 2], [3]

@step
def pair() -> Tuple[int, int]:
    values = (1, 2)
    return values  # one output, as ZenML reads it: no `return a, b`

@step
def report(a: list, b: list, c: tuple) -> None:
    print(a, b, c)
""")
    (tmp_path / "flows.py").write_text("""
from zenml import pipeline
from steps import pair, report, split

@pipeline
def flow():
    first, rest = split()
    report(first, rest, pair())
""")
    converted = convert(tmp_path, "flows:flow")
    assert "inputs = { a = step.split.outputs.output_0, b = step.split.outputs.output_1, c = step.pair.outputs.output }" in converted.text
    assert not converted.notes
    (tmp_path / "main.zp.hcl").write_text(converted.text)
    plan(tmp_path)  # the references are checked against the outputs the functions declare


def test_a_pipeline_imported_by_a_package_is_read_where_it_is_defined(root):
    # `from pipelines import flow`, as ZenML's run.py imports it
    (root / "pipelines").mkdir()
    (root / "pipelines" / "__init__.py").write_text("from .training import flow\n")
    (root / "pipelines" / "training.py").write_text((root / "flows.py").read_text())
    converted = convert(root, "pipelines:flow")
    assert converted.text == convert(root, "flows:flow").text.replace("flows.py:flow", "pipelines/training.py:flow")


def test_steps_brought_in_by_a_star_import_are_steps(root):
    (root / "starred.py").write_text("""
from zenml import pipeline
from lib import *

@pipeline
def flow():
    first, rest = split(load(n=2))
    report(rest, label="x")
""")
    converted = convert(root, "starred:flow")
    assert not converted.notes
    (root / "main.zp.hcl").write_text(converted.text)
    planned, _, _ = plan(root)
    assert {s.step: s.source for s in planned.steps} == {"load": "lib/steps.py:load", "split": "lib/steps.py:split",
                                                          "report": "lib/steps.py:report"}
    assert planned.step("pipeline.flow.step.report").inputs["x"].output == "b"


def test_steps_called_through_their_module_are_steps(root):
    (root / "by_module.py").write_text("""
from zenml import pipeline
import lib.steps
import lib.steps as S
from lib import steps

@pipeline
def flow():
    rows = lib.steps.load(n=2)
    first, rest = S.split(rows)
    steps.report(first, label="x")
    lib.other.report(rest, label="y")
""")
    converted = convert(root, "by_module:flow")
    (root / "main.zp.hcl").write_text(converted.text)
    planned, _, _ = plan(root)
    wired = {s.step: (s.source, {k: f"{v.step.rsplit('.', 1)[1]}.{v.output}" for k, v in s.inputs.items()}) for s in planned.steps}
    assert wired == {"load": ("lib/steps.py:load", {}), "split": ("lib/steps.py:split", {"rows": "load.rows"}),
                     "report": ("lib/steps.py:report", {"x": "split.a"})}
    assert converted.notes == ["by_module.py:12: lib.other.report(rest, label='y') is not a step function zplan could find: not converted"]


def test_parameters_are_typed_by_their_annotations_so_a_wrong_value_is_a_plan_error(tmp_path, monkeypatch):
    # ZenML checks a parameter against its annotation when the pipeline starts: a typed variable checks it at plan
    (tmp_path / "steps.py").write_text("""
from typing import Dict, List, Optional, Tuple
from zenml import step

@step
def train(epochs: int, lr: float, layers: List[int], opts: Dict[str, float], name: Optional[str] = None,
          shape: Tuple[int, str] = (1, "a"), seed: "int | None" = None, anything=None, model: object = None) -> None:
    print(epochs, lr, layers, opts, name, shape, seed, anything, model)
""")
    (tmp_path / "flows.py").write_text("""
from typing import Annotated, Literal, Optional
from zenml import pipeline
from steps import train

@pipeline
def flow(epochs: Annotated[int, "n"] = 3, lr=0.1, layers: list[int] = [64, 32], opts: dict = {"l2": 0.5},
         name: Optional[str] = None, shape=(2, "b"), seed=None, anything=1, model: Literal["rf", "sgd"] = "rf", rate: int = "x"):
    train(epochs, lr, layers, opts, name, shape, seed, anything, model=model)
    train(epochs=rate, lr=lr, layers=layers, opts=opts)
""")
    converted = convert(tmp_path, "flows:flow")
    (tmp_path / "main.zp.hcl").write_text(converted.text)
    types = {block.labels[0]: block.attributes["type"].expr.source() if "type" in block.attributes else None
             for block in hcl.parse_text(converted.text, "main.zp.hcl").blocks if block.type == "variable"}
    assert types == {"epochs": "number", "lr": "number", "layers": "list(number)", "opts": "map(any)", "name": "string",
                     "shape": "tuple([number, string])", "seed": "number", "anything": None, "model": "string", "rate": None}
    assert converted.notes == ['flows.py:7: variable rate: its default does not fit its annotation (var.rate: a number is required, got "x"): '
                               "it is left without a type"]
    monkeypatch.setenv("ZPLAN_VAR_lr", "0.5")  # given as text, as -var gives it
    planned, _, _ = plan(tmp_path)
    assert planned.step("pipeline.flow.step.train").params["lr"] == 0.5
    for var, value, message in [("lr", "fast", 'var.lr: a number is required, got "fast"'),
                                ("epochs", "2.5", "epochs must be a whole number: it is an int"),
                                ("seed", "0.5", "seed must be a whole number: it is an int"),
                                ("layers", '["wide"]', 'var.layers[0]: a number is required, got "wide"')]:
        with monkeypatch.context() as env, pytest.raises(diags.DiagnosticError) as caught:
            env.setenv(f"ZPLAN_VAR_{var}", value)
            plan(tmp_path)
        (found,) = caught.value.diagnostics
        assert found.range.file.endswith("main.zp.hcl") and found.range.line > 0 and message in found.summary, found.summary


def test_a_whole_number_given_to_a_float_parameter_reaches_the_step_as_a_float(tmp_path, monkeypatch):
    # ZenML converts a parameter to its annotation's type: `-var lr=2` for `lr: float` is 2.0 in the step, as is `lr=2`
    (tmp_path / "steps.py").write_text("""
from typing import Optional
from zenml import step

@step
def train(lr: float, epochs: int, decay: Optional[float] = None, anything=None, rates: list[float] = (), by: dict[str, float] = None) -> None:
    print(lr, epochs, decay, anything, rates, by)
""")
    (tmp_path / "flows.py").write_text("""
from typing import Optional
from zenml import pipeline
from steps import train

@pipeline
def flow(lr=0.1, epochs: int = 3, decay: Optional[float] = None, scale: float = 1, rates=[1, 0.5], by={"a": 2}):
    train(lr, epochs, decay, anything=scale, rates=rates, by=by)
    train(lr=2, epochs=epochs, rates=[1, 2], by={"a": 1})
""")
    (tmp_path / "main.zp.hcl").write_text(convert(tmp_path, "flows:flow").text)
    monkeypatch.setenv("ZPLAN_VAR_lr", "2")  # given as text, as -var gives it
    planned, _, _ = plan(tmp_path)
    params = planned.step("pipeline.flow.step.train").params
    assert [(params[k], type(params[k])) for k in ("lr", "epochs", "decay", "anything")] == [(2.0, float), (3, int), (None, type(None)),
                                                                                               (1.0, float)]
    literal = planned.step("pipeline.flow.step.train_2").params  # of arguments written as literals
    assert type(literal["lr"]) is float and [type(v) for v in literal["rates"]] == [float, float] and type(literal["by"]["a"]) is float
    assert [type(v) for v in params["rates"]] == [float, float] and type(params["by"]["a"]) is float
    monkeypatch.setenv("ZPLAN_VAR_decay", "1")
    planned, _, _ = plan(tmp_path)
    assert type(planned.step("pipeline.flow.step.train").params["decay"]) is float


def test_a_parameter_named_as_an_hcl_reserved_word_or_without_a_literal_default_is_listed(root):
    # a default naming a constant the module assigns a literal once is that literal, as Python reads it
    (root / "reserved.py").write_text("""
from zenml import pipeline
from lib import load, report

N = 4
M = int("4")
SIZE: int = 2

@pipeline
def flow(count: int = 3, source="db", n=N, m=M):
    rows = load(n=count)
    report(rows, label=source)
    load(n=SIZE)
""")
    converted = convert(root, "reserved:flow")
    (root / "main.zp.hcl").write_text(converted.text)
    (root / "zplan.zpvars").write_text("m = 4\n")  # what the note asks for
    planned, _, _ = plan(root)
    assert planned.step("pipeline.flow.step.load").params == {"n": 3}
    assert planned.step("pipeline.flow.step.report").params == {"label": "db"}
    assert planned.step("pipeline.flow.step.load_2").params == {"n": 2}
    assert 'variable "n" {\n  default = 4\n}' in converted.text
    assert converted.notes == ["reserved.py:10: parameter count is variable count_param (count is a reserved name in HCL)",
                               "reserved.py:10: parameter source is variable source_param (source is a reserved name in HCL)",
                               "reserved.py:10: the default of m (M) is not converted: give it with -var m=..."]


def test_a_name_rebound_by_a_statement_not_converted_is_not_passed_on_with_its_old_value(root):
    # `n = n * 2` is not converted: load must not silently get the pipeline's n instead of twice it
    (root / "rebound.py").write_text("""
from zenml import pipeline
from lib import load, report, split

@pipeline
def flow(n: int = 5):
    n = n * 2
    rows = load(n=n)
    for i in range(2):
        rows = load(n=i)
    report(rows, label="x")
    first, rest = load(n=1)
    report(rest, label="y")
""")
    converted = convert(root, "rebound:flow")
    assert converted.notes == ["rebound.py:7: assign statement not converted: n = n * 2", "rebound.py:8: argument n=n is not converted",
                               "rebound.py:9: for statement not converted: for i in range(2):",
                               "rebound.py:11: argument x=rows is not converted",
                               "rebound.py:6: step load_2: 2 results unpacked, 1 outputs declared: check its return annotation",
                               "rebound.py:13: argument x=rest is not converted"]
    assert "params = { n = var.n }" not in converted.text and "inputs" not in converted.text


def test_unpacked_arguments_are_listed(root):
    (root / "unpacked.py").write_text("""
from zenml import pipeline
from lib import load

CONFIG = {"n": 2}

@pipeline
def flow():
    load(**CONFIG)
    load(*[3])
""")
    assert convert(root, "unpacked:flow").notes == ["unpacked.py:9: argument **CONFIG of load is not converted",
                                                     "unpacked.py:10: argument *[3] of load is not converted"]


def test_a_file_written_outside_the_project_folder_is_refused(root):
    # its step sources would be read from the folder it is in
    with pytest.raises(diags.DiagnosticError, match="is not in the project folder"):
        import_zenml(root, "flows:flow", root / "infra" / "zenml.zp.hcl")
    assert not (root / "infra").exists()
    dest, _ = import_zenml(root, "flows:flow", root / "flow.zp.hcl")
    assert dest.read_text() == convert(root, "flows:flow").text


def test_a_step_configured_with_with_options_is_that_step(root):
    (root / "configured.py").write_text("""
from zenml import pipeline
from lib import load, split, report

@pipeline
def flow():
    rows = load.with_options(enable_cache=False, parameters={"n": 8})()
    first, rest = split.with_options(settings={"resources": {"cpu_count": 2}})(rows)
    report(first, label="x")
    report(load.with_options(parameters={"n": 1})(), label="y")
""")
    converted = convert(root, "configured:flow")
    (root / "main.zp.hcl").write_text(converted.text)
    planned, _, _ = plan(root)
    load, split = planned.step("pipeline.flow.step.load"), planned.step("pipeline.flow.step.split")
    assert load.params == {"n": 8} and [r.code for r in load.reasons] == ["never_ran", "cache_disabled"]
    assert split.inputs["rows"].step == "pipeline.flow.step.load"
    assert planned.step("pipeline.flow.step.report_2").inputs["x"].step == "pipeline.flow.step.load_2"
    assert converted.notes == ["configured.py:8: split.with_options(settings=...) is not converted"]


@pytest.mark.parametrize("spec, message", [("flows", "as MODULE:PIPELINE"), ("nowhere:flow", "no module 'nowhere'"),
                                           ("flows:other", "has no function 'other'")])
def test_a_wrong_pipeline_reference_is_a_clear_error(root, spec, message):
    with pytest.raises(diags.DiagnosticError, match=message):
        convert(root, spec)


def test_a_pipeline_calling_no_step_found_says_why_for_each_call(root):
    (root / "unknown.py").write_text("from zenml import pipeline\nfrom elsewhere import load\n\n@pipeline\ndef flow():\n    rows = load()\n")
    with pytest.raises(diags.DiagnosticError) as caught:
        import_zenml(root, "unknown:flow")
    (found,) = caught.value.diagnostics
    assert (found.range.file, found.range.line) == (str(root / "unknown.py"), 5)
    assert found.summary == "flow calls no step function that could be read"
    assert "line 6: load() is not a step function zplan could find: not converted" in found.detail
    assert not (root / "zenml.zp.hcl").exists()


def test_a_module_that_is_not_valid_python_is_an_error_at_its_line(root):
    (root / "lib" / "steps.py").write_text(STEPS + "\ndef broken(:\n    pass\n")
    with pytest.raises(diags.DiagnosticError) as caught:
        import_zenml(root, "flows:flow")
    (found,) = caught.value.diagnostics
    assert found.summary == "lib/steps.py is not valid Python: invalid syntax" and found.detail == "fix it, then import again"
    assert (found.range.file, found.range.line) == (str(root / "lib" / "steps.py"), STEPS.count("\n") + 2)
    assert not (root / "zenml.zp.hcl").exists()


def test_enable_cache_false_of_a_step_or_of_the_pipeline_becomes_cache_false(tmp_path):
    # ZenML runs such a step every time; a step's own enable_cache wins over the pipeline's
    (tmp_path / "steps.py").write_text("""
from zenml import step

@step(enable_cache=False)
def fetch() -> int:
    return 1

@step(enable_cache=True)
def train(x: int) -> int:
    return x

@step
def report(x: int) -> None:
    print(x)

@step(enable_cache=FLAG)
def configured() -> None:
    pass
""")
    (tmp_path / "flows.py").write_text("""
from zenml import pipeline
from steps import configured, fetch, train, report

@pipeline(enable_cache=False)
def flow():
    x = fetch()
    y = train(x)
    report(y)

@pipeline
def cached_flow():
    x = fetch()
    report(x)

@pipeline
def configured_flow():
    configured()
""")
    (tmp_path / "main.zp.hcl").write_text(convert(tmp_path, "flows:flow").text + convert(tmp_path, "flows:cached_flow").text)
    planned, _, _ = plan(tmp_path)
    disabled = {s.address for s in planned.steps if any(r.code == "cache_disabled" for r in s.reasons)}
    assert disabled == {"pipeline.flow.step.fetch", "pipeline.flow.step.report", "pipeline.cached_flow.step.fetch"}
    assert convert(tmp_path, "flows:configured_flow").notes == [
        "steps.py:16: enable_cache=FLAG is not converted (write cache = false on the step to run it every time)"]
