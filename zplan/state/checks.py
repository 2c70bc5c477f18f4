"""Reading and writing the state document safely: a damaged one is refused, never guessed at.

A state file that is truncated, random bytes, ``{}`` or ``null`` must not be
taken for an empty state: apply would then forget every resource it manages
(and orphan a running service). Backends parse through ``parse_document`` and
serialise through ``dump_document``, which refuses values JSON cannot hold
(NaN, infinities) and names where they are.
"""

from __future__ import annotations

import json
import math
from typing import Any

from zplan.diags import DiagnosticError, error
from zplan.state.entries import entry_problem
from zplan.state.model import FORMAT_VERSION


class StateDamaged(DiagnosticError):
    """The stored state cannot be read as a state document."""

    def __init__(self, where: str, why: str, what_to_do: str) -> None:
        super().__init__(error(f"{where} is damaged: {why}", what_to_do))


class StateFromNewerZplan(DiagnosticError):
    """The state was written by a newer zplan: not damaged, and not to be restored or deleted."""

    def __init__(self, where: str, version: int) -> None:
        super().__init__(error(
            f"{where} was written by a newer zplan (state format {version}; this one reads up to {FORMAT_VERSION})",
            "upgrade zplan to the version that wrote it (or a later one); do not restore an older copy or delete it: "
            "that would forget what the newer zplan recorded",
        ))


def parse_document(raw: bytes | str, where: str, what_to_do: str) -> dict:
    """The state document in ``raw``; ``StateDamaged`` naming ``where`` when it is not one."""
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        doc = json.loads(text, parse_constant=_no_constant)
    except UnicodeDecodeError:
        raise StateDamaged(where, "it is not text (random or binary bytes)", what_to_do) from None
    except ValueError as exc:
        raise StateDamaged(where, f"it is not valid JSON ({exc})", what_to_do) from None
    # Each entry is checked here, as the JSON is decoded (a few % of decoding it); a decoded copy
    # kept for the same bytes (``zplan.state.decoded``) was made from a document checked so.
    version = doc.get("format_version") if isinstance(doc, dict) else None
    if isinstance(version, int) and not isinstance(version, bool) and version > FORMAT_VERSION:
        raise StateFromNewerZplan(where, version)
    problem = shape_problem(doc) or entry_problem(doc)
    if problem:
        raise StateDamaged(where, problem, what_to_do)
    return doc


def shape_problem(doc: Any) -> str | None:
    """What keeps ``doc`` from being a state document zplan can use, or None."""
    if doc is None:
        return "it holds null, not a state document (read as empty, every resource it records would be forgotten)"
    if not isinstance(doc, dict):
        return f"it holds a JSON {type(doc).__name__}, not a state object"
    version = doc.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        return "it has no format_version (an empty or foreign JSON object)"
    if version > FORMAT_VERSION:
        return f"it was written by a newer zplan (format {version}; this one reads up to {FORMAT_VERSION}): upgrade zplan"
    expected = {"serial": int, "lineage": str, "resources": dict, "stores": dict}
    if version >= 2:
        expected["outputs"] = dict
    for key, kind in expected.items():
        if not isinstance(doc.get(key), kind):
            return f"its {key!r} is missing or not a {kind.__name__}"
    return None


def dump_document(doc: dict, indent: int | None = None) -> str:
    """``doc`` as JSON; NaN or an infinity anywhere is refused, naming its place."""
    try:
        if indent is None:
            return json.dumps(doc, sort_keys=True, separators=(",", ":"), allow_nan=False)
        return json.dumps(doc, sort_keys=True, indent=indent, allow_nan=False)
    except ValueError:
        where = not_finite_path(doc) or "somewhere"
        raise DiagnosticError(
            error(
                f"cannot record {where}: NaN and infinities are not valid JSON, so state cannot hold them",
                "have the step (or variable) give a number, null or a string such as \"NaN\" instead",
            )
        ) from None


def not_finite_path(value: Any, path: str = "") -> str | None:
    """The dotted path of the first NaN or infinity in ``value``, or None."""
    if isinstance(value, float) and not math.isfinite(value):
        return path or "the value"
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, (list, tuple)):
        items = ((f"[{i}]", v) for i, v in enumerate(value))
    else:
        return None
    for key, item in items:
        sep = "" if str(key).startswith("[") or not path else "."
        found = not_finite_path(item, f"{path}{sep}{key}")
        if found:
            return found
    return None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")
