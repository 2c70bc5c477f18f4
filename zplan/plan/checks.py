"""Checks of resource blocks against their provider's schema, run by `validate` and by `plan`.

They read only the configuration and the installed schemas (no state, no network),
so a typo fails the plan with its file:line instead of being ignored or failing
halfway through an apply.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from zplan import diags
from zplan.addrs import short_name
from zplan.config.convert import ConversionError, convert
from zplan.config.expr import Ref
from zplan.config.model import Config, ModuleInstance, ResourceConfig
from zplan.config.types import KEYWORDS
from zplan.config.values import article
from zplan.plan.resources import schema_for
from zplan.steps import DEFAULT_OUTPUT

if TYPE_CHECKING:
    from zplan.provider import Provider, ProviderRegistry, ResourceSchema

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


def check_configuration(config: Config, registry: Callable[[], ProviderRegistry]) -> None:
    """What the plan checks in the whole configuration before it starts: ``registry`` gives the provider
    plugins, loaded only for a configuration with resources or provider blocks."""
    if config.resources:  # unknown attributes fail here, not halfway through apply
        check_resources(config, registry())
        check_resource_reads(config, registry())
    if config.providers:
        check_provider_blocks(config, registry())
    if config.module_instances:
        check_module_provider_blocks(config)
    scripted = [s for s in config.steps() if s.script is not None]
    if scripted:  # (a project without script steps never imports their module)
        from zplan.config.scripts import check_outs_apart

        check_outs_apart(scripted)  # every instance known: two writing one path are refused, as DVC does


def check_provider_blocks(config: Config, registry: ProviderRegistry) -> None:
    """Every ``provider`` block names an installed provider and the settings it takes: a misspelt one
    would configure nothing."""
    found = diags.Collector()
    for name, block in config.providers.items():
        cls = registry.provider_class(name)
        if cls is None:
            hint = diags.did_you_mean(name, registry.names())
            found.error(f'provider "{name}": no installed provider has this name',
                        f'{hint}installed: {", ".join(registry.names()) or "none"} (see `zplan providers`)', block.range)
            continue
        _check_settings(block, cls.known_settings(), found)
    found.raise_if_errors()


def check_module_provider_blocks(config: Config) -> None:
    """No module has a ``provider`` block: only the project's own files configure providers, so one in
    a module would never be read. (Without loading the provider plugins: a no-change plan of a project
    with modules but no provider block needs none.)"""
    found = diags.Collector()
    for inst in {id(i.config): i for i in config.module_instances.values() if i.call is not None}.values():  # (not the root)
        for name, block in inst.config.providers.items():  # (each module folder once, not per instance)
            found.extend(_in_module(inst, [diags.error(
                f'provider "{name}" in a module configures nothing',
                "providers are configured by the provider blocks of the project's own files, for every module's "
                "resources: move this block there", block.range)]))
    found.raise_if_errors()


def _check_settings(block, known: frozenset[str] | None, found: diags.Collector) -> None:
    """Each setting of a provider block is one its provider declares: a misspelt one would be
    handed on and never read (the region left as the default), as Terraform refuses it."""
    if known is None:  # the provider does not say what it takes
        return
    for setting in block.settings:
        if setting not in known:
            hint = diags.did_you_mean(setting, known)
            takes = f"it takes: {', '.join(sorted(known))}" if known else "it takes no settings: remove the block"
            found.error(f'unsupported setting "{setting}" in provider "{block.name}"', f"{hint}{takes}",
                        block.setting_ranges.get(setting, block.range))


def check_resource_reads(config: Config, registry: ProviderRegistry) -> None:
    """Every ``resource.TYPE.NAME.ATTR`` names an attribute the type has (an input or a computed
    one), as Terraform's "Unsupported attribute": otherwise it would read as known after apply,
    forever. Read by name in what each module folder declares, once, not per instance."""
    found = diags.Collector()
    instances = list(config.module_instances.values()) or [ModuleInstance("", config)]
    for inst in {id(inst.config): inst for inst in instances}.values():
        mine = diags.Collector()
        for expr in _expressions(inst.config):
            for ref in expr.references():
                _check_read(ref, inst.config, registry, mine)
        for block in _blocks(inst.config):  # for_each = resource.T.N: each.value.ATTR reads resource.T.N's ATTR
            over = block.repeat.expr.references() if block.repeat is not None and block.repeat.kind == "for_each" else []
            if len(over) == 1 and len(over[0].parts) == 3 and over[0].parts[0] == "resource" and block.repeat.expr.source().strip() == str(over[0]):
                for expr in _block_expressions(block):
                    for ref in expr.references():
                        if ref.parts[:2] == ("each", "value") and len(ref.parts) > 2:
                            _check_read(Ref(over[0].parts + ref.parts[2:], ref.range), inst.config, registry, mine, keyed=False)
        found.extend(_in_module(inst, mine.items))
    found.raise_if_errors()


def _blocks(config: Config) -> list:
    """The blocks of one module folder that may have a for_each: resources, module calls, steps."""
    steps = [s for pipeline in config.pipelines.values() for s in pipeline.steps.values()]
    return [*config.resources.values(), *config.modules.values(), *steps]


def _block_expressions(block) -> list:
    if hasattr(block, "attributes"):  # a resource
        return list(block.attributes.values())
    if hasattr(block, "inputs") and isinstance(block.inputs, dict):  # a module call
        return list(block.inputs.values())
    return [e for e in (block.inputs, block.params, block.script.command if block.script else None) if e is not None]


def _expressions(config: Config) -> list:
    """What may read a resource attribute in one module folder's declarations."""
    out = [local.expr for local in config.locals.values()] + [o.expr for o in config.outputs.values()]
    for resource in config.resources.values():
        out += resource.attributes.values()
    for block in [*config.stacks.values(), *config.providers.values()]:
        out += block.settings.values()
    for call in config.modules.values():
        out += call.inputs.values()
    for step in (s for pipeline in config.pipelines.values() for s in pipeline.steps.values()):
        out += _block_expressions(step)
    return out


