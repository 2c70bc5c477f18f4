"""Read-only views of state for `show` and `state show` (secrets stay hidden)."""

from __future__ import annotations

from zplan.config.values import UNKNOWN
from zplan.metadata.convert import uri_after_move
from zplan.secrets import SENSITIVE, mask, mask_attributes
from zplan.state.model import State, store_key


def _stores(state: State, project) -> list[dict]:
    """The step records of the project's current stack: another stack's records (other
    stores) would show runs and artifacts this stack never made."""
    settings = project.recorded_stack_settings(state)
    artifacts, metadata = settings.get("artifact_store"), settings.get("metadata_store")
    if UNKNOWN not in (artifacts, metadata):  # the key as apply made it
        return [state.doc["stores"].get(store_key(str(artifacts), str(metadata)), {})]
    # the stores depend on a resource not in state (never applied, or destroyed since: the records
    # stay): which records are this stack's cannot be told, so show every one rather than none
    return list(state.doc["stores"].values())


def state_json(state: State, project) -> dict:
    steps = {}
    for store in _stores(state, project):
        for addr, rec in store.get("steps", {}).items():
            steps[addr] = {k: mask(rec[k], project.secrets) for k in ("status", "run", "finished_at", "cache_key", "outputs", "error") if k in rec}
            for out in steps[addr].get("outputs", {}).values():
                if isinstance(out, dict) and isinstance(out.get("uri"), str):
                    out["uri"] = uri_after_move(out["uri"], project.root)
    return {
        "format_version": state.doc["format_version"],
        "serial": state.serial,
        "lineage": state.lineage,
        "resources": {
            addr: {
                "type": r["type"],
                "provider": r.get("provider", ""),
                "attributes": mask_attributes(r["attributes"], r.get("sensitive", []), hide_null=True),
                "dependencies": r.get("dependencies", []),
            }
            for addr, r in state.resources.items()
        },
        "steps": steps,
        "outputs": {k: (SENSITIVE if o.get("sensitive") else o["value"]) for k, o in state.outputs_of(project.stack_name).items()},
    }


def large_json_outputs(state: State, project) -> dict[str, tuple[str, str]]:
    """URI -> (step address, digest) of each JSON step output of the stack's stores whose value was
    too large to be kept in state: an output reading one holds its URI in state."""
    settings = project.static_stack_settings()
    artifacts, metadata = settings.get("artifact_store"), settings.get("metadata_store")
    if not (isinstance(artifacts, str) and isinstance(metadata, str)):
        return {}  # stores known only after apply: nothing can be read from them here
    found = {}
    for addr, rec in state.doc["stores"].get(store_key(artifacts, metadata), {}).get("steps", {}).items():
        for out in (rec.get("outputs") or {}).values():
            if isinstance(out, dict) and out.get("materializer") == "json" and "value" not in out and isinstance(out.get("uri"), str):
                found[out["uri"]] = (addr, out["digest"])
    return found


def with_artifact_values(value, large: dict[str, tuple[str, str]], load):
    """``value`` with each URI of ``large`` (``large_json_outputs``) in it replaced by
    ``load(uri, address, digest)``: the value the step gave."""
    if isinstance(value, str):
        return load(value, *large[value]) if value in large else value
    if isinstance(value, dict):
        return {k: with_artifact_values(v, large, load) for k, v in value.items()}
    if isinstance(value, list):
        return [with_artifact_values(v, large, load) for v in value]
    return value
