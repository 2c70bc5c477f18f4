"""The inline Pulumi program: declare one Pulumi resource per zplan resource.

Only imported at apply time (it imports the Pulumi SDK). ``declare`` is the
single place a zplan change becomes a Pulumi resource, so it can be tested
alone under ``pulumi.runtime.set_mocks``. Values in ``after`` are already
resolved by zplan (a wave only runs once its dependencies are applied), so the
program never needs Pulumi-level references between resources.
"""

from __future__ import annotations

import importlib
from typing import Any, Callable, Iterable, Mapping

import pulumi

from zplan.provider import ResourceChange

from .spec import TypeMap, args_for, get_path, logical_name


def resource_class(tm: TypeMap) -> type[pulumi.CustomResource]:
    module, _, name = tm.resource.partition(":")
    return getattr(importlib.import_module(module), name)


def options_for(change: ResourceChange, alias: str | None = None) -> pulumi.ResourceOptions:
    # Terraform's habit, which zplan keeps: replace = delete then create, unless
    # the resource asks for create_before_destroy. Pulumi's default is the
    # reverse, which fails for resources with fixed names (a bucket, a database).
    # ``alias``: the URN the stack has it under when zplan's state moved it (Pulumi renames it).
    return pulumi.ResourceOptions(delete_before_replace=not change.create_before_destroy,
                                  aliases=[alias] if alias else None)


def declare(change: ResourceChange, tm: TypeMap, alias: str | None = None) -> pulumi.CustomResource:
    """Declare the Pulumi resource for one zplan change (anything but a delete)."""
    args = args_for(tm, change.after or {}, wrap_secret=pulumi.Output.secret, secret=change.sensitive)
    cls = resource_class(tm)
    return cls(logical_name(change.address, change.type), **args, opts=options_for(change, alias))


def read_outputs(tm: TypeMap, resource: pulumi.CustomResource) -> pulumi.Output[dict[str, Any]]:
    """The resource's outputs under zplan attribute names (secrets are not read back)."""
    parts: dict[str, Any] = {}
    for name in tm.readable():
        top, *rest = tm.path(name)
        value = getattr(resource, top)
        parts[name] = value.apply(lambda v, rest=rest: get_path(v, rest)) if rest else value
    return pulumi.Output.all(**parts)


def declare_all(changes: Iterable[ResourceChange], types: Mapping[str, TypeMap],
                aliases: Mapping[str, str] | None = None) -> dict[str, pulumi.Output]:
    """Declare every resource that must exist after this run; their outputs by address."""
    outputs = {}
    for change in changes:
        if change.action == "delete":
            continue
        tm = types[change.type]
        outputs[change.address] = read_outputs(tm, declare(change, tm, (aliases or {}).get(change.address)))
    return outputs


def make_program(changes: list[ResourceChange], types: Mapping[str, TypeMap],
                 aliases: Mapping[str, str] | None = None) -> Callable[[], None]:
    """``aliases``: address -> its URN in the stack, for those moved in zplan's state only (read
    when the program runs: the engine fills it once the stack is open)."""
    def program() -> None:
        # each resource's attributes, exported under its address, are what apply reports
        for address, attrs in declare_all(changes, types, aliases).items():
            pulumi.export(address, attrs)

    return program
