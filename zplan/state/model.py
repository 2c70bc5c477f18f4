"""The state document: what was applied, in a versioned JSON shape.

    {
      "format_version": 1,
      "serial": 7,                      # +1 on every apply that changed something
      "lineage": "uuid",                # identifies this state across copies
      "resources": {ADDRESS: {"type", "provider", "inputs", "attributes", "dependencies"}},
      "stores": {STORE_KEY: {           # per (artifact store, metadata store) pair
          "steps": {ADDRESS: StepRecord},   # the latest execution of each step
          "cache": {CACHE_KEY: CacheEntry}, # every successful execution, by cache key
      }},
      "outputs": {STACK: {NAME: {"value", "sensitive"}}},   # outputs per stack (v2)
    }

Older documents are upgraded by one function per version (``_UPGRADES``), as
Terraform's state files are.
"""

from __future__ import annotations

import copy
import uuid
from typing import Any, Callable

from zplan.hashing import hash_value

FORMAT_VERSION = 2


class StateError(Exception):
    pass


def empty() -> dict:
    return {
        "format_version": FORMAT_VERSION,
        "serial": 0,
        "lineage": str(uuid.uuid4()),
        "resources": {},
        "stores": {},
        "outputs": {},
    }


def upgrade(doc: dict | None) -> dict:
    if doc is None:
        return empty()
    version = doc.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise StateError(
            f"state format version {version!r} is newer than this zplan understands ({FORMAT_VERSION}); upgrade zplan"
        )
    while version < FORMAT_VERSION:
        doc = _UPGRADES[version](doc)
        version = doc["format_version"]
    return doc


def _v1_to_v2(doc: dict) -> dict:
    # v1 kept one set of outputs for every stack; which stack they came from is unknown,
    # so they are dropped and the next apply on each stack records its own.
    return {**doc, "outputs": {}, "format_version": 2}


_UPGRADES: dict[int, Callable[[dict], dict]] = {1: _v1_to_v2}


def store_key(artifact_store: str, metadata_store: str) -> str:
    """Caches are valid only for the artifact store + metadata store that recorded them."""
    return hash_value([artifact_store, metadata_store])[:16]


class State:
    """A thin, typed view over the state document."""

    def __init__(self, doc: dict | None = None) -> None:
        """Takes ownership of ``doc`` (as read from a backend); use ``copy()`` to fork a state."""
        self.doc = upgrade(doc)

    @property
    def serial(self) -> int:
        return self.doc["serial"]

    @property
    def lineage(self) -> str:
        return self.doc["lineage"]

    @property
    def resources(self) -> dict[str, dict]:
        return self.doc["resources"]

    def outputs_of(self, stack: str) -> dict[str, dict]:
        """The outputs the last apply on ``stack`` recorded."""
        return self.doc["outputs"].get(stack, {})

    def set_outputs(self, stack: str, outputs: dict[str, dict]) -> None:
        if outputs:
            self.doc["outputs"][stack] = outputs
        else:
            self.doc["outputs"].pop(stack, None)

    def store(self, key: str) -> dict:
        return self.doc["stores"].setdefault(key, {"steps": {}, "cache": {}})

    def step_record(self, key: str, address: str) -> dict | None:
        return self.doc["stores"].get(key, {}).get("steps", {}).get(address)

    def cache_entry(self, key: str, cache_key: str) -> dict | None:
        return self.doc["stores"].get(key, {}).get("cache", {}).get(cache_key)

    def bump(self) -> None:
        self.doc["serial"] += 1

    def copy(self) -> "State":
        return State(copy.deepcopy(self.doc))


def snapshot_digest(entry: Any) -> str:
    return entry["digest"] if isinstance(entry, dict) else str(entry)
