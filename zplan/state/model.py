"""The state document: what was applied, in a versioned JSON shape.

    {
      "format_version": 1,
      "serial": 7,                      # +1 on every apply that changed something
      "lineage": "uuid",                # identifies this state across copies
      "resources": {ADDRESS: {"type", "provider", "inputs", "attributes", "dependencies", "stack"}},
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
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Callable, Mapping

from zplan.hashing import hash_value

FORMAT_VERSION = 2


class StateError(Exception):
    pass


def empty() -> dict:
    import uuid  # here: only a new state needs it (uuid imports platform, ~1.5 ms of every command)

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


@dataclass(frozen=True)
class ResourceRecord:
    """What a resource was applied with (``inputs``) and what it is (``attributes``); secrets sealed."""

    type: str
    provider: str
    inputs: dict[str, Any]
    attributes: dict[str, Any]
    dependencies: list[str] = field(default_factory=list)
    sensitive: list[str] = field(default_factory=list)
    prevent_destroy: bool = False
    schema_version: int = 0  # the provider's schema version the record was written with
    # the provider block settings it takes by default, as applied (secret ones as digests; see
    # zplan.plan.resources.taken_settings); kept only by types that take some
    provider_settings: dict[str, Any] = field(default_factory=dict)

    @staticmethod
    def sealed(type_: str, provider: str, inputs: dict, attributes: dict, sensitive: list[str], state_dir: Path,
               dependencies: list[str] = (), prevent_destroy: bool = False, schema_version: int = 0,
               provider_settings: dict[str, Any] | None = None) -> "ResourceRecord":
        """The one way a record is made from clear values: the ``sensitive`` ones are sealed."""
        from zplan.state import secrets as sealed

        secret = sorted(sensitive)
        return ResourceRecord(
            type_, provider, sealed.seal_keys(inputs, secret, state_dir), sealed.seal_keys(dict(attributes), secret, state_dir),
            list(dependencies), secret, prevent_destroy, schema_version, dict(provider_settings or {}),
        )

    def to_doc(self) -> dict:
        return {
            "type": self.type, "provider": self.provider, "inputs": self.inputs, "attributes": self.attributes,
            "dependencies": self.dependencies, "sensitive": self.sensitive, "prevent_destroy": self.prevent_destroy,
            "schema_version": self.schema_version, **({"provider_settings": self.provider_settings} if self.provider_settings else {}),
        }


@dataclass(frozen=True)
class StepRecord:
    """The latest execution of a step in one store pair."""

    status: str  # "succeeded" | "failed"
    cache_key: str | None = None
    fingerprint: dict = field(default_factory=dict)  # what the cache key hashed (reasons compare it)
    outputs: dict[str, dict] = field(default_factory=dict)  # name -> artifact record
    run: int | None = None
    finished_at: str | None = None
    error: str | None = None
    pipeline_run: str | None = None  # the Kubeflow/Vertex pipeline run whose task recorded it
    reads: dict[str, str | None] = field(default_factory=dict)  # project files its code read undeclared -> digest

    @staticmethod
    def from_doc(doc: dict) -> "StepRecord":
        return StepRecord(
            doc.get("status", ""), doc.get("cache_key"), doc.get("fingerprint") or {}, doc.get("outputs") or {},
            doc.get("run"), doc.get("finished_at"), doc.get("error"), doc.get("pipeline_run"), doc.get("reads") or {},
        )

    def to_doc(self) -> dict:
        doc = {"status": self.status, "cache_key": self.cache_key, "fingerprint": self.fingerprint, "outputs": self.outputs,
               "run": self.run, "finished_at": self.finished_at}
        if self.error:
            doc["error"] = self.error
        if self.pipeline_run:
            doc["pipeline_run"] = self.pipeline_run
        if self.reads:  # (absent when none: most steps read only what they declare)
            doc["reads"] = self.reads
        return doc

    @property
    def succeeded(self) -> bool:
        return self.status == "succeeded"


@dataclass(frozen=True)
class CacheEntry:
    """A successful execution, found by its cache key."""

    address: str
    outputs: dict[str, dict]
    run: int | None = None
    finished_at: str | None = None
    pipeline_run: str | None = None  # as the step record's
    reads: dict[str, str | None] = field(default_factory=dict)  # as the step record's

    @staticmethod
    def from_doc(doc: dict) -> "CacheEntry":
        # made without the frozen class's __init__ (an object.__setattr__ per field), as StepPlan's
        # step_plan: one for each cached step of every plan
        entry = object.__new__(CacheEntry)
        entry.__dict__.update(address=doc["address"], outputs=doc["outputs"], run=doc.get("run"), finished_at=doc.get("finished_at"),
                              pipeline_run=doc.get("pipeline_run"), reads=doc.get("reads") or _NO_READS)
        return entry

    def to_doc(self) -> dict:
        doc = {"address": self.address, "outputs": self.outputs, "run": self.run, "finished_at": self.finished_at}
        doc = doc | {"pipeline_run": self.pipeline_run} if self.pipeline_run else doc
        return doc | {"reads": self.reads} if self.reads else doc


_NO_READS: dict = {}  # (shared by the entries of steps that read nothing undeclared: never written to)


def _follow_moved_resources(record: dict, cache: dict, moved: dict[str, str]) -> None:
    """A step's cache key names the resources it reads by address: a moved one takes its new
    address there too, and the latest result is also kept under the key that gives, so the
    step stays cached (a move changes nothing but the address)."""
    fingerprint = record.get("fingerprint") or {}
    renamed = _renamed_resources(fingerprint, moved)
    if renamed is None:
        return
    old_key, new_key = record.get("cache_key"), hash_value(renamed)
    record["fingerprint"] = renamed
    if old_key is None or old_key != hash_value(fingerprint):  # a key this fingerprint did not give: left as it is
        return
    record["cache_key"] = new_key
    if old_key in cache:
        cache.setdefault(new_key, {**copy.deepcopy(cache[old_key]), "fingerprint": renamed})


def _follow_moved_resources_in_cache(cache: dict, moved: dict[str, str]) -> None:
    """Every result of a step reading a moved resource is kept under the key the new address gives
    too, not only the latest: a param switched back after the move finds its result. Its entry holds
    its fingerprint for that (``_entry_doc``); one recorded before entries held it keeps its key."""
    for old_key, entry in list(cache.items()):
        fingerprint = entry.get("fingerprint")
        renamed = _renamed_resources(fingerprint, moved) if isinstance(fingerprint, dict) else None
        if renamed is not None and old_key == hash_value(fingerprint):
            cache.setdefault(hash_value(renamed), {**copy.deepcopy(entry), "fingerprint": renamed})


def _renamed_resources(fingerprint: dict, moved: dict[str, str]) -> dict | None:
    """``fingerprint`` with the resources it reads at their new addresses; None when none moved."""
    read = fingerprint.get("resources")
    if not isinstance(read, dict) or not any(address in moved for address in read):
        return None
    return {**fingerprint, "resources": {moved.get(a, a): digest for a, digest in read.items()}}


def _entry_doc(record: StepRecord, address: str) -> dict:
    """A cache entry for a successful record. The fingerprint of a step reading resources is kept
    with it: their addresses are in its key, which a ``moved`` block changes (``State.move``)."""
    doc = CacheEntry(address, record.outputs, record.run, record.finished_at, record.pipeline_run, record.reads).to_doc()
    return doc | {"fingerprint": record.fingerprint} if record.fingerprint.get("resources") else doc


class State:
    """The state document behind a typed interface: ``put_resource``, ``put_step``,
    ``forget``, ``set_outputs`` and ``bump`` are the only ways it changes."""

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
    def resources(self) -> Mapping[str, dict]:
        """Every recorded resource as stored (read-only: change it through put_resource / forget)."""
        return MappingProxyType(self.doc["resources"])

    def resource(self, address: str) -> ResourceRecord | None:
        doc = self.doc["resources"].get(address)
        if doc is None:
            return None
        return ResourceRecord(
            doc["type"], doc.get("provider", ""), doc.get("inputs", {}), doc.get("attributes", {}),
            doc.get("dependencies", []), doc.get("sensitive", []), bool(doc.get("prevent_destroy")),
            int(doc.get("schema_version", 0)), doc.get("provider_settings") or {},
        )

    def put_resource(self, address: str, record: ResourceRecord, stack: str | None = None) -> None:
        """``stack``: the stack that applied it. Another stack's plan leaves it alone unless its own
        configuration declares it too (``zplan.plan.planner``), as a Terraform workspace never sees another's."""
        self.doc["resources"][address] = {**record.to_doc(), **({"stack": stack} if stack else {})}

    def forget(self, address: str) -> bool:
        """Drop a resource from state (deleted, or `state rm`); False when it was not there."""
        return self.doc["resources"].pop(address, None) is not None

    def outputs_of(self, stack: str) -> dict[str, dict]:
        """The outputs the last apply on ``stack`` recorded."""
        return self.doc["outputs"].get(stack, {})

    def set_outputs(self, stack: str, outputs: dict[str, dict]) -> None:
        if outputs:
            self.doc["outputs"][stack] = outputs
        else:
            self.doc["outputs"].pop(stack, None)

    def put_step(self, key: str, address: str, record: StepRecord) -> None:
        """Record a step's latest execution; a success is also kept in the cache, by its cache key."""
        store = self.doc["stores"].setdefault(key, {"steps": {}, "cache": {}})
        store["steps"][address] = record.to_doc()
        if record.succeeded and record.cache_key:
            store["cache"][record.cache_key] = _entry_doc(record, address)

    def restore_step(self, key: str, address: str, record: dict | None, cache_key: str | None, entry: dict | None) -> None:
        """Put back a step's record and the cache entry under ``cache_key`` as they were (None: absent)."""
        store = self.doc["stores"].setdefault(key, {"steps": {}, "cache": {}})
        for table, name, value in ((store["steps"], address, record), (store["cache"], cache_key, entry)):
            if name is not None and value is None:
                table.pop(name, None)
            elif name is not None:
                table[name] = value

    def step_record(self, key: str, address: str) -> StepRecord | None:
        doc = self.doc["stores"].get(key, {}).get("steps", {}).get(address)
        return None if doc is None else StepRecord.from_doc(doc)

    def cache_entry(self, key: str, cache_key: str) -> CacheEntry | None:
        doc = self.doc["stores"].get(key, {}).get("cache", {}).get(cache_key)
        return None if doc is None else CacheEntry.from_doc(doc)

    def pipeline_run_result(self, key: str, address: str, pipeline_run: str) -> CacheEntry | None:
        """The result a step's task recorded in one Kubeflow/Vertex pipeline run: kept in the cache,
        where a later run's record of the step (another key) leaves it."""
        found = [e for e in self.doc["stores"].get(key, {}).get("cache", {}).values()
                 if e.get("address") == address and e.get("pipeline_run") == pipeline_run]
        return CacheEntry.from_doc(max(found, key=lambda e: e.get("finished_at") or "")) if found else None

    def move(self, rename: Callable[[str], str | None], blocked: list[tuple[str, str]] | None = None) -> list[tuple[str, str]]:
        """Give resources and step records new addresses (``moved`` blocks): ``rename`` answers
        the new address or None. A new address already taken keeps both where they are: each such
        resource is added to ``blocked`` (a step's older record left beside the new one is harmless)."""
        moved: dict[str, str] = {}
        tables = [self.doc["resources"]] + [store["steps"] for store in self.doc["stores"].values()]
        for table in tables:
            for old in list(table):
                new = rename(old)
                if new is not None and new not in table:
                    table[new] = table.pop(old)
                    moved[old] = new
                elif new is not None and table is self.doc["resources"] and blocked is not None:
                    blocked.append((old, new))
        for store in self.doc["stores"].values():
            for entry in store["cache"].values():
                entry["address"] = moved.get(entry["address"], entry["address"])
            _follow_moved_resources_in_cache(store["cache"], moved)
            for record in store["steps"].values():
                _follow_moved_resources(record, store["cache"], moved)
        for record in self.doc["resources"].values():  # destroy goes by them: dependents first
            if any(d in moved for d in record.get("dependencies", ())):
                record["dependencies"] = [moved.get(d, d) for d in record["dependencies"]]
        return sorted(moved.items())

    def bump(self) -> None:
        self.doc["serial"] += 1

    def copy(self) -> "State":
        return State(copy.deepcopy(self.doc))
