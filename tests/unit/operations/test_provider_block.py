"""Apply, refresh and import open providers the same way: with the evaluated provider block."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from zplan import diags
from zplan.hooks import Recorder
from zplan.operations import applying
from zplan.operations.importing import import_resource
from zplan.operations.opening import ProjectArgs
from zplan.operations.state_ops import LockViews
from zplan.provider import Attribute, Provider, ProviderRegistry, ResourceSchema
from zplan.render import plan_text

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

    def update(self, type_, before, inputs):
        self.things.pop(before["id"], None)
        return self.create(type_, inputs["name"], inputs)

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


PLACED_HCL = """
variable "region" {
  default = "eu-north"
}

variable "zone" {
  default = "a"
}

variable "key" {
  default   = "k-one"
  sensitive = true
}

provider "placed" {
  region      = var.region
  zone        = var.zone
  signing_key = var.key
}

resource "placed_thing" "takes" {
  name = "takes"
}

resource "placed_thing" "own" {
  name   = "own"
  region = "eu-north"
}
"""


class PlacedProvider(Provider):
    """Resources take the block's region (force-new), zone (no attribute shows it) and signing key
    (secret, updated in place) when they leave them unset, as a cloud provider's project and region."""

    name = "placed"
    schemas = {"placed_thing": ResourceSchema("placed_thing", {
        "name": Attribute(required=True, force_new=True),
        "region": Attribute(optional=True, computed=True, force_new=True),
        "key": Attribute(optional=True, computed=True, sensitive=True),
        "id": Attribute(computed=True),
    })}
    sensitive_settings = frozenset({"signing_key"})

    def settings_taken(self, type_):
        return {"region": "region", "zone": "", "signing_key": "key"}

    def create(self, type_, name, inputs):
        config = self.context.config
        return {"region": config["region"], "key": config["signing_key"], **inputs, "id": f"{inputs['name']}@{config['zone']}"}

    def update(self, type_, before, inputs):
        return {**before, "key": self.context.config["signing_key"], **inputs}

    def delete(self, type_, attributes):
        pass


def _placed(tmp_path: Path, *given: str):
    args = ProjectArgs(tmp_path, list(given), registry=ProviderRegistry({"placed": PlacedProvider}))
    doc = applying.plan(args, applying.Selection()).doc
    return args, {r["address"]: r for r in doc["resources"]}, doc


def _apply_placed(args) -> None:
    outcome = applying.apply_changes(args, applying.Selection(), applying.ApplyUI(hooks=lambda doc: Recorder()))
    assert outcome.result is None or outcome.result.ok


@pytest.fixture
def placed(tmp_path: Path) -> Path:
    (tmp_path / "main.zp.hcl").write_text(PLACED_HCL)
    _apply_placed(_placed(tmp_path)[0])
    return tmp_path


def test_a_changed_provider_setting_replaces_the_resources_taking_it_and_names_the_cause(placed):
    _, plans, doc = _placed(placed, "region=us-east")
    takes, own = plans["resource.placed_thing.takes"], plans["resource.placed_thing.own"]
    assert own["action"] == "no-op"  # it sets its region itself
    assert takes["action"] == "replace" and takes["replace_because"] == ["region"]
    assert [x["message"] for x in takes["reasons"]] == ["provider placed: region changed"]
    assert takes["before"]["region"] == "eu-north" and takes["after"]["region"] == "us-east"
    lines = [text for _, text in plan_text.render(doc)]
    assert any(line.startswith("  -/+ resource.placed_thing.takes ") and line.endswith("must be replaced (provider placed: region changed)") for line in lines)
    assert '        ~ region = "eu-north" -> "us-east" # forces replacement' in lines


def test_a_setting_no_attribute_shows_replaces_and_one_applied_plans_no_changes(placed):
    args, plans, _ = _placed(placed, "zone=b")
    assert {a: r["action"] for a, r in plans.items()} == {"resource.placed_thing.takes": "replace", "resource.placed_thing.own": "replace"}
    assert [x["message"] for x in plans["resource.placed_thing.own"]["reasons"]] == ["provider placed: zone changed"]
    _apply_placed(args)
    _, plans, _ = _placed(placed, "zone=b")
    assert {r["action"] for r in plans.values()} == {"no-op"}
    assert plans["resource.placed_thing.own"]["before"]["id"] == "own@b"


