"""Checks of resource blocks against their provider's schema, run by `validate` and by `plan`.

They read only the configuration and the installed schemas (no state, no network),
so a typo fails the plan with its file:line instead of being ignored or failing
halfway through an apply.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from zplan import diags
from zplan.config.model import Config, ResourceConfig
from zplan.config.values import article
from zplan.plan.resources import schema_for

if TYPE_CHECKING:
    from zplan.provider import ProviderRegistry, ResourceSchema

# Meta-arguments Terraform has and zplan does not yet: named, so nobody expects them to work.
NOT_YET_SUPPORTED = {
    "provider": "a resource uses the provider its type is named after",
}


def check_resources(config: Config, registry: ProviderRegistry) -> None:
    """Every resource block: a known type, known attributes, the required ones set."""
    found = diags.Collector()
    checked: set[tuple] = set()
    for resource in config.resources.values():
        declared = (resource.range, resource.type)  # instances of one block (count, modules) are checked once
        if declared in checked:
            continue
        checked.add(declared)
        mine = diags.Collector()
        try:
            check_attributes(resource, schema_for(registry, resource), mine)
        except diags.DiagnosticError as exc:
            mine.extend(exc.diagnostics)
        found.extend(_called_from(resource, mine.items))
    found.raise_if_errors()


def _called_from(resource: ResourceConfig, found: list[diags.Diagnostic]) -> list[diags.Diagnostic]:
    """Inside a module, a problem also names the module block that called it."""
    module = resource.where.module if resource.where is not None else None
    if module is None or module.call is None or not found:
        return found
    root = module
    while root.parent is not None:
        root = root.parent
    note = f'(in module "{module.call.name}" called at {module.call.range.relative_to(root.config.project_dir)})'
    return [diags.Diagnostic(d.severity, d.summary, f"{d.detail}\n  {note}" if d.detail else note, d.range) for d in found]


def check_attributes(resource: ResourceConfig, schema: ResourceSchema, found: diags.Collector) -> None:
    """Offline validation of a resource block against its schema."""
    settable = schema.inputs()
    for name in resource.attributes:
        where = resource.attribute_ranges.get(name, resource.range)
        if name in NOT_YET_SUPPORTED and name not in schema.attributes:
            found.error(f'"{name}" is not supported yet (resource "{resource.type}" "{resource.name}")', NOT_YET_SUPPORTED[name], where)
        elif name not in schema.attributes:
            close = _closest(name, list(settable), n=1)
            hint = f'did you mean "{close[0]}"? ' if close else ""
            found.error(
                f'unsupported attribute "{name}" in resource "{resource.type}" "{resource.name}"',
                f"{hint}{resource.type} takes: {', '.join(sorted(settable))}",
                where,
            )
        elif name not in settable:
            found.error(
                f'attribute "{name}" of {resource.type} is computed and cannot be set',
                "remove it; read it with resource.TYPE.NAME.ATTRIBUTE",
                where,
            )
    for name, attr in settable.items():
        if attr.required and name not in resource.attributes:
            found.error(f'resource "{resource.type}" "{resource.name}" is missing required attribute "{name}"', attr.description, resource.range)
    _check_ignore_changes(resource, settable, found)


def check_types(resource: ResourceConfig, schema: ResourceSchema, values: dict, hidden: set[str]) -> None:
    """Each value fits the type its attribute declares, converted as Terraform would (``"3"`` is a
    number, ``3`` a string); values known only after apply pass. ``hidden``: attributes computed
    from a sensitive value, whose value the message leaves out."""
    from zplan.config.convert import ConversionError, convert
    from zplan.config.types import KEYWORDS

    found = diags.Collector()
    for name, value in values.items():
        attr = schema.attributes.get(name)
        if attr is None or attr.type == "any":
            continue
        try:
            convert(value, KEYWORDS[attr.type], name)
        except ConversionError as exc:
            got = f", got {exc.got}" if exc.got and not (attr.sensitive or name in hidden) else ""
            where = resource.attribute_ranges.get(name, resource.range)
            found.error(f"{exc.path}: {exc.message}{got}", f'{resource.type} takes {article(attr.type)} as "{name}"', where)
    found.raise_if_errors()


def _check_ignore_changes(resource: ResourceConfig, settable: dict, found: diags.Collector) -> None:
    """``lifecycle { ignore_changes = [...] }`` names attributes the resource's type has, as in Terraform."""
    where = resource.lifecycle.ignore_changes_range or resource.range
    for name in resource.lifecycle.ignore_changes:
        root = name.split(".")[0].split("[")[0]  # tags.team or tags["team"]: a part of tags
        if root not in settable:
            close = _closest(root, list(settable), n=1)
            hint = f'did you mean "{close[0]}"? ' if close else ""
            found.error(
                f'lifecycle: ignore_changes names "{name}", which resource "{resource.type}" "{resource.name}" does not have',
                f"{hint}{resource.type} takes: {', '.join(sorted(settable))}",
                where,
            )


def _closest(name: str, known: list[str], n: int = 1) -> list[str]:
    import difflib  # only on an error: the no-change plan does not pay for it

    return difflib.get_close_matches(name, known, n=n)
