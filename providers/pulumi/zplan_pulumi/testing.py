"""Declare zplan resources under Pulumi's unit-test mocks and see what the engine receives.

For tests of provider tables: ``install()`` routes every registration to an
in-process recorder instead of a Pulumi engine, ``declared()`` runs ``declare``
for one change and returns the registration plus the outputs read back under
zplan attribute names.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import pulumi
from pulumi.runtime.mocks import MockMonitor

from zplan.provider import ResourceChange

from .spec import TypeMap


@dataclass
class Registration:
    type: str
    name: str
    inputs: dict[str, Any]
    id: str
    delete_before_replace: bool | None = None


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
            self.options[request.name] = {"delete_before_replace": request.deleteBeforeReplace}
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
    return reg, attrs


def check_declaration(mocks: tuple[RecordingMocks, RecordingMonitor], tm: TypeMap, case: tuple, sensitive: set[str]) -> None:
    """The per-type check every Pulumi-backed provider runs: ``case`` is
    (zplan attributes, expected Pulumi inputs, mock outputs, expected read-back)."""
    attrs, inputs, _, read_back = case
    change = ResourceChange(f"resource.{tm.type}.main", tm.type, "main", "create", None, attrs)
    reg, got = declared(*mocks, change, tm)
    assert reg.type == tm.token
    assert reg.name == "main"
    assert reg.inputs == inputs
    assert got["id"] == "main-id"
    for name, value in read_back.items():
        assert got[name] == value, name
    assert not set(got) & sensitive, "secrets are never read back into zplan attributes"


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
