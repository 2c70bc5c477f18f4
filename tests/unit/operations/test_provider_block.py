"""Apply, refresh and import open providers the same way: with the evaluated provider block."""

from __future__ import annotations

from pathlib import Path

import pytest

from zplan.hooks import Recorder
from zplan.operations import applying
from zplan.operations.importing import import_resource
from zplan.operations.opening import ProjectArgs
from zplan.operations.state_ops import LockViews
from zplan.provider import Attribute, Provider, ProviderRegistry, ResourceSchema

HCL = """
variable "region" {
  default = "eu-north"
}

provider "fake" {
  region = var.region
  zone   = "${var.region}-1"
}

resource "fake_thing" "a" {
  name = "a"
}

resource "fake_thing" "b" {
  name = "b"
}
"""


class FakeProvider(Provider):
    """Keeps things in a dict and remembers the settings of every instance made."""

    name = "fake"
    refresh_is_local = True
    schemas = {"fake_thing": ResourceSchema("fake_thing", {"name": Attribute(required=True), "id": Attribute(computed=True)})}
    opened: list[dict] = []
    things: dict[str, dict] = {}

    def __init__(self, context) -> None:
        super().__init__(context)
        FakeProvider.opened.append(dict(context.config))

    def create(self, type_, name, inputs):
        self.things[inputs["name"]] = {"name": inputs["name"], "id": inputs["name"]}
        return self.things[inputs["name"]]

    def read(self, type_, attributes):
        return self.things.get(attributes["id"])

    def delete(self, type_, attributes):
        self.things.pop(attributes["id"], None)

    def import_resource(self, type_, id_):
        return self.things[id_]


@pytest.fixture
def args(tmp_path: Path) -> ProjectArgs:
    (tmp_path / "main.zp.hcl").write_text(HCL)
    FakeProvider.opened, FakeProvider.things = [], {}
    return ProjectArgs(tmp_path, ["region=us-east"], registry=ProviderRegistry({"fake": FakeProvider}))


def test_apply_refresh_and_import_all_see_the_provider_block(args):
    # every instance opened (plan's offline checks open one too) gets the evaluated block
    wanted = {"region": "us-east", "zone": "us-east-1"}
    ui = applying.ApplyUI(hooks=lambda doc: Recorder())
    outcome = applying.apply_changes(args, applying.Selection(targets=["fake_thing.a"]), ui)
    assert outcome.result is not None and outcome.result.ok
    assert FakeProvider.opened and all(o == wanted for o in FakeProvider.opened), "apply"

    FakeProvider.opened.clear()
    applying.plan(args, applying.Selection())  # refresh_is_local: every plan reads resources back
    assert FakeProvider.opened and all(o == wanted for o in FakeProvider.opened), "refresh"

    FakeProvider.opened.clear()
    FakeProvider.things["b"] = {"name": "b", "id": "b"}  # made outside zplan
    assert import_resource(args, "fake_thing.b", "b", "0s", LockViews()) == "resource.fake_thing.b"
    assert FakeProvider.opened and all(o == wanted for o in FakeProvider.opened), "import"


class RemoteProvider(FakeProvider):
    """Its reads are remote: a plan reads its resources back only under -refresh."""

    refresh_is_local = False


def test_a_saved_plan_made_with_refresh_is_applied_reading_back_as_planned(args, tmp_path):
    args = ProjectArgs(args.root, args.vars, registry=ProviderRegistry({"fake": RemoteProvider}))
    ui = applying.ApplyUI(hooks=lambda doc: Recorder())
    assert applying.apply_changes(args, applying.Selection(), ui).ok
    RemoteProvider.things.pop("a")  # deleted outside zplan: seen only by reading it back

    saved = applying.plan(args, applying.Selection(refresh=True), out=tmp_path / "plan.zplan").doc
    assert {r["address"]: r["action"] for r in saved["resources"]} == {"resource.fake_thing.a": "create", "resource.fake_thing.b": "no-op"}
    outcome = applying.apply_saved_plan(args.root, tmp_path / "plan.zplan", ui, registry=args.registry)
    assert outcome.ok and "a" in RemoteProvider.things
