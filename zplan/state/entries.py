"""Checks of each entry of a state document: a damaged one is named by its address.

A state file edited by hand (or by a broken tool) can be sound at the top and hold
``"attributes": null`` or a record that is a number; read as it is, that would fail
somewhere deep in a command. The entries are checked as the JSON is decoded, so the
check must cost little beside it: the big tables (a 20,000-step state has 40,000
step records and cache entries) get one quick pass of type checks (touching each
entry once costs more than the checks: several C-level ``map`` passes over the
tables measured slower than one loop). Only when it fails is the document walked
again, entry by entry, to name the first damaged one.
"""

from __future__ import annotations

from typing import Any

NONE = type(None)
# field -> (the types it may have, whether it must be there): what the readers of each entry need
RESOURCE = {"type": ((str,), True), "provider": ((str,), False), "inputs": ((dict,), False), "attributes": ((dict,), False),
            "dependencies": ((list,), False), "sensitive": ((list,), False), "schema_version": ((int,), False),
            "stack": ((str,), False)}
STEP = {"status": ((str,), True), "outputs": ((dict, NONE), False), "fingerprint": ((dict, NONE), False)}
CACHE = {"address": ((str,), True), "outputs": ((dict,), True)}
ARTIFACT = {"digest": ((str,), True)}
OUTPUT = {"value": ((object,), True)}
_MISSING = object()


def entry_problem(doc: dict) -> str | None:
    """The first damaged entry of a state document whose top level is sound, or None."""
    problem = _small_tables_problem(doc)
    if problem or _stores_sound(doc["stores"]):
        return problem
    return _stores_problem(doc["stores"])


# -- the quick pass over the big tables -----------------------------------------------------------------


def _stores_sound(stores: dict) -> bool:
    """Whether every step record and cache entry has what its readers need (``STEP``, ``CACHE``,
    ``ARTIFACT``); a sound state takes this pass alone."""
    for store in stores.values():
        if type(store) is not dict or type(store.get("steps")) is not dict or type(store.get("cache")) is not dict:
            return False
        for record in store["steps"].values():
            if type(record) is not dict or type(record.get("status")) is not str:
                return False
            outputs, fingerprint = record.get("outputs"), record.get("fingerprint")
            if (outputs is not None and not _artifacts_sound(outputs)) or (fingerprint is not None and type(fingerprint) is not dict):
                return False
        for entry in store["cache"].values():
            if type(entry) is not dict or type(entry.get("address")) is not str or not _artifacts_sound(entry.get("outputs")):
                return False
    return True


def _artifacts_sound(outputs: Any) -> bool:
    if type(outputs) is not dict:
        return False
    for record in outputs.values():
        if type(record) is not dict or type(record.get("digest")) is not str:
            return False
    return True


# -- the slow walk: naming the first damaged entry -----------------------------------------------------


def _small_tables_problem(doc: dict) -> str | None:
    """Resources and outputs: a few hundred entries at most, walked one by one."""
    for address, entry in doc["resources"].items():
        found = _entry(entry, RESOURCE, f"resource {address}")
        if found:
            return found
    per_stack = doc["outputs"] if doc["format_version"] >= 2 else {}  # format 1's are dropped when upgraded
    for stack, outputs in per_stack.items():
        if not isinstance(outputs, dict):
            return f'the outputs of stack "{stack}" are {_shown(outputs)}, not an object'
        for name, output in outputs.items():
            found = _entry(output, OUTPUT, f'output "{name}" of stack "{stack}"')
            if found:
                return found
    return None


def _stores_problem(stores: dict) -> str | None:
    for key, store in stores.items():
        found = _store(key, store)
        if found:
            return found
    return None


def _store(key: str, store: Any) -> str | None:
    if not isinstance(store, dict):
        return f"store {key} is {_shown(store)}, not an object"
    for table in ("steps", "cache"):
        if not isinstance(store.get(table), dict):
            return f'store {key}: "{table}" is {_shown(store.get(table, _MISSING))}, not an object'
    for what, table, fields in (("step record", "steps", STEP), ("cache entry", "cache", CACHE)):
        for name, entry in store[table].items():
            where = f"{what} {name}{_of_step(entry) if table == 'cache' else ''} (store {key})"
            found = _entry(entry, fields, where) or _artifacts(entry.get("outputs") or {}, where)
            if found:
                return found
    return None


def _of_step(entry: Any) -> str:
    """A cache entry is named by its cache key: the step it is of says more."""
    address = entry.get("address") if isinstance(entry, dict) else None
    return f" of {address}" if isinstance(address, str) else ""


def _artifacts(outputs: dict, where: str) -> str | None:
    for name, record in outputs.items():
        found = _entry(record, ARTIFACT, f'output "{name}" of {where}')
        if found:
            return found
    return None


def _entry(entry: Any, fields: dict, where: str) -> str | None:
    if not isinstance(entry, dict):
        return f"{where} is {_shown(entry)}, not an object"
    for name, (kinds, required) in fields.items():
        value = entry.get(name, _MISSING)
        if value is _MISSING:
            if required:
                return f'{where}: "{name}" is missing'
        elif not (object in kinds or type(value) in kinds):
            return f'{where}: "{name}" is {_shown(value)}, not {_kind(kinds)}'
    return None


def _shown(value: Any) -> str:
    if value is _MISSING:
        return "missing"
    return "null" if value is None else _JSON.get(type(value), f"a {type(value).__name__}")


_JSON = {dict: "an object", list: "a list", str: "a string", int: "a number", float: "a number", bool: "a boolean"}


def _kind(kinds: tuple) -> str:
    return " or ".join("null" if k is NONE else _JSON[k] for k in kinds)
