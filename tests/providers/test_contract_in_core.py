"""How the core honours the provider contract during apply: serialised calls for
providers that cannot take two at once, the no-op listing only for declarative
providers, and schema versions recorded in state and upgraded through the provider.

The providers here are registered in-process and record every call they get.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any, Mapping

import pytest

from zplan import diags
from zplan.operations import planning as operations
from zplan.plan import model as m
from zplan.plan.planner import PlanRequest
from zplan.project import Project
from zplan.provider import Attribute, Provider, ProviderError, ProviderRegistry, ResourceSchema

THING = {"label": Attribute("string", required=True), "id": Attribute("string", computed=True)}


class Recording(Provider):
    """Per-resource CRUD that notes how many calls overlap and what each batch held."""

    name = "rec"
    schemas = {"rec_thing": ResourceSchema("rec_thing", THING, "a thing that takes a while")}
    seconds = 0.2

    def __init__(self, context) -> None:
        super().__init__(context)
        self.lock = threading.Lock()
        self.active = 0
        self.most_at_once = 0
        self.batches: list[list[tuple[str, str]]] = []
        type(self).last = self

    def apply(self, changes, on_result) -> None:
        self._enter([(c.address, c.action) for c in changes])
        try:
            time.sleep(self.seconds)
            super().apply(changes, on_result)
        finally:
            with self.lock:
                self.active -= 1

    def destroy(self, changes, on_result) -> None:
        self.apply(changes, on_result)

    def _enter(self, batch) -> None:
        with self.lock:
            self.active += 1
            self.most_at_once = max(self.most_at_once, self.active)
            self.batches.append(batch)

    def create(self, type_, name, inputs):
        return {**inputs, "id": name}

    def update(self, type_, before, inputs):
        return {**before, **inputs}

    def delete(self, type_, attributes) -> None:
        pass


class OneAtATime(Recording):
    name = "serial"
    schemas = {"serial_thing": ResourceSchema("serial_thing", THING)}
    concurrent_applies = False


class Declarative(OneAtATime):
    name = "decl"
    schemas = {"decl_thing": ResourceSchema("decl_thing", THING)}
    declarative = True


def things(type_: str, count: int) -> str:
    return "".join(f'resource "{type_}" "t{i}" {{\n  label = "n{i}"\n}}\n' for i in range(count))


def apply(root: Path, provider: type[Provider], hcl: str, **request) -> Recording:
    (root / "main.zp.hcl").write_text(hcl)
    project = Project.open(root, registry=ProviderRegistry({provider.name: provider}))
    backend = project.state_backend()
    planned = operations.make_plan(project, backend, PlanRequest(**request))
    result = operations.apply(planned, backend, None)
    assert result.ok, result.outcome
    return provider.last


def recorded(root: Path) -> dict[str, dict]:
    project = Project.open(root)
    return project.state_backend().read()["resources"]


def test_independent_resources_are_applied_concurrently_by_default(tmp_path):
    provider = apply(tmp_path, Recording, things("rec_thing", 4))
    assert provider.most_at_once > 1, "the check below would prove nothing"
    assert all(len(batch) == 1 for batch in provider.batches), "no noop listing for a per-resource provider"


def test_a_provider_without_concurrent_applies_never_sees_two_calls_at_once(tmp_path):
    provider = apply(tmp_path, OneAtATime, things("serial_thing", 4))
    assert provider.most_at_once == 1
    assert len(provider.batches) == 4


def test_a_declarative_provider_sees_every_resource_applied_before_it(tmp_path):
    # one engine run per call declares the whole desired set: a sibling applied a
    # moment ago (not yet recorded in state) must be in it, or the engine deletes it
    provider = apply(tmp_path, Declarative, things("decl_thing", 3))
    applied_before: set[str] = set()
    for (address, action), *rest in provider.batches:
        assert action == "create" and all(a == "no-op" for _, a in rest)
        assert {a for a, _ in rest} == applied_before
        applied_before.add(address)
    assert len(applied_before) == 3


def test_a_deletion_hands_the_provider_only_what_is_deleted(tmp_path):
    apply(tmp_path, Declarative, things("decl_thing", 3))
    provider = apply(tmp_path, Declarative, things("decl_thing", 2))
    assert provider.batches == [[("resource.decl_thing.t2", "delete")]]


# -- replacement order ------------------------------------------------------------------------------
PINNED = {"label": Attribute("string", required=True, force_new=True), "id": Attribute("string", computed=True)}


class Pinned(Recording):
    name = "pin"
    schemas = {"pin_thing": ResourceSchema("pin_thing", PINNED)}

    def create(self, type_, name, inputs):
        # a new object gets a new id, as a cloud object does (the same id would be the old object taken over)
        return {**inputs, "id": f"{name}/{inputs['label']}"}


class DeclarativePinned(Declarative):
    name = "dpin"
    schemas = {"dpin_thing": ResourceSchema("dpin_thing", PINNED)}


def parent_and_child(type_: str, label: str) -> str:
    return (
        f'resource "{type_}" "parent" {{\n  label = "{label}"\n  lifecycle {{\n    create_before_destroy = true\n  }}\n}}\n'
        f'resource "{type_}" "child" {{\n  label = "${{resource.{type_}.parent.label}}/child"\n}}\n'
    )


def calls(provider: Recording) -> list[tuple[str, str]]:
    return [(address.rsplit(".", 1)[1], action) for (address, action), *_ in provider.batches]


def test_create_before_destroy_keeps_the_old_object_until_its_dependents_moved(tmp_path):
    apply(tmp_path, Pinned, parent_and_child("pin_thing", "a"))
    provider = apply(tmp_path, Pinned, parent_and_child("pin_thing", "b"))
    assert calls(provider) == [("parent", "create"), ("child", "replace"), ("parent", "delete")]
    assert recorded(tmp_path)["resource.pin_thing.parent"]["attributes"]["label"] == "b"


class PinnedFailing(Pinned):
    def create(self, type_, name, inputs):
        if inputs["label"] == "b":
            raise ProviderError("quota exceeded")
        return super().create(type_, name, inputs)


def test_a_failed_create_before_destroy_keeps_the_old_object(tmp_path):
    apply(tmp_path, PinnedFailing, parent_and_child("pin_thing", "a"))
    (tmp_path / "main.zp.hcl").write_text(parent_and_child("pin_thing", "b"))
    project = Project.open(tmp_path, registry=ProviderRegistry({"pin": PinnedFailing}))
    backend = project.state_backend()
    result = operations.apply(operations.make_plan(project, backend, PlanRequest()), backend, None)
    assert not result.ok
    assert calls(PinnedFailing.last) == [("parent", "create")], "nothing deleted, the child never reached"
    assert recorded(tmp_path)["resource.pin_thing.parent"]["attributes"]["label"] == "a"


def test_a_declarative_provider_replaces_in_one_engine_run(tmp_path):
    apply(tmp_path, DeclarativePinned, parent_and_child("dpin_thing", "a"))
    provider = apply(tmp_path, DeclarativePinned, parent_and_child("dpin_thing", "b"))
    assert calls(provider) == [("parent", "replace"), ("child", "replace")]


# -- schema versions ------------------------------------------------------------------------------
class Renamed(Recording):
    """Version 1 renamed ``name`` (version 0) to ``label``."""

    name = "ver"
    schemas = {"ver_thing": ResourceSchema("ver_thing", THING, version=1)}
    upgrades: list[tuple[str, int, dict]] = []

    @classmethod
    def upgrade_state(cls, type_: str, from_version: int, attributes: Mapping[str, Any]) -> dict[str, Any]:
        cls.upgrades.append((type_, from_version, dict(attributes)))
        if from_version != 0:
            raise ProviderError(f"no upgrade from version {from_version}")
        out = dict(attributes)
        out["label"] = out.pop("name")
        return out


def test_the_schema_version_is_recorded_and_older_records_are_upgraded(tmp_path):
    hcl = 'resource "ver_thing" "t" {\n  label = "x"\n}\n'
    apply(tmp_path, Renamed, hcl)
    assert recorded(tmp_path)["resource.ver_thing.t"]["schema_version"] == 1
    assert Renamed.upgrades == []

    # state as an older provider wrote it: version 0 called the attribute "name"
    backend = Project.open(tmp_path).state_backend()
    doc = backend.read()
    doc["resources"]["resource.ver_thing.t"].update(
        schema_version=0, inputs={"name": "x"}, attributes={"name": "x", "id": "t"}
    )
    backend.write(doc)
    project = Project.open(tmp_path, registry=ProviderRegistry({"ver": Renamed}))
    planned = operations.make_plan(project, backend, PlanRequest())
    assert [r.action for r in planned.plan.resources] == [m.NOOP], "upgraded, the record matches the configuration"
    assert ("ver_thing", 0, {"name": "x", "id": "t"}) in Renamed.upgrades
    record = planned.state.resources["resource.ver_thing.t"]
    assert record["attributes"] == {"label": "x", "id": "t"} and record["schema_version"] == 1


@pytest.mark.parametrize("version, message", [(5, "recorded by a newer version"), (-1, "cannot upgrade")])
def test_a_record_that_cannot_be_upgraded_is_a_clear_error(tmp_path, version, message):
    hcl = 'resource "ver_thing" "t" {\n  label = "x"\n}\n'
    apply(tmp_path, Renamed, hcl)
    backend = Project.open(tmp_path).state_backend()
    doc = backend.read()
    doc["resources"]["resource.ver_thing.t"]["schema_version"] = version
    backend.write(doc)
    project = Project.open(tmp_path, registry=ProviderRegistry({"ver": Renamed}))
    with pytest.raises(diags.DiagnosticError, match=message):
        operations.make_plan(project, backend, PlanRequest())


def test_state_from_before_schema_versions_counts_as_version_zero(tmp_path):
    hcl = 'resource "rec_thing" "t" {\n  label = "x"\n}\n'
    apply(tmp_path, Recording, hcl)
    backend = Project.open(tmp_path).state_backend()
    doc = backend.read()
    del doc["resources"]["resource.rec_thing.t"]["schema_version"]
    backend.write(doc)
    project = Project.open(tmp_path, registry=ProviderRegistry({"rec": Recording}))
    planned = operations.make_plan(project, backend, PlanRequest())
    assert [r.action for r in planned.plan.resources] == [m.NOOP]



class Chatty(Recording):
    """Reports its progress through ``context.log`` as engines do, quoting what it was given
    (as ``pulumi up`` prints a failing value or its stack outputs)."""

    name = "chat"
    schemas = {"chat_thing": ResourceSchema("chat_thing", THING)}
    seconds = 0

    def create(self, type_, name, inputs):
        self.context.log(f"creating {name} labelled {inputs['label']}")
        return super().create(type_, name, inputs)


def test_a_secret_in_what_a_provider_logs_is_never_shown(tmp_path):
    from zplan.hooks import Recorder

    (tmp_path / "main.zp.hcl").write_text('variable "token" {\n  sensitive = true\n  default   = "tok-9f8e7d"\n}\n\n'
                                          'resource "chat_thing" "t" {\n  label = "key ${var.token}"\n}\n')
    project = Project.open(tmp_path, registry=ProviderRegistry({"chat": Chatty}))
    backend = project.state_backend()
    hooks = Recorder()
    assert operations.apply(operations.make_plan(project, backend, PlanRequest()), backend, hooks).ok
    notices = [e[1] for e in hooks.events if e[0] == "notice"]
    assert notices == ["creating t labelled key (sensitive)"]
