"""Resources and steps in one graph (issue 13, items 1-3): a resource reads a step's output
(a model to serve), a step reads that resource (a smoke test of the deployment).

The deployment target is a provider registered in-process that keeps what it was given;
the steps run for real in worker processes.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from zplan import diags
from zplan.apply.applier import Applier
from zplan.config.values import UNKNOWN
from zplan.hooks import Recorder
from zplan.plan import model as m
from zplan.plan.planner import Planner, PlanRequest
from zplan.project import Options, Project
from zplan.provider import Attribute, Provider, ProviderRegistry, ResourceSchema
from zplan.state.model import State

from tests.unit.plan.inprocess import FakeProvider

BUCKET, API = "resource.fake_thing.bucket", "resource.deploy_server.api"
TRAIN, SMOKE = "pipeline.serve.step.train", "pipeline.serve.step.smoke"

HCL = '''
variable "c" { default = 1 }
variable "unused" { default = 0 }

stack "local" {
  orchestrator   = "local"
  artifact_store = "file://.zplan/artifacts"
  metadata_store = "sqlite:///.zplan/metadata.db"
}

resource "fake_thing" "bucket" {
  name = "models"
}

resource "deploy_server" "api" {
  name  = "api"
  model = step.train.outputs.%(output)s
}

pipeline "serve" {
  step "train" {
    source = "steps/work.py:train"
    params = { c = var.c, unused = var.unused, bucket = resource.fake_thing.bucket.id }
  }
  step "smoke" {
    source = "steps/work.py:smoke"
    params = { url = resource.deploy_server.api.url }
  }
}
'''

STEPS = '''
def train(c, unused, bucket):
    return {"weights": [c, c * 2]}


def smoke(url):
    return url
'''


class DeployProvider(Provider):
    """Keeps every deployment it was asked for, in order."""

    name = "deploy"
    schemas = {
        "deploy_server": ResourceSchema("deploy_server", {
            "name": Attribute(required=True, force_new=True),
            "model": Attribute("map", required=True),
            "url": Attribute(computed=True),
        }),
    }
    deployed: list[dict] = []

    def create(self, type_, name, inputs):
        DeployProvider.deployed.append(dict(inputs["model"]))
        return {**inputs, "url": f"fake://{inputs['name']}"}

    def update(self, type_, before, inputs):
        DeployProvider.deployed.append(dict(inputs["model"]))
        return {**before, **inputs}

    def delete(self, type_, attributes):
        DeployProvider.deployed.append({"deleted": attributes["name"]})


def _project(tmp_path: Path, output: str = "output") -> Path:
    root = tmp_path / "project"
    (root / "steps").mkdir(parents=True, exist_ok=True)
    (root / "steps" / "__init__.py").write_text("")
    (root / "steps" / "work.py").write_text(STEPS)
    (root / "main.zp.hcl").write_text(HCL % {"output": output})
    return root


def _plan(root: Path, state: State, variables=None, **request):
    registry = ProviderRegistry({"fake": FakeProvider, "deploy": DeployProvider})
    project = Project.open(root, Options(vars=variables or []), registry=registry)
    planner = Planner(project, state)
    return planner.plan(PlanRequest(**request)), planner


def _apply(root: Path, state: State, variables=None, **request):
    made, planner = _plan(root, state, variables, **request)
    hooks = Recorder()
    result = Applier(planner, made, state, lambda s: None, hooks, parallelism=2).apply()
    assert result.ok, hooks.events
    return made, hooks


def _order(hooks: Recorder) -> list[str]:
    """Each node as it finished."""
    return [e[1] for e in hooks.events if e[0] in ("resource_finished", "step_finished", "step_cached")]


def _reasons(plan_item) -> list[tuple[str, str]]:
    return [(r.code.value, r.message) for r in plan_item.reasons]


@pytest.fixture(autouse=True)
def _clean():
    FakeProvider.live.clear()
    DeployProvider.deployed.clear()


def test_one_apply_runs_resource_step_resource_step_in_order_and_the_provider_gets_an_artifact_reference(tmp_path):
    root = _project(tmp_path)
    state = State()
    made, hooks = _apply(root, state)
    assert made.resource(API).action == m.CREATE and made.resource(API).after["model"] is UNKNOWN
    assert _order(hooks) == [BUCKET, TRAIN, API, SMOKE]
    [model] = DeployProvider.deployed
    record = state.step_record(made.store_key, TRAIN).outputs["output"]
    assert model["digest"] == record["digest"] and model["uri"] == record["uri"] and model["materializer"] == "json"
    assert Path(model["path"]).is_dir() and model["uri"] == Path(model["path"]).as_uri()
    # the destroy order looks through the step: the server goes before the bucket it was trained from
    assert state.resource(API).dependencies == [BUCKET]

    again, _ = _plan(root, state)
    assert not again.has_changes()
    assert again.resource(API).after["model"]["digest"] == record["digest"]  # known at plan time: train is cached


def test_a_rerunning_step_makes_the_resource_serving_its_output_update_and_the_smoke_test_rerun(tmp_path):
    root = _project(tmp_path)
    state = State()
    _apply(root, state)
    made, hooks = _apply(root, state, ["c=2"])
    api, smoke = made.resource(API), made.step(SMOKE)
    assert api.action == m.UPDATE
    assert _reasons(api) == [("upstream_reruns", "model changes (step train reruns)")]
    assert smoke.action == m.RUN and ("resource_changed", f"{API} changes (update)") in _reasons(smoke)
    assert _order(hooks) == [TRAIN, API, SMOKE] and len(DeployProvider.deployed) == 2
    assert DeployProvider.deployed[-1]["digest"] == state.step_record(made.store_key, TRAIN).outputs["output"]["digest"]
    assert not _plan(root, state, ["c=2"])[0].has_changes()


def test_a_step_output_that_comes_out_identical_redeploys_nothing_and_the_smoke_test_stays_cached(tmp_path):
    root = _project(tmp_path)
    state = State()
    _apply(root, state)
    made, hooks = _apply(root, state, ["unused=5"])  # train reruns, its output is the same
    assert made.step(TRAIN).action == m.RUN and made.resource(API).action == m.UPDATE
    assert len(DeployProvider.deployed) == 1  # not redeployed
    assert ("resource_finished", API, m.NOOP, True) == next(e[:4] for e in hooks.events if e[:2] == ("resource_finished", API))
    assert ("step_cached", SMOKE) == next(e[:2] for e in hooks.events if e[1] == SMOKE)
    assert not _plan(root, state, ["unused=5"])[0].has_changes()


def test_a_step_reading_a_resource_reruns_when_that_resource_is_replaced_even_if_the_value_read_is_the_same(tmp_path):
    root = _project(tmp_path)
    state = State()
    _apply(root, state)
    made, hooks = _apply(root, state, replace=[API])
    assert made.resource(API).action == m.REPLACE
    assert _reasons(made.step(SMOKE))[0] == ("resource_changed", f"{API} changes (replace)")
    assert ("step_started", SMOKE) in [e[:2] for e in hooks.events]


def test_destroy_tears_resources_down_in_reverse_order_and_keeps_step_records(tmp_path):
    root = _project(tmp_path)
    state = State()
    made, _ = _apply(root, state)
    gone, hooks = _apply(root, state, destroy=True)
    assert [e[1] for e in hooks.events if e[0] == "resource_finished"] == [API, BUCKET]
    assert not state.resources and state.step_record(made.store_key, TRAIN).succeeded


def test_a_resource_naming_an_output_the_step_does_not_have_is_an_error_at_its_line(tmp_path):
    root = _project(tmp_path)
    state = State()
    _apply(root, state)
    (root / "main.zp.hcl").write_text(HCL % {"output": "modle"})
    with pytest.raises(diags.DiagnosticError) as err:
        _plan(root, state)
    [d] = err.value.diagnostics
    assert d.summary == 'step "train" has no output "modle"' and "output" in d.detail
    assert d.range is not None and d.range.line == 17 and os.path.basename(d.range.file) == "main.zp.hcl"


def test_a_redeploy_the_smoke_test_never_saw_reruns_it_on_the_next_plan(tmp_path):
    root = _project(tmp_path)
    state = State()
    _apply(root, state)
    _apply(root, state, ["c=3"], targets=[API])  # the model is redeployed; the smoke test is not selected
    made, _ = _plan(root, state, ["c=3"])
    assert made.step(SMOKE).action == m.RUN
    assert _reasons(made.step(SMOKE)) == [("resource_changed", f"{API} changed since the step last ran")]
    _apply(root, state, ["c=3"])
    assert not _plan(root, state, ["c=3"])[0].has_changes()
