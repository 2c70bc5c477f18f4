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
      "outputs": {NAME: {"value", "sensitive"}},
    }

Older documents are upgraded by one function per version (``_UPGRADES``), as
Terraform's state files are.
"""

from __future__ import annotations

import copy
import uuid
from typing import Any, Callable

from zplan.hashing import hash_value

FORMAT_VERSION = 1


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


_UPGRADES: dict[int, Callable[[dict], dict]] = {}


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

    @property
    def outputs(self) -> dict[str, dict]:
        return self.doc["outputs"]

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
