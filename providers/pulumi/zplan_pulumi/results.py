"""From what the Pulumi engine reports to zplan's ResourceResults and attributes.

Three sources, one mapping: the stack outputs of a successful run, the event
stream of a failed one, and the exported stack state after ``refresh``.
"""

from __future__ import annotations

from typing import Any, Mapping

from zplan.provider import ResourceChange, ResourceResult

from .events import EventLog
from .spec import TypeMap, merge_result, read_wire


def from_outputs(tm: TypeMap, change: ResourceChange, outputs: Mapping[str, Any]) -> ResourceResult:
    """The result of one change after a successful ``up`` (outputs exported by address)."""
    if change.action == "delete":
        return ResourceResult(change.address, None)
    read = outputs.get(change.address)
    if not isinstance(read, Mapping):
        return ResourceResult(change.address, None, "the Pulumi stack exported no outputs for it")
    return ResourceResult(change.address, merge_result(tm, read, change.after or {}))


def after_failure(tm: TypeMap, urn: str, change: ResourceChange, log: EventLog, why: str) -> ResourceResult:
    """The result of one change after a failed run: done, failed with its own error, or not reached.

    A replacement whose old object went first (delete-before-replace) and whose new one was
    not made leaves nothing behind: ``old_deleted`` says so, and the core forgets it.
    """
    step = log.steps.get(urn)
    old_gone = change.action == "replace" and step is not None and step.deleted
    error = log.error_for(urn)
    if error:
        return ResourceResult(change.address, None, error, old_gone)
    if step is not None and change.action == "delete" and step.deleted:
        return ResourceResult(change.address, None)
    if step is not None and change.action != "delete" and not step.deleted:
        read = read_wire(tm, step.resource_id, step.outputs, change.after or {})
        return ResourceResult(change.address, merge_result(tm, read, change.after or {}))
    return ResourceResult(change.address, None, f"not applied: {why}", old_gone)


def live_resources(deployment: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """Cloud resources in an exported stack by URN (not the stack, not providers, not pending deletes)."""
    live = {}
    for res in deployment.get("resources") or []:
        kind = str(res.get("type", ""))
        if res.get("custom") is False or kind.startswith("pulumi:") or res.get("delete"):
            continue
        live[res.get("urn")] = res
    return live


def where_live(live: Mapping[str, Mapping[str, Any]], wanted: Mapping[str, tuple[str, str, Any]]) -> dict[str, str]:
    """address -> the URN its object has in the stack (``wanted``: address -> (the URN its address
    gives, type token, recorded id)). That URN, or, when zplan's state alone renamed the resource (a
    moved block, count added to its block), the URN of the object of that type and id no other
    address claims. Absent: its object is not in the stack."""
    claimed = {own for own, _, _ in wanted.values() if own in live}
    by_id = {(res.get("type"), res.get("id")): urn for urn, res in live.items() if urn not in claimed}
    found = {}
    for address, (own, token, id_) in wanted.items():
        if own in live:
            found[address] = own
        elif id_ is not None and (token, id_) in by_id:
            found[address] = by_id.pop((token, id_))
    return found


def read_deployment(
    types: Mapping[str, TypeMap],
    urns: Mapping[str, str],
    resources: Mapping[str, tuple[str, Mapping[str, Any]]],
    deployment: Mapping[str, Any],
) -> dict[str, dict[str, Any] | None]:
    """zplan attributes of each address (``urns``: address -> URN), None when it is gone."""
    live = live_resources(deployment)
    found: dict[str, dict[str, Any] | None] = {}
    for address, (type_, recorded) in resources.items():
        state = live.get(urns.get(address))
        tm = types.get(type_)
        if state is None or tm is None:
            found[address] = None
        else:
            found[address] = read_wire(tm, state.get("id"), state.get("outputs") or {}, recorded)
    return found
