"""Declare zplan resources under Pulumi's unit-test mocks and see what the engine receives.

For tests of provider tables: ``install()`` routes every registration to an
in-process recorder instead of a Pulumi engine, ``declared()`` runs ``declare``
for one change and returns the registration plus the outputs read back under
zplan attribute names. ``PulumiConformance`` is ``zplan.testing``'s provider suite
for a Pulumi-backed provider: the lifecycle needs a cloud, so each type is checked
up to the engine's boundary instead (token, inputs, outputs, replace order, wire names).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import pulumi
from pulumi.runtime.mocks import MockMonitor

from zplan.provider import ResourceChange
from zplan.testing import ProviderConformance

from .spec import TypeMap


@dataclass
class Registration:
    type: str
    name: str
    inputs: dict[str, Any]
    id: str
    delete_before_replace: bool | None = None
    aliases: list[str] | None = None


class RecordingMocks(pulumi.runtime.Mocks):
    """Returns the inputs as the state, plus canned outputs per type token (camelCase keys)."""

    def __init__(self, outputs: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        self.outputs = dict(outputs or {})
        self.registrations: list[Registration] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
        rid = f"{args.name}-id"
        self.registrations.append(Registration(args.typ, args.name, dict(args.inputs), rid))
        return rid, {**args.inputs, **self.outputs.get(args.typ, {})}

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict, None]:
        return {}, None


class RecordingMonitor(MockMonitor):
    """Also sees the resource options the SDK sends (the mocks only see inputs)."""

    def __init__(self, mocks: RecordingMocks) -> None:
        super().__init__(mocks)
        self.options: dict[str, Any] = {}

    def RegisterResource(self, request):  # noqa: N802 - the gRPC method name
        if request.type != "pulumi:pulumi:Stack":
            self.options[request.name] = {"delete_before_replace": request.deleteBeforeReplace,
                                          "aliases": [a.urn for a in request.aliases if a.urn]}
        return super().RegisterResource(request)


def install(outputs: Mapping[str, Mapping[str, Any]] | None = None) -> tuple[RecordingMocks, RecordingMonitor]:
    mocks = RecordingMocks(outputs)
    monitor = RecordingMonitor(mocks)
    pulumi.runtime.set_mocks(mocks, project="zplan-test", stack="test", preview=False, monitor=monitor)
    return mocks, monitor


def declared(
    mocks: RecordingMocks, monitor: RecordingMonitor, change: ResourceChange, tm: TypeMap
) -> tuple[Registration, dict[str, Any]]:
    """Declare one change; its registration and its outputs under zplan names."""
    from .program import declare, read_outputs

    attrs: dict[str, Any] = {}

    @pulumi.runtime.test
    def body():
        return read_outputs(tm, declare(change, tm)).apply(attrs.update)

    start = len(mocks.registrations)
    body()
    reg = mocks.registrations[start]
    reg.delete_before_replace = monitor.options.get(reg.name, {}).get("delete_before_replace")
    reg.aliases = monitor.options.get(reg.name, {}).get("aliases")
    return reg, attrs


def check_declaration(mocks: tuple[RecordingMocks, RecordingMonitor], tm: TypeMap, case: tuple, sensitive: set[str]) -> None:
    """The per-type check every Pulumi-backed provider runs: ``case`` is
    (zplan attributes, expected Pulumi inputs, mock outputs, expected read-back)."""
    attrs, inputs, _, read_back = case
    change = ResourceChange(f"resource.{tm.type}.main", tm.type, "main", "create", None, attrs)
    reg, got = declared(*mocks, change, tm)
    assert (reg.type, reg.name) == (tm.token, "main"), tm.type
    assert reg.inputs == inputs, f"{tm.type}: inputs sent to the engine"
    assert got["id"] == "main-id", tm.type
    for name, value in read_back.items():
        assert got[name] == value, f"{tm.type}.{name}"
    assert not set(got) & sensitive, f"{tm.type}: secrets are never read back into zplan attributes"


def sdk_wire_path(tm: TypeMap, name: str) -> list[str]:
    """The wire names the SDK itself declares along an attribute's path.

    ``read_wire`` derives wire names by camel-casing; comparing with the SDK's
    own ``@pulumi.getter(name=...)`` metadata proves that rule for a table.
    """
    import re
    import sys

    from .program import resource_class

    cls: Any = resource_class(tm)
    wire = []
    for seg in tm.path(name):
        if seg.isdigit():
            wire.append(seg)
            continue
        getter = getattr(cls, seg).fget
        wire.append(getattr(getter, "_pulumi_name", seg))
        hint = repr(getattr(getter, "__annotations__", {}).get("return", ""))
        found = re.search(r"outputs\.(\w+)", hint)
        if found:
            cls = getattr(sys.modules[cls.__module__].outputs, found.group(1))
    return wire


class PulumiConformance(ProviderConformance):
    """Set ``provider_class`` (a PulumiProvider), ``flags``, ``declarations``
    (type -> case for ``check_declaration``) and ``replace_example`` (type, attributes)."""

    declarations: Mapping[str, tuple] = {}
    replace_example: tuple[str, Mapping[str, Any]] = ("", {})

    def installed(self) -> tuple[RecordingMocks, RecordingMonitor]:
        outputs = {self.provider_class.types[t].token: case[2] for t, case in self.declarations.items()}
        return install(outputs)

    def test_every_type_has_a_lifecycle_case(self) -> None:
        assert set(self.declarations) == set(self.provider_class.types) == set(self.provider_class.schemas)

    def test_lifecycle(self, tmp_path) -> None:
        import pytest

        pytest.skip("a real create/update/delete needs the Pulumi CLI and a cloud account; checked up to the engine instead")

    def test_declarations_register_token_inputs_and_read_outputs(self) -> None:
        mocks = self.installed()
        for type_, case in sorted(self.declarations.items()):
            sensitive = self.provider_class.schemas[type_].sensitive_names()
            check_declaration(mocks, self.provider_class.types[type_], case, sensitive)

    def test_replace_is_delete_first_unless_create_before_destroy(self) -> None:
        mocks = self.installed()
        type_, attrs = self.replace_example
        tm = self.provider_class.types[type_]
        plain = ResourceChange(f"resource.{type_}.a", type_, "a", "replace", attrs, attrs)
        cbd = ResourceChange(f"resource.{type_}.b", type_, "b", "replace", attrs, attrs, create_before_destroy=True)
        assert declared(*mocks, plain, tm)[0].delete_before_replace is True
        assert declared(*mocks, cbd, tm)[0].delete_before_replace is False

    def test_wire_names_match_the_sdk(self) -> None:
        # refresh reads Pulumi's stored state by camel-cased paths: prove it per attribute
        from .spec import camel

        for type_, tm in sorted(self.provider_class.types.items()):
            for name in tm.fields:
                if name != "id":
                    expected = [s if s.isdigit() else camel(s) for s in tm.path(name)]
                    assert sdk_wire_path(tm, name) == expected, f"{type_}.{name}"
