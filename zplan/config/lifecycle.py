"""A resource's ``lifecycle`` block, read as Terraform reads it: at most one per resource, its
flags true or false (not text that looks like it), ``ignore_changes`` a list of attribute names.

Whether those names are attributes of the resource type is checked against the provider's
schema when the plan checks the resource (``zplan.plan.checks``).
"""

from __future__ import annotations

from zplan import diags
from zplan.config import hcl
from zplan.config.model import Lifecycle

ATTRIBUTES = ("prevent_destroy", "create_before_destroy", "ignore_changes")
FLAGS = ("prevent_destroy", "create_before_destroy")


def read_lifecycle(blocks: list[hcl.Block], found: diags.Collector) -> Lifecycle:
    """The one ``lifecycle`` block among ``blocks`` (the resource's nested blocks)."""
    lifecycles = [b for b in blocks if b.type == "lifecycle"]
    for extra in lifecycles[1:]:
        found.error("Duplicate lifecycle block", f"a resource has at most one: merge it into the first, on line {lifecycles[0].range.line}", extra.range)
    return _lifecycle(lifecycles[0], found) if lifecycles else Lifecycle()


def _lifecycle(block: hcl.Block, found: diags.Collector) -> Lifecycle:
    attrs = block.attributes
    for name, attr in attrs.items():
        if name not in ATTRIBUTES:
            found.error(f'unsupported attribute "{name}" in lifecycle', f"expected one of: {', '.join(sorted(ATTRIBUTES))}", attr.range)
    flags = {name: _flag(attrs[name], found) for name in FLAGS if name in attrs}
    ignore_attr = attrs.get("ignore_changes")
    return Lifecycle(
        **flags,
        ignore_changes=_ignored(ignore_attr, found) if ignore_attr is not None else [],
        ignore_changes_range=ignore_attr.range if ignore_attr is not None else None,
    )


def _flag(attr: hcl.Attribute, found: diags.Collector) -> bool:
    try:
        value = attr.expr.static_value()
    except diags.DiagnosticError as exc:
        found.extend(exc.diagnostics)
        return False
    if not isinstance(value, bool):
        found.error(f"lifecycle: {attr.name} must be true or false", f"got {attr.expr.source()}", attr.range)
        return False
    return value


def _ignored(attr: hcl.Attribute, found: diags.Collector) -> list[str]:
    """Terraform lists bare attribute names (``ignore_changes = [tags, labels]``); quoted ones are read too."""
    named = [".".join(str(p) for p in ref.parts) for ref in attr.expr.references()]
    if named:
        return named
    try:
        value = attr.expr.static_value()
    except diags.DiagnosticError as exc:
        found.extend(exc.diagnostics)
        return []
    if not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
        found.error("lifecycle: ignore_changes must list attribute names", f"e.g. ignore_changes = [labels]; got {attr.expr.source()}", attr.range)
        return []
    return value