def _check_read(ref, config: Config, registry: ProviderRegistry, found: diags.Collector, keyed: bool = True) -> None:
    parts = ref.parts
    if parts[0] != "resource" or len(parts) < 4:
        return
    resource = config.resources.get(f"resource.{parts[1]}.{parts[2]}")
    at = 3 if resource is None or resource.repeat is None or not keyed else 4  # resource.T.N[KEY].ATTR (not: each.value.ATTR)
    schema = registry.schema(str(parts[1])) if resource is not None and len(parts) > at else None
    if schema is None or not isinstance(parts[at], str) or parts[at] in schema.attributes:
        return
    hint = diags.did_you_mean(parts[at], schema.attributes)
    found.error(f'unsupported attribute: resource.{parts[1]}.{parts[2]} has no attribute "{parts[at]}"',
                f"{hint}{parts[1]} has: {', '.join(sorted(schema.attributes))}", ref.range)


def _in_module(inst: ModuleInstance | None, found: list[diags.Diagnostic]) -> list[diags.Diagnostic]:
    """Inside a module, a problem also names the module block that called it."""
    if inst is None or inst.call is None or not found:
        return found
    root = inst
    while root.parent is not None:
        root = root.parent
    note = f'(in module "{inst.call.name}" called at {inst.call.range.relative_to(root.config.project_dir)})'
    return [diags.Diagnostic(d.severity, d.summary, f"{d.detail}\n  {note}" if d.detail else note, d.range) for d in found]


def _called_from(resource: ResourceConfig, found: list[diags.Diagnostic]) -> list[diags.Diagnostic]:
    return _in_module(resource.where.module if resource.where is not None else None, found)


