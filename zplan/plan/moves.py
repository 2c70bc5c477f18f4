"""``moved`` blocks: state entries take their new addresses before anything is planned.

Resource records and step records (in every store) move; cache entries learn the new
address, and a step reading a moved resource keeps its latest result under the key the
new address gives, so a renamed step, resources wrapped into a module or ``count``
turned into ``for_each`` are neither recreated nor rerun. The
plan lists each move ("X has moved to Y"); apply writes the moved state.
"""

from __future__ import annotations

from zplan import diags
from zplan.addrs import is_resource, matches, moved_to, normalize, parse_selector
from zplan.config.model import Config, Moved
from zplan.state.model import State


def apply_moves(config: Config, state: State, blocked: list[tuple[str, str]] | None = None) -> list[tuple[str, str]]:
    """Move ``state``'s entries as the configuration's moved blocks say, in the order written;
    a resource whose new address state holds already stays, and is added to ``blocked``."""
    if config.moved:
        check_moves(config)
    moved: dict[str, str] = {}
    renames = [lambda address, b=block: moved_to(address, b.from_addr, b.to_addr) for block in config.moved]
    renames += [lambda address, s=source, t=target: t if address == s else None for source, target in implied_moves(config, state)]
    for rename in renames:  # (an implied move takes that one instance: never what its address starts)
        for old, new in state.move(rename, blocked):
            first = next((k for k, v in moved.items() if v == old), old)  # a -> b then b -> c: a -> c
            moved.pop(first, None)
            moved[first] = new
    return sorted(moved.items())


def implied_moves(config: Config, state: State) -> list[tuple[str, str]]:
    """Terraform's implied moves: a recorded resource whose block gained ``count`` is its instance
    [0], and instance [0] of one whose block lost it is the block's one object (not for for_each,
    nor when a moved block names the resource: it says which instance stays)."""
    if not state.resources:
        return []
    found = []
    for base, instances in config.instances.items():
        if instances.kind == "for_each" or not is_resource(base):
            continue
        old, new = (base, base + "[0]") if instances.kind == "count" else (base + "[0]", base)
        if old in state.resources and not any(_names(end, base) for b in config.moved for end in (b.from_addr, b.to_addr)):
            found.append((old, new))
    return found


def _names(end: str, resource: str) -> bool:
    """Whether a moved block's end is ``resource``, one of its instances, or a module holding it."""
    return matches(resource, end) or end.startswith(resource + "[")


def follow_moves(config: Config, selectors: list[str]) -> tuple[list[str], list[tuple[str, str]]]:
    """-target, -exclude and -replace given an address a moved block left act on where it moved, as
    in Terraform: the selectors to use, and (as given, as used) for each one followed. One that still
    names something declared (``from = x``, ``to = x[0]``: x is every instance) is kept as given."""
    if not config.moved:
        return selectors, []
    declared = [step.address for step in config.steps()] + list(config.resources)
    used, followed = [], []
    for selector in selectors:
        new = _followed(normalize(selector), config.moved)
        if new is None or not _is_address(selector) or any(matches(addr, selector) for addr in declared):
            used.append(selector)
            continue
        used.append(new)
        followed.append((selector, new))
    return used, followed


def _followed(selector: str, blocks: list[Moved]) -> str | None:
    """Where the moved blocks, in the order written, take ``selector`` (None: none applies)."""
    address = selector
    for block in blocks:
        address = moved_to(address, block.from_addr, block.to_addr) or address
    return address if address != selector else None


def _is_address(text: str) -> bool:
    try:
        parse_selector(text)
    except ValueError:  # refused with its hint where the selectors are checked
        return False
    return True


def check_moves(config: Config) -> None:
    """A move from what the configuration still declares is an error at its moved block, as in
    Terraform: its state would leave a block that is then created again, while the moved object is
    destroyed as no longer in the configuration (a for_each key renamed in the moved block only)."""
    declared = [step.address for step in config.steps()] + list(config.resources)
    found = diags.Collector()
    said: set = set()  # the blocks reported: a module's, once however many instances the module has
    for block in config.moved:
        still = None if block.range in said else next((addr for addr in declared if _moved_away(addr, block)), None)
        if still is not None:
            said.add(block.range)
            found.error(f"moved: {block.from_addr} is still declared",
                        f"{still} is in the configuration: declare it as {block.to_addr} instead (rename the block or its key), "
                        "or remove this moved block", block.range)
    found.raise_if_errors()


def _moved_away(addr: str, block: Moved) -> bool:
    if block.to_addr.startswith(block.from_addr + "["):  # count / for_each added to a single block: from is its one instance
        return addr == block.from_addr
    return moved_to(addr, block.from_addr, block.to_addr) is not None
