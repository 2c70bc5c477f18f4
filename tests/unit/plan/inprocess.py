"""Small projects planned in-process (no CLI), and a fake provider registered in-process."""

from __future__ import annotations

import shutil
from pathlib import Path

from zplan.plan.planner import Planner, PlanRequest
from zplan.project import Project
from zplan.provider import Attribute, Provider, ProviderRegistry, ResourceSchema
from zplan.state.model import State

PIPELINE = Path(__file__).resolve().parents[2] / "testdata" / "pipeline"


class FakeProvider(Provider):
    """Keeps its resources in a dict of the class: what apply did is visible to the test."""

    name = "fake"
    schemas = {
        "fake_thing": ResourceSchema("fake_thing", {
            "name": Attribute(required=True, force_new=True),
            "size": Attribute("number", optional=True),
            "token": Attribute(optional=True, sensitive=True),
            "id": Attribute(computed=True),
        }),
    }
    live: dict[str, dict] = {}

    def create(self, type_, name, inputs):
        attrs = {**inputs, "id": f"{type_}/{inputs['name']}"}
        FakeProvider.live[attrs["id"]] = attrs
        return attrs

    def update(self, type_, before, inputs):
        attrs = {**before, **inputs}
        FakeProvider.live[attrs["id"]] = attrs
        return attrs

    def delete(self, type_, attributes):
        FakeProvider.live.pop(attributes["id"], None)


def registry() -> ProviderRegistry:
    return ProviderRegistry({"fake": FakeProvider})


def copy_pipeline(tmp_path: Path) -> Path:
    root = tmp_path / "pipeline"
    shutil.copytree(PIPELINE, root, ignore=shutil.ignore_patterns(".zplan", "__pycache__"))
    return root


def write_project(tmp_path: Path, hcl: str) -> Path:
    root = tmp_path / "project"
    root.mkdir(exist_ok=True)
    (root / "main.zp.hcl").write_text(hcl)
    return root


def plan(root: Path, state: State | None = None, **request):
    """(plan, planner, project) for the project at ``root`` against ``state``."""
    project = Project.open(root, registry=registry())
    planner = Planner(project, state or State())
    return planner.plan(PlanRequest(**request)), planner, project