def check_attributes(resource: ResourceConfig, schema: ResourceSchema, found: diags.Collector) -> None:
    """Offline validation of a resource block against its schema."""
    settable = schema.inputs()
    for name in resource.attributes:
        where = resource.attribute_ranges.get(name, resource.range)
        if name in NOT_YET_SUPPORTED and name not in schema.attributes:
            found.error(f'"{name}" is not supported yet (resource "{resource.type}" "{resource.name}")', NOT_YET_SUPPORTED[name], where)
        elif name not in schema.attributes:
            _not_taken(found, f'unsupported attribute "{name}" in resource "{resource.type}" "{resource.name}"', name,
                       resource.type, settable, where)
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


# Values that fit a type as they are: most of them, checked without converting.
_FITS = {"string": (str,), "number": (int, float), "bool": (bool,), "list": (list,), "map": (dict,)}


def check_types(resource: ResourceConfig, schema: ResourceSchema, values: dict, hidden: set[str]) -> None:
    """Each value fits the type its attribute declares, converted as Terraform would (``"3"`` is a
    number, ``3`` a string); values known only after apply pass. ``hidden``: attributes computed
    from a sensitive value, whose value the message leaves out."""
    found = []
    for name, value in values.items():
        attr = schema.attributes.get(name)
        if attr is None or attr.type == "any" or type(value) in _FITS[attr.type]:
            continue
        try:
            convert(value, KEYWORDS[attr.type], name)
        except ConversionError as exc:
            got = f", got {exc.got}" if exc.got and not (attr.sensitive or name in hidden) else ""
            where = resource.attribute_ranges.get(name, resource.range)
            found.append(diags.error(f"{exc.path}: {exc.message}{got}", f'{resource.type} takes {article(attr.type)} as "{name}"', where))
    if found:
        raise diags.DiagnosticError(found)


def check_provider_rules(resource: ResourceConfig, provider: Provider, values: dict, secrets: list[str]) -> None:
    """The provider's own offline checks (``Provider.check``) of the values known at plan time, so
    a value it refuses (an empty path, a file without content) fails the plan at the resource
    instead of its create half-way through an apply. ``secrets``: texts the messages must not show."""
    from zplan.secrets import redact

    problems = provider.check(resource.type, values)
    if problems:
        raise diags.DiagnosticError([diags.error(f"{resource.type}: {redact(p, secrets)}", "", _where(resource, p)) for p in problems])


def _where(resource: ResourceConfig, problem: str):
    """The line of the attribute a provider's message is about (it starts with its name, maybe after
    the type's: "port must be ...", "gcp_storage_bucket.storage_class must be ..."), else the block's."""
    import re

    head = re.match(rf"(?:{re.escape(resource.type)}\.)?(\w+)", problem)
    return resource.attribute_ranges.get(head.group(1), resource.range) if head else resource.range


def _check_ignore_changes(resource: ResourceConfig, settable: dict, found: diags.Collector) -> None:
    """``lifecycle { ignore_changes = [...] }`` names attributes the resource's type has, as in Terraform."""
    where = resource.lifecycle.ignore_changes_range or resource.range
    for name in resource.lifecycle.ignore_changes:
        root = name.split(".")[0].split("[")[0]  # tags.team or tags["team"]: a part of tags
        if root not in settable:
            _not_taken(found, f'lifecycle: ignore_changes names "{name}", which resource "{resource.type}" "{resource.name}" does not have',
                       root, resource.type, settable, where)


def _not_taken(found, summary: str, name: str, type_name: str, settable, where) -> None:
    """An attribute name the resource type does not take: the closest one it does, and all of them."""
    hint = diags.did_you_mean(name, settable)
    found.error(summary, f"{hint}{type_name} takes: {', '.join(sorted(settable))}", where)


def check_outputs_exist(step, upstream: list, planned: dict) -> None:
    """Each upstream output ``step`` reads is one its step has (``planned``: the plans made so far)."""
    for spec in upstream:
        made_by = planned.get(spec.step)
        declared = (made_by.outputs or [DEFAULT_OUTPUT]) if made_by else None  # undeclared: the one output "output"
        if declared is not None and spec.output not in declared:
            raise diags.fail(f'step "{short_name(spec.step)}" has no output "{spec.output}"',
                             f"its outputs are: {', '.join(declared)}", step.inputs.range)
