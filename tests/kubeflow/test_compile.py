"""KFP v2 specs compiled offline with kfp's own compiler, read back with its loader."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from zplan.apply.remote import pipeline_tasks
from zplan.diags import DiagnosticError
from zplan.kubeflow.compile import StepTask, compile_pipeline, step_command
from zplan.operations.opening import ProjectArgs, open_project
from zplan.plan.planner import Planner, PlanRequest
from zplan.state.model import State

from tests.kubeflow.test_run_step import HCL, STEP

IMAGE = "europe-docker.pkg.dev/acme-ml/zplan/project:3f2a"


def training_steps() -> list[StepTask]:
    def task(name: str, *deps: str) -> StepTask:
        return StepTask(f"pipeline.training.step.{name}", name, list(deps))

    return [
        task("evaluate", "train_model", "split"),  # declared before its dependencies on purpose
        task("load"),
        task("split", "load"),
        task("train_model", "pipeline.training.step.split"),  # an address works as well as a name
        task("report", "evaluate"),
    ]


def test_five_step_pipeline_compiles_to_one_task_per_step(tmp_path):
    out = compile_pipeline("training", training_steps(), IMAGE, "gcp", tmp_path / "specs" / "training.yaml")
    spec = yaml.safe_load(out.read_text())
    tasks = spec["root"]["dag"]["tasks"]
    assert sorted(tasks) == ["evaluate", "load", "report", "split", "train-model"]
    assert {name: sorted(t.get("dependentTasks", [])) for name, t in tasks.items()} == {
        "load": [],
        "split": ["load"],
        "train-model": ["split"],
        "evaluate": ["split", "train-model"],
        "report": ["evaluate"],
    }
    assert tasks["train-model"]["taskInfo"]["name"] == "train_model"
    assert all(not t["cachingOptions"].get("enableCache", False) for t in tasks.values())
    executors = spec["deploymentSpec"]["executors"]
    for name, t in tasks.items():
        container = executors[spec["components"][t["componentRef"]["name"]]["executorLabel"]]["container"]
        step = t["taskInfo"]["name"]
        assert container["image"] == IMAGE
        assert container["command"] == ["zplan", "run-step", f"pipeline.training.step.{step}", "-stack", "gcp",
                                        "-pipeline-run", "{{$.pipeline_job_uuid}}"]  # filled in by KFP
    assert spec["pipelineInfo"]["name"] == "training"
    assert [p.name for p in out.parent.iterdir()] == ["training.yaml"]  # no temp file left


def test_kfp_loads_the_spec_back(tmp_path):
    from kfp import components

    out = compile_pipeline("training", training_steps(), IMAGE, "gcp", tmp_path / "training.yaml")
    loaded = components.load_component_from_file(str(out))
    assert loaded.name == "training"
    assert set(loaded.pipeline_spec.root.dag.tasks) == {"evaluate", "load", "report", "split", "train-model"}
    assert list(loaded.pipeline_spec.root.dag.tasks["report"].dependent_tasks) == ["evaluate"]


def test_graph_mistakes_are_diagnostics_and_write_nothing(tmp_path):
    out = tmp_path / "bad.yaml"
    cycle = [StepTask("pipeline.p.step.a", "a", ["b"]), StepTask("pipeline.p.step.b", "b", ["a"])]
    with pytest.raises(DiagnosticError, match='pipeline "p" has a dependency cycle'):
        compile_pipeline("p", cycle, IMAGE, "gcp", out)
    with pytest.raises(DiagnosticError, match="depends on unknown step"):
        compile_pipeline("p", [StepTask("pipeline.p.step.a", "a", ["ghost"])], IMAGE, "gcp", out)
    with pytest.raises(DiagnosticError, match="no container image"):
        compile_pipeline("p", [StepTask("pipeline.p.step.a", "a")], "", "gcp", out)
    assert not out.exists()


def test_step_command():
    assert step_command("pipeline.p.step.a", "prod") == ["zplan", "run-step", "pipeline.p.step.a", "-stack", "prod"]


def test_step_resources_become_task_requests(tmp_path):
    from zplan.config.step_resources import parse_resources

    needs = parse_resources({"cpu": 2, "memory": "4GiB", "gpu": 1, "gpu_type": "NVIDIA_TESLA_T4"})
    steps = [StepTask("pipeline.t.step.train", "train", [], needs)]
    spec = yaml.safe_load(compile_pipeline("t", steps, IMAGE, "gcp", tmp_path / "t.yaml").read_text())
    container = next(iter(spec["deploymentSpec"]["executors"].values()))["container"]
    resources = container["resources"]
    assert resources["cpuLimit"] == 2 and resources["memoryLimit"] == pytest.approx(4 * 2**30 / 10**9)
    assert resources["accelerator"]["type"] == "NVIDIA_TESLA_T4" and resources["accelerator"]["count"] == "1"


def _compiled_resources(tmp_path, needs: dict) -> dict:
    """The resources KFP's spec gives the one task of a step with ``resources = needs``."""
    from zplan.config.step_resources import parse_resources

    steps = [StepTask("pipeline.t.step.train", "train", [], parse_resources(needs))]
    spec = yaml.safe_load(compile_pipeline("t", steps, IMAGE, "gcp", tmp_path / "t.yaml").read_text())
    return next(iter(spec["deploymentSpec"]["executors"].values()))["container"]["resources"]


