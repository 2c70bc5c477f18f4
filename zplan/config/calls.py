"""The blocks that make instances and moves: ``count`` / ``for_each`` on a block, ``module`` calls and
``moved`` blocks, read into the typed model (expanded later by ``zplan.config.expand``)."""

from __future__ import annotations

from zplan import addrs, diags
from zplan.config import hcl
from zplan.config.expr import ObjectExpr, Ref, RefExpr, TupleExpr
from zplan.config.model import Config, ModuleCall, Moved, Repeat

REPEAT = ("count", "for_each")  # meta-arguments making instances


def repeat(block: hcl.Block, found: diags.Collector) -> Repeat | None:
    """``count`` or ``for_each`` (never both, as in Terraform); evaluated when the block is expanded."""
    present = [block.attributes[k] for k in REPEAT if k in block.attributes]
    if len(present) == 2:
        found.error(
            'a block cannot use both "count" and "for_each"',
            "use count = N for numbered instances or for_each = MAP_OR_SET for named ones",
            present[1].range,
        )
        return None
    return Repeat(present[0].name, present[0].expr, present[0].range) if present else None


def depends_on(block: hcl.Block, found: diags.Collector) -> list[Ref]:
    """``depends_on = [step.a, resource.T.N, module.m["k"]]``: a list of references with constant keys,
    as in Terraform; anything else (a string, a call, a computed key) would wait for nothing."""
    attr = block.attributes.get("depends_on")
    if attr is None:
        return []
    items = attr.expr.items if isinstance(attr.expr, TupleExpr) else [attr.expr]
    for item in items:
        if not isinstance(item, RefExpr):
            found.error("depends_on takes references, not values",
                        "list what to wait for, with constant keys: depends_on = [step.NAME, resource.TYPE.NAME, module.NAME[\"KEY\"]]", item.range)
    return [item.ref for item in items if isinstance(item, RefExpr)]


def module(config: Config, block: hcl.Block, found: diags.Collector) -> None:
    """``module "NAME" { source = ..., INPUT = ..., count | for_each, depends_on }``."""
    from zplan.config import loader

    name = loader._new_name(block, found, "module", config.modules, None)
    if name is None:
        return
    attrs = block.attributes
    errors = len(found.items)
    source = loader._static(attrs.get("source"), found)
    if len(found.items) > errors:
        return  # not a constant: that error says enough
    if "source" not in attrs or not isinstance(source, str) or not source.strip():
        found.error(f'module "{name}" has no source', 'add source = "./modules/NAME" (a folder) or "git::https://...//sub?ref=v1"',
                    attrs["source"].range if "source" in attrs else block.range)
        return
    call = ModuleCall(name=name, source=source.strip(), range=block.range, source_range=attrs["source"].range, repeat=repeat(block, found))
    for attr_name, attr in attrs.items():
        if attr_name not in (*REPEAT, "source", "providers", "depends_on"):
            call.inputs[attr_name] = attr.expr
            call.input_ranges[attr_name] = attr.range
    call.depends_on = depends_on(block, found)
    if "providers" in attrs:
        _providers(name, attrs["providers"], found)
    config.modules[name] = call


def _providers(module: str, attr: hcl.Attribute, found: diags.Collector) -> None:
    """``providers = { google = google }`` passes on the one configuration a provider has here (a no-op);
    with no provider aliases, any other mapping would configure nothing: an error, never ignored."""
    items = attr.expr.items if isinstance(attr.expr, ObjectExpr) else None
    if items is None or not all(isinstance(v, RefExpr) and v.ref.parts == (k,) for k, v in items):
        found.error(f'module "{module}": providers cannot choose a provider configuration',
                    "every module's resources use the provider blocks of the project's own files (one configuration "
                    "each, no aliases): remove providers, or pass each on as it is (providers = { google = google })", attr.range)


def moved(config: Config, block: hcl.Block, found: diags.Collector) -> None:
    """``moved { from = OLD, to = NEW }``, both addresses (bare or quoted)."""
    from zplan.config import loader

    loader._labels(block, 0, "", found)
    loader._check_attributes(block, {"from", "to"}, found, "in moved")
    ends: list[addrs.Selector] = []
    for end in ("from", "to"):
        attr = block.attributes.get(end)
        if attr is None:
            found.error(f'moved block has no "{end}"', "write moved { from = OLD_ADDRESS, to = NEW_ADDRESS }", block.range)
            return
        text = attr.expr.source().strip()
        text = text[1:-1] if text.startswith('"') and text.endswith('"') else text
        try:
            ends.append(addrs.parse_selector(text))
        except ValueError as exc:
            found.error(f"moved: {end} is not an address", str(exc), attr.range)
            return
    if ends[0] == ends[1]:
        found.error("moved: from and to are the same address", "remove this moved block", block.range)
        return
    mismatch = _kind_mismatch(*ends)
    if mismatch:  # its record would land where another kind of block (or type) reads it
        found.error(f"moved: {mismatch}", "a moved block renames a step, a pipeline, a module, or a resource keeping its type; "
                    "to change a resource's type, remove this block: the old one is destroyed and the new one created", block.range)
        return
    config.moved.append(Moved(str(ends[0]), str(ends[1]), block.range))


_KINDS = {addrs.StepAddr: "a step", addrs.ResourceAddr: "a resource", addrs.PipelineAddr: "a pipeline", addrs.ModuleAddr: "a module"}


def _kind_mismatch(old: addrs.Selector, new: addrs.Selector) -> str | None:
    """Why ``old`` cannot move to ``new``, as Terraform refuses it: another kind of block, or another resource type."""
    if type(old) is not type(new):
        return f"{old} is {_KINDS[type(old)]} and {new} {_KINDS[type(new)]}"
    if isinstance(old, addrs.ResourceAddr) and isinstance(new, addrs.ResourceAddr) and old.type != new.type:
        return f"{old} is a {old.type} and {new} a {new.type}"
    return None