def test_a_secret_setting_updates_in_place_and_is_never_stored_in_clear(placed):
    state = (placed / ".zplan" / "state.json").read_text()
    recorded = json.loads(state)["resources"]["resource.placed_thing.takes"]["provider_settings"]
    assert "k-one" not in state and recorded["signing_key"].startswith("(sensitive:")
    args, plans, doc = _placed(placed, "key=k-two")
    takes = plans["resource.placed_thing.takes"]
    assert takes["action"] == "update" and [x["message"] for x in takes["reasons"]] == ["provider placed: signing_key changed"]
    assert "k-two" not in json.dumps(doc)
    _apply_placed(args)
    assert "k-two" not in (placed / ".zplan" / "state.json").read_text()
    assert {r["action"] for r in _placed(placed, "key=k-two")[1].values()} == {"no-op"}


def test_state_without_the_settings_plans_no_change_and_the_next_apply_records_them(placed):
    # state written before zplan recorded them: nothing is known to have changed, so nothing is replaced
    path = placed / ".zplan" / "state.json"
    doc = json.loads(path.read_text())
    for record in doc["resources"].values():
        del record["provider_settings"]
    path.write_text(json.dumps(doc))
    args, plans, _ = _placed(placed, "zone=b")
    assert {r["action"] for r in plans.values()} == {"no-op"}
    _apply_placed(args)  # changes nothing, records the settings
    assert all(r["provider_settings"]["zone"] == "b" for r in json.loads(path.read_text())["resources"].values())
    assert {r["action"] for r in _placed(placed, "zone=c")[1].values()} == {"replace"}


class EndpointProvider(Provider):
    """Configured by a block reading another provider's resource: remembers what each create saw."""

    name = "served"
    schemas = {"served_thing": ResourceSchema("served_thing", {"name": Attribute(required=True), "id": Attribute(computed=True)})}
    seen: list = []

    def settings_taken(self, type_):
        return {"endpoint": ""}

    def create(self, type_, name, inputs):
        EndpointProvider.seen.append(self.context.config["endpoint"])
        return {**inputs, "id": name}

    def delete(self, type_, attributes):
        pass


def _served_registry() -> ProviderRegistry:
    """The fake and served providers, with nothing created or seen yet."""
    FakeProvider.opened, FakeProvider.things, EndpointProvider.seen = [], {}, []
    return ProviderRegistry({"fake": FakeProvider, "served": EndpointProvider})


def test_a_provider_block_reading_a_resource_configures_its_resources_once_that_one_is_applied(tmp_path: Path):
    # as in Terraform: the provider's resources wait for what its block reads, which it then sees applied
    (tmp_path / "main.zp.hcl").write_text(
        'variable "server" {\n  default = "srv"\n}\n\n'
        'provider "served" {\n  endpoint = "http://${resource.fake_thing.server.name}"\n}\n\n'
        'resource "fake_thing" "server" {\n  name = var.server\n}\n\n'
        'resource "served_thing" "model" {\n  name = "model"\n}\n')
    registry = _served_registry()
    ui = applying.ApplyUI(hooks=lambda doc: Recorder())
    outcome = applying.apply_changes(ProjectArgs(tmp_path, registry=registry), applying.Selection(), ui)
    assert outcome.result is not None and outcome.result.ok
    assert ["resource.fake_thing.server", "resource.served_thing.model"] in outcome.doc["graph"]["edges"]
    assert EndpointProvider.seen == ["http://srv"]
    recorded = json.loads((tmp_path / ".zplan" / "state.json").read_text())["resources"]["resource.served_thing.model"]
    assert recorded["dependencies"] == ["resource.fake_thing.server"]  # so destroy deletes it first
    assert {r["action"] for r in applying.plan(ProjectArgs(tmp_path, registry=registry), applying.Selection()).doc["resources"]} == {"no-op"}

    # the server moves: the block's value changes with it, and so does what takes it
    moved = ProjectArgs(tmp_path, ["server=srv2"], registry=registry)
    plans = {r["address"]: r for r in applying.plan(moved, applying.Selection()).doc["resources"]}
    model = plans["resource.served_thing.model"]
    assert model["action"] == "replace" and [x["message"] for x in model["reasons"]] == ["provider served: endpoint changed"]
    assert applying.apply_changes(moved, applying.Selection(), ui).result.ok and EndpointProvider.seen[-1] == "http://srv2"
    assert {r["action"] for r in applying.plan(moved, applying.Selection()).doc["resources"]} == {"no-op"}


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