@pytest.mark.parametrize("memory, quantity", [("1.5GiB", "1610612736"), ("2 GiB", "2147483648"), ("4gib", "4294967296"),
                                              ("2G", "2G"), ("512MiB", "512Mi")])
def test_any_memory_zplan_reads_becomes_a_quantity_kfp_takes(tmp_path, memory, quantity):
    resources = _compiled_resources(tmp_path, {"memory": memory})
    assert resources["resourceMemoryRequest"] == resources["resourceMemoryLimit"] == quantity


@pytest.mark.parametrize("cpu, quantity", [(0.5, "500m"), (0.00001, "1m"), (1234567, "1234567"), (2.25, "2250m"), (4, "4")])
def test_any_cpu_zplan_reads_becomes_a_quantity_kfp_takes(tmp_path, cpu, quantity):
    """"%g" wrote 0.00001 as "1e-05" and 1234567 as "1.23457e+06", which KFP refused with a traceback."""
    resources = _compiled_resources(tmp_path, {"cpu": cpu})
    assert resources["resourceCpuRequest"] == resources["resourceCpuLimit"] == quantity


def test_the_tasks_get_the_planned_values_but_never_a_secret(tmp_path, monkeypatch):
    root = tmp_path / "project"
    root.mkdir()
    (root / "main.zp.hcl").write_text(HCL)
    (root / "steps.py").write_text(STEP)
    monkeypatch.setenv("ZPLAN_VAR_token", "s3cret-from-env")
    project = open_project(ProjectArgs(root, ["c=0.5"]))
    plan = Planner(project, State()).plan(PlanRequest())
    out = compile_pipeline("p", pipeline_tasks(project, list(plan.steps)), IMAGE, "gcp", tmp_path / "p.yaml")
    text = out.read_text()
    assert "s3cret" not in text and "token" not in text  # sensitive: the task reads it from its environment
    container = next(iter(yaml.safe_load(text)["deploymentSpec"]["executors"].values()))["container"]
    command = container["command"]
    assert command[:5] == ["zplan", "run-step", "pipeline.p.step.fit", "-stack", "gcp"]
    planned = dict(zip(command[5::2], command[6::2]))
    assert planned["-planned-vars"] == '{"c":0.5,"layers":[64,32]}'
    assert sorted(json.loads(planned["-planned"])) == ["code", "inputs", "libraries", "params", "python"]


