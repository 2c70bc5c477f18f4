"""What `zplan gc` counts as a reference in the state document: latest step records, the cache
entries of kept runs (and of other stores), outputs, and deployed resources."""

from __future__ import annotations

from zplan.operations.gc import _drop_cache_entries, _in_state, _latest_executions
from zplan.state.model import State

D = {name: (name * 32)[:32] for name in "abcdef0123"}


def out(digest: str) -> dict:
    return {"output": {"digest": digest, "uri": f"file:///p/.zplan/artifacts/{digest[:2]}/{digest}"}}


def state() -> State:
    doc = State().doc
    doc["stores"] = {
        "this": {
            "steps": {"pipeline.p.step.train": {"status": "succeeded", "run": 3, "outputs": out(D["a"]),
                                                "fingerprint": {"inputs": {"data": D["b"]}}}},
            "cache": {"k1": {"address": "pipeline.p.step.train", "outputs": out(D["a"]), "run": 3},
                      "k2": {"address": "pipeline.p.step.train", "outputs": out(D["c"]), "run": 1},
                      "k3": {"address": "pipeline.p.step.train", "outputs": out(D["d"]), "run": None}},
        },
        "other": {"steps": {}, "cache": {"k4": {"address": "pipeline.p.step.train", "outputs": out(D["e"]), "run": 1}}},
    }
    doc["outputs"] = {"local": {"model": {"value": f"file:///p/.zplan/artifacts/ff/{D['f']}", "sensitive": False}}}
    doc["resources"] = {"resource.local_model_server.api": {
        "type": "local_model_server", "inputs": {"model": {"digest": D["0"], "uri": "file:///x", "materializer": "sklearn.pickle"}},
        "attributes": {"model_digest": D["0"], "port": 8080}}}
    return State(doc)


def test_kept_runs_cache_entries_and_everything_else_recorded_are_references() -> None:
    found = _in_state(state(), "this", kept_runs={3})
    assert {D["a"], D["b"], D["d"], D["e"], D["f"], D["0"]} <= found  # d: no run recorded; e: another store
    assert D["c"] not in found  # the cache entry of run 1, not kept
    assert D["c"] in _in_state(state(), "this", kept_runs=None)  # every run kept


def test_a_deployed_resource_keeps_the_artifact_it_serves() -> None:
    s = state()
    s.doc["resources"]["resource.local_model_server.api"]["inputs"]["model"]["digest"] = D["1"]
    assert D["1"] in _in_state(s, "this", kept_runs=set())


def test_only_the_cache_entries_naming_a_removed_artifact_are_dropped() -> None:
    s = state()
    assert _drop_cache_entries(s, "this", {D["c"], D["e"]}) == 1
    assert set(s.doc["stores"]["this"]["cache"]) == {"k1", "k3"} and "k4" in s.doc["stores"]["other"]["cache"]


def test_latest_records_name_the_run_that_wrote_them() -> None:
    assert _latest_executions(state(), "this") == {3: {"pipeline.p.step.train"}}