def test_a_saved_plan_is_stale_when_a_provider_block_reads_otherwise_now(tmp_path: Path, monkeypatch):
    # the reviewed plan creates its resources where it said: never in a zone an `env()` reads at apply
    (tmp_path / "main.zp.hcl").write_text(PLACED_HCL.replace("zone        = var.zone", 'zone        = env("ZONE", "a")'))
    args = ProjectArgs(tmp_path, registry=ProviderRegistry({"placed": PlacedProvider}))
    ui = applying.ApplyUI(hooks=lambda doc: Recorder())
    applying.plan(args, applying.Selection(), out=tmp_path / "plan.zplan")
    assert "k-one" not in (tmp_path / "plan.zplan").read_text()  # the secret setting: a keyed digest only
    monkeypatch.setenv("ZONE", "b")
    with pytest.raises(diags.DiagnosticError) as err:
        applying.apply_saved_plan(args.root, tmp_path / "plan.zplan", ui, registry=args.registry)
    assert 'saved plan is stale: the settings of provider "placed" changed since the plan was made (zone)' in str(err.value)
    assert not (tmp_path / ".zplan" / "state.json").exists()
    monkeypatch.delenv("ZONE")
    assert applying.apply_saved_plan(args.root, tmp_path / "plan.zplan", ui, registry=args.registry).ok


def test_a_saved_plan_whose_provider_block_reads_a_resource_it_creates_is_applied_with_its_value(tmp_path: Path, monkeypatch):
    # known only after apply at plan time, and still at apply: the reviewed plan said it comes from that
    # resource; the block's other settings, known, are compared
    (tmp_path / "main.zp.hcl").write_text(
        'provider "served" {\n  endpoint = "http://${resource.fake_thing.server.id}"\n  tier = env("TIER", "basic")\n}\n\n'
        'resource "fake_thing" "server" {\n  name = "srv"\n}\n\n'
        'resource "served_thing" "model" {\n  name = "model"\n}\n')
    registry = _served_registry()
    ui = applying.ApplyUI(hooks=lambda doc: Recorder())
    applying.plan(ProjectArgs(tmp_path, registry=registry), applying.Selection(), out=tmp_path / "plan.zplan")
    monkeypatch.setenv("TIER", "pro")
    with pytest.raises(diags.DiagnosticError, match=r'the settings of provider "served" changed since the plan was made \(tier\)'):
        applying.apply_saved_plan(tmp_path, tmp_path / "plan.zplan", ui, registry=registry)
    monkeypatch.delenv("TIER")
    assert applying.apply_saved_plan(tmp_path, tmp_path / "plan.zplan", ui, registry=registry).ok
    assert EndpointProvider.seen == ["http://srv"]


class EnvPlacedProvider(PlacedProvider):
    """Takes the zone from PLACED_ZONE when its block leaves it unset, as gcp reads GOOGLE_PROJECT."""

    def setting_value(self, setting):
        return super().setting_value(setting) or (os.environ.get("PLACED_ZONE") if setting == "zone" else None)

    def create(self, type_, name, inputs):
        return {**super().create(type_, name, inputs), "id": f"{inputs['name']}@{self.setting_value('zone')}"}


def test_a_saved_plan_is_stale_when_the_environment_a_provider_reads_is_set_otherwise_now(tmp_path: Path, monkeypatch):
    (tmp_path / "main.zp.hcl").write_text(PLACED_HCL.replace("  zone        = var.zone\n", ""))
    registry = ProviderRegistry({"placed": EnvPlacedProvider})
    ui = applying.ApplyUI(hooks=lambda doc: Recorder())
    monkeypatch.setenv("PLACED_ZONE", "a")
    applying.plan(ProjectArgs(tmp_path, registry=registry), applying.Selection(), out=tmp_path / "plan.zplan")
    monkeypatch.setenv("PLACED_ZONE", "b")
    with pytest.raises(diags.DiagnosticError, match=r'the settings of provider "placed" changed since the plan was made \(zone\)'):
        applying.apply_saved_plan(tmp_path, tmp_path / "plan.zplan", ui, registry=registry)
    assert not (tmp_path / ".zplan" / "state.json").exists()