def test_a_variable_made_sensitive_by_the_function_is_never_written_into_the_spec(tmp_path):
    """A variable not declared sensitive but given to sensitive() was written into every task's
    -planned-vars in clear, in a spec KFP stores and shows; the task reads it from its environment."""
    root = tmp_path / "project"
    root.mkdir()
    (root / "main.zp.hcl").write_text(HCL.replace("token = var.token", "token = var.token, key = sensitive(var.key)")
                                      + 'variable "key" {\n  default = "plainly-declared-key"\n}\n')
    (root / "steps.py").write_text("def fit(c, layers, token, key):\n    return c\n")
    project = open_project(ProjectArgs(root, ["c=0.5"]))
    plan = Planner(project, State()).plan(PlanRequest())
    text = compile_pipeline("p", pipeline_tasks(project, list(plan.steps)), IMAGE, "gcp", tmp_path / "p.yaml").read_text()
    assert "plainly-declared-key" not in text and '{"c":0.5,"layers":[64,32]}' in text.replace('\\"', '"'), text


def test_each_module_instance_pipeline_is_a_spec_of_its_own(tmp_path):
    from zplan.apply.remote import submit_pipelines
    from zplan.apply.tracker import RunTracker
    from zplan.hooks import Recorder

    root = tmp_path / "project"
    (root / "mod").mkdir(parents=True)
    (root / "mod" / "m.zp.hcl").write_text('pipeline "train" {\n  step "fit" {\n    source = "s.py:fit"\n  }\n}\n')
    (root / "mod" / "s.py").write_text("def fit():\n    return 1\n")
    (root / "main.zp.hcl").write_text('module "env" {\n  for_each = toset(["dev", "prod"])\n  source   = "./mod"\n}\n')
    project = open_project(ProjectArgs(root))
    plan = Planner(project, State()).plan(PlanRequest())
    hooks = Recorder()
    submit_pipelines(project, plan, {"orchestrator": "kubeflow", "container_image": IMAGE}, RunTracker(plan, {}), hooks)
    specs = sorted((root / ".zplan" / "compiled").iterdir())
    assert [p.name for p in specs] == ["module-env-dev-train.yaml", "module-env-prod-train.yaml"]
    for path, env in zip(specs, ["dev", "prod"]):
        spec = yaml.safe_load(path.read_text())
        assert list(spec["root"]["dag"]["tasks"]) == ["fit"]
        [executor] = spec["deploymentSpec"]["executors"].values()
        assert executor["container"]["command"][2] == f'module.env["{env}"].pipeline.train.step.fit'
    assert len([e for e in hooks.events if e[0] == "notice"]) == 2


def test_module_instances_whose_keys_read_the_same_are_specs_of_their_own(tmp_path):
    from zplan.apply.remote import submit_pipelines
    from zplan.apply.tracker import RunTracker
    from zplan.hooks import Recorder

    root = tmp_path / "project"
    (root / "mod").mkdir(parents=True)
    (root / "mod" / "m.zp.hcl").write_text('pipeline "train" {\n  step "fit" {\n    source = "s.py:fit"\n  }\n}\n')
    (root / "mod" / "s.py").write_text("def fit():\n    return 1\n")
    (root / "main.zp.hcl").write_text('module "env" {\n  for_each = toset(["a-b", "a_b"])\n  source   = "./mod"\n}\n')
    project = open_project(ProjectArgs(root))
    plan = Planner(project, State()).plan(PlanRequest())
    submit_pipelines(project, plan, {"orchestrator": "kubeflow", "container_image": IMAGE}, RunTracker(plan, {}), Recorder())
    specs = sorted((root / ".zplan" / "compiled").iterdir())
    assert len(specs) == 2 and all(re.fullmatch(r"module-env-a-b-train-[0-9a-f]{8}\.yaml", p.name) for p in specs)
    commands = set()
    for path in specs:
        spec = yaml.safe_load(path.read_text())
        assert list(spec["root"]["dag"]["tasks"]) == ["fit"] and spec["pipelineInfo"]["name"] == path.stem
        [executor] = spec["deploymentSpec"]["executors"].values()
        commands.add(executor["container"]["command"][2])
    assert commands == {'module.env["a-b"].pipeline.train.step.fit', 'module.env["a_b"].pipeline.train.step.fit'}


def test_a_module_instance_with_a_long_key_gets_a_spec_name_kfp_takes(tmp_path):
    from zplan.apply.remote import submit_pipelines
    from zplan.apply.tracker import RunTracker
    from zplan.hooks import Recorder

    root = tmp_path / "project"
    (root / "mod").mkdir(parents=True)
    (root / "mod" / "m.zp.hcl").write_text('pipeline "train" {\n  step "fit" {\n    source = "s.py:fit"\n  }\n}\n')
    (root / "mod" / "s.py").write_text("def fit():\n    return 1\n")
    key = "europe-west4-" * 12
    (root / "main.zp.hcl").write_text(f'module "env" {{\n  for_each = toset(["{key}"])\n  source   = "./mod"\n}}\n')
    project = open_project(ProjectArgs(root))
    plan = Planner(project, State()).plan(PlanRequest())
    submit_pipelines(project, plan, {"orchestrator": "kubeflow", "container_image": IMAGE}, RunTracker(plan, {}), Recorder())
    [path] = (root / ".zplan" / "compiled").iterdir()
    assert re.fullmatch(r"module-env-europe-west4-[-a-z0-9]*-[0-9a-f]{8}", path.stem)
    assert re.fullmatch(r"[a-z][-a-z0-9]{0,127}", f"{path.stem}-20261201223900"), "Vertex's job ID: the name and a timestamp"
    spec = yaml.safe_load(path.read_text())
    assert spec["pipelineInfo"]["name"] == path.stem
    [executor] = spec["deploymentSpec"]["executors"].values()
    assert executor["container"]["command"][2] == f'module.env["{key}"].pipeline.train.step.fit'


def test_a_pipeline_fed_by_a_module_pipeline_is_one_spec_with_it(tmp_path):
    from zplan.apply.remote import submit_pipelines
    from zplan.apply.tracker import RunTracker
    from zplan.hooks import Recorder

    root = tmp_path / "project"
    (root / "mod").mkdir(parents=True)
    (root / "mod" / "m.zp.hcl").write_text('pipeline "train" {\n  step "fit" {\n    source = "s.py:fit"\n  }\n}\n'
                                           'output "model" {\n  value = step.fit.outputs.output\n}\n')
    (root / "mod" / "s.py").write_text("def fit():\n    return 1\n\n\ndef fit_on(model):\n    return model\n")
    (root / "main.zp.hcl").write_text('module "tr" {\n  source = "./mod"\n}\n\npipeline "serve" {\n  step "fit" {\n'
                                      '    source = "mod/s.py:fit_on"\n    inputs = { model = module.tr.model }\n  }\n}\n')
    project = open_project(ProjectArgs(root))
    plan = Planner(project, State()).plan(PlanRequest())
    tracker = RunTracker(plan, {})
    submit_pipelines(project, plan, {"orchestrator": "kubeflow", "container_image": IMAGE}, tracker, Recorder())
    [path] = (root / ".zplan" / "compiled").iterdir()
    assert path.name == "module-tr-train-serve.yaml"
    tasks = yaml.safe_load(path.read_text())["root"]["dag"]["tasks"]
    assert {name: t.get("dependentTasks", []) for name, t in tasks.items()} == {"module-tr-train-fit": [], "serve-fit": ["module-tr-train-fit"]}
    assert set(tracker.result.outcome) == {"module.tr.pipeline.train.step.fit", "pipeline.serve.step.fit"}


def test_instances_whose_keys_read_the_same_get_tasks_of_their_own(tmp_path):
    root = tmp_path / "project"
    root.mkdir()
    long_key = "lr=0.001,batch=256,optimizer=adamw,scheduler=cosine,warmup=500"
    keys = ["x-y", "x_y", "X-Y", "plain", long_key]
    (root / "main.zp.hcl").write_text(f'pipeline "p" {{\n  step "train" {{\n    for_each = toset({json.dumps(keys)})\n'
                                      '    source   = "s.py:fit"\n    params   = { k = each.key }\n  }\n}\n')
    (root / "s.py").write_text("def fit(k):\n    return k\n")
    project = open_project(ProjectArgs(root))
    steps = list(Planner(project, State()).plan(PlanRequest()).steps)

    def compiled(name: str) -> dict:
        spec = yaml.safe_load(compile_pipeline("p", pipeline_tasks(project, steps), IMAGE, "gcp", tmp_path / name).read_text())
        executors = spec["deploymentSpec"]["executors"]
        return {name: (t["taskInfo"]["name"], executors[spec["components"][t["componentRef"]["name"]]["executorLabel"]]["container"]["command"][2])
                for name, t in spec["root"]["dag"]["tasks"].items()}

    tasks = compiled("p.yaml")
    assert dict(tasks.values()) == {f'train["{k}"]': f'pipeline.p.step.train["{k}"]' for k in keys}  # shown as written, each its own step
    assert "train-plain" in tasks  # a name no other reads as stays as it was
    clashing = sorted(n for n in tasks if n.startswith("train-x-y"))
    assert len(clashing) == 3 and all(re.fullmatch(r"train-x-y-[0-9a-f]{8}", n) for n in clashing)
    assert tasks["train-x-y-2fe3b4fb"][0] == 'train["x-y"]'  # as README shows it
    assert all(len(n) <= 63 and re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", n) for n in tasks)  # a Kubernetes name
    assert any(n.startswith("train-lr-0-001-batch-256") for n in tasks)
    assert compiled("again.yaml") == tasks  # the same names at every compile


@pytest.mark.parametrize("orchestrator", ["kubeflow", "vertex"])
def test_a_data_input_outside_the_project_is_refused_at_plan(tmp_path, orchestrator):
    """The task runs in the image, which holds the project folder only: the plan passed, apply provisioned
    and submitted, and the task failed ('input "raw" names /.../raw.csv, which does not exist')."""
    outside = tmp_path / "shared" / "raw.csv"
    outside.parent.mkdir()
    outside.write_text("a,b\n1,2\n")
    root = tmp_path / "project"
    (root / "data").mkdir(parents=True)
    (root / "data" / "raw.csv").write_text("a,b\n1,2\n")
    (root / "steps.py").write_text("def load(raw):\n    return open(raw).read()\n")
    options = '{ project = "p", location = "europe-west4", pipeline_root = "gs://b/p" }' if orchestrator == "vertex" else "{}"

    def plan(raw: str):
        (root / "main.zp.hcl").write_text(
            f'stack "remote" {{\n  orchestrator = "{orchestrator}"\n  orchestrator_options = {options}\n'
            f'  container_image = "{IMAGE}"\n  artifact_store = "gs://acme/zplan"\n'
            '  metadata_store = "mysql://zplan@db.internal/zplan"\n}\n'
            f'pipeline "p" {{\n  step "load" {{\n    source = "steps.py:load"\n    inputs = {{ raw = "{raw}" }}\n  }}\n}}\n')
        return Planner(open_project(ProjectArgs(root)), State()).plan(PlanRequest())

    for raw in (str(outside), "../shared/raw.csv", "${path.root}/../shared/raw.csv"):
        with pytest.raises(DiagnosticError) as err:
            plan(raw)
        [problem] = err.value.diagnostics
        assert f'step "load": input "raw" names {raw.replace("${path.root}", ".")}, outside the project folder' in problem.summary
        assert "container_image, which holds only the project folder" in problem.detail
        assert problem.range.line == 11  # the inputs line
    assert [s.step for s in plan("data/raw.csv").steps] == ["load"]
    assert [s.step for s in plan("${path.root}/data/raw.csv").steps] == ["load"]


REMOTE_STACK = (f'stack "remote" {{\n  orchestrator = "kubeflow"\n  container_image = "{IMAGE}"\n'
                '  artifact_store = "gs://acme/zplan"\n  metadata_store = "mysql://zplan@db.internal/zplan"\n}\n')


def test_a_module_or_step_code_outside_the_project_is_refused_at_plan(tmp_path):
    """Each task loads the configuration and runs the step's code from the image, which holds the project
    folder only: a local module beside the project (../shared) planned, compiled and was submitted, and
    every task of the pipeline then failed to load it."""
    shared, root = tmp_path / "shared", tmp_path / "project"
    shared.mkdir()
    root.mkdir()
    (shared / "main.zp.hcl").write_text('pipeline "t" {\n  step "fit" {\n    source = "steps.py:fit"\n  }\n}\n')
    (shared / "steps.py").write_text("def fit():\n    return 1\n")
    (root / "steps.py").write_text("def own():\n    return 2\n")

    def plan(blocks: str):
        (root / "main.zp.hcl").write_text(REMOTE_STACK + blocks)
        return Planner(open_project(ProjectArgs(root)), State()).plan(PlanRequest())

    with pytest.raises(DiagnosticError) as err:
        plan('module "shared" {\n  for_each = toset(["a", "b"])\n  source = "../shared"\n}\n')
    [problem] = err.value.diagnostics  # one for all its instances
    assert 'module "shared": its source ../shared is outside the project folder' in problem.summary
    assert "each task loads the configuration from it" in problem.detail and problem.range.line == 9
    with pytest.raises(DiagnosticError) as err:
        plan('pipeline "p" {\n  step "fit" {\n    source = "../shared/steps.py:fit"\n  }\n}\n')
    [problem] = err.value.diagnostics
    assert 'step "fit": its code ../shared/steps.py is outside the project folder' in problem.summary
    assert problem.range.line == 9
    assert [s.step for s in plan('pipeline "p" {\n  step "own" {\n    source = "steps.py:own"\n  }\n}\n').steps] == ["own"]


def test_a_gpu_without_a_type_gets_the_accelerator_each_orchestrator_names(tmp_path):
    """`gpu = 1` became accelerator "nvidia.com/gpu" on Vertex too, which takes only its own accelerator
    types (NVIDIA_TESLA_T4, ...): the task could not be placed there."""
    from zplan.config.step_resources import parse_resources

    def accelerator(orchestrator: str, needs: dict) -> dict:
        steps = [StepTask("pipeline.t.step.train", "train", [], parse_resources(needs))]
        spec = yaml.safe_load(compile_pipeline("t", steps, IMAGE, "gcp", tmp_path / "t.yaml", orchestrator).read_text())
        return next(iter(spec["deploymentSpec"]["executors"].values()))["container"]["resources"]["accelerator"]

    assert accelerator("vertex", {"gpu": 1})["type"] == "NVIDIA_TESLA_T4"
    kubeflow = accelerator("kubeflow", {"gpu": 2})
    assert (kubeflow["type"], kubeflow["count"]) == ("nvidia.com/gpu", "2")
    assert accelerator("vertex", {"gpu": 1, "gpu_type": "NVIDIA_L4"})["type"] == "NVIDIA_L4"


def test_a_step_waits_for_the_steps_its_depends_on_names(tmp_path):
    """A task waited only for the steps of its inputs: `depends_on = [step.prepare]` (a step writing
    to a database the next one reads) was left out of the spec, and both tasks ran at once."""
    from zplan.apply.remote import submit_pipelines
    from zplan.apply.tracker import RunTracker
    from zplan.hooks import Recorder

    root = tmp_path / "project"
    root.mkdir()
    (root / "steps.py").write_text("def prepare():\n    return 1\n\n\ndef train():\n    return 2\n\n\ndef report(m):\n    return m\n")
    (root / "main.zp.hcl").write_text(
        'pipeline "p" {\n  step "prepare" {\n    source = "steps.py:prepare"\n  }\n'
        '  step "train" {\n    source     = "steps.py:train"\n    depends_on = [step.prepare]\n  }\n'
        '  step "report" {\n    source = "steps.py:report"\n    inputs = { m = step.train.outputs.output }\n  }\n}\n')
    project = open_project(ProjectArgs(root))
    plan = Planner(project, State()).plan(PlanRequest())
    submit_pipelines(project, plan, {"orchestrator": "kubeflow", "container_image": IMAGE}, RunTracker(plan, {}), Recorder())
    tasks = yaml.safe_load((root / ".zplan" / "compiled" / "p.yaml").read_text())["root"]["dag"]["tasks"]
    assert {name: t.get("dependentTasks", []) for name, t in tasks.items()} == {"prepare": [], "train": ["prepare"], "report": ["train"]}
