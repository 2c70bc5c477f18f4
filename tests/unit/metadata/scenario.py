"""One recording scenario, checked against every metadata backend (SQLite here, MariaDB in
tests/integration): two runs of a three-step pipeline, the second with a cached and a
failed step, all fed by one data snapshot."""

from __future__ import annotations

import pytest

from zplan.diags import DiagnosticError
from zplan.metadata import ArtifactRecord, GitInfo, MetadataStore

GIT1 = GitInfo(commit="1" * 40, dirty=False, branch="main")
GIT2 = GitInfo(commit="2" * 40, dirty=True, branch="main")
T0 = 1_790_000_000.0


def art(name: str, kind: str = "output", **kw) -> ArtifactRecord:
    digest = f"{name:0>32}"[:32]
    return ArtifactRecord(
        digest=digest,
        uri=f"file://.zplan/artifacts/{digest}",
        materializer="zplan.parquet" if kind == "output" else "zplan.file",
        materializer_version="1",
        type_name="pandas.DataFrame" if kind == "output" else "file",
        kind=kind,
        size=100,
        **kw,
    )


SNAP = art("snap", kind="snapshot", source_path="data/iris.csv")
DATA = art("data")
TRAIN, TEST = art("train1"), art("test1")
MODEL = art("model1")
TRAIN2, TEST2 = art("train2"), art("test2")


def _step(store: MetadataStore, run: int, name: str, state: str, t: float, ins, outs, **kw) -> int:
    defaults = dict(params={"seed": 42}, error=None)
    defaults.update(kw)
    return store.record_execution(
        run,
        address=f"pipeline.training.step.{name}",
        pipeline="training",
        step=name,
        cache_key=f"key-{name}-{run}",
        code_hash=f"code-{name}",
        state=state,
        started_at=t,
        finished_at=t + 1.5,
        inputs=ins,
        outputs=outs,
        **defaults,
    )


def record_two_runs(store: MetadataStore) -> tuple[int, int]:
    r1 = store.start_run("training", "local", GIT1, T0)
    _step(store, r1, "load", "complete", T0, {"path": SNAP}, {"data": DATA})
    _step(store, r1, "split", "complete", T0 + 2, {"data": DATA}, {"train": TRAIN, "test": TEST},
          params={"test_size": 0.2, "seed": 42})
    _step(store, r1, "train", "complete", T0 + 4, {"train": TRAIN}, {"model": MODEL}, params={"c": 1.0})
    store.finish_run(r1, "succeeded", T0 + 6)

    r2 = store.start_run("training", "local", GIT2, T0 + 100)
    _step(store, r2, "load", "cached", T0 + 100, {"path": SNAP}, {"data": DATA})
    _step(store, r2, "split", "complete", T0 + 102, {"data": DATA}, {"train": TRAIN2, "test": TEST2},
          params={"test_size": 0.3, "seed": 42})
    _step(store, r2, "train", "failed", T0 + 104, {"train": TRAIN2}, {}, params={"c": 1.0},
          error="ValueError: c must be positive")
    store.finish_run(r2, "failed", T0 + 106)
    return r1, r2


def check_two_runs(store: MetadataStore, r1: int, r2: int) -> None:
    assert (r1, r2) == (1, 2)
    check_runs_listing(store)
    check_run_detail(store)
    check_lineage(store)
    check_find_artifact(store)


def check_runs_listing(store: MetadataStore) -> None:
    runs = store.runs()
    assert [r.number for r in runs] == [2, 1]
    newest, oldest = runs
    assert (newest.pipeline, newest.stack, newest.status) == ("training", "local", "failed")
    assert (newest.steps_run, newest.steps_cached, newest.steps_failed) == (1, 1, 1)
    assert (newest.started, newest.finished) == (T0 + 100, T0 + 106)
    assert newest.git == GIT2 and newest.git_commit == "2" * 40
    assert (oldest.status, oldest.steps_run, oldest.steps_cached, oldest.steps_failed) == ("succeeded", 3, 0, 0)
    assert [r.number for r in store.runs(limit=1)] == [2]


def check_run_detail(store: MetadataStore) -> None:
    detail = store.run_detail(2)
    assert detail.summary.number == 2
    load, split, train = detail.executions
    assert [e.state for e in detail.executions] == ["cached", "complete", "failed"]
    assert split.params == {"test_size": 0.3, "seed": 42}
    assert (split.cache_key, split.code_hash) == ("key-split-2", "code-split")
    assert (split.started_at, split.finished_at, split.duration) == (T0 + 102, T0 + 103.5, 1.5)
    assert split.run == 2 and split.git == GIT2
    assert train.error == "ValueError: c must be positive" and train.outputs == {}
    assert train.inputs["train"].record == TRAIN2
    assert load.inputs["path"].record == SNAP

    # The cached step's output is the very artifact run 1 produced: one row, not two.
    first_load = store.run_detail(1).executions[0]
    assert load.outputs["data"].id == first_load.outputs["data"].id
    assert load.inputs["path"].id == first_load.inputs["path"].id
    assert first_load.error is None

    with pytest.raises(DiagnosticError, match="no run 99"):
        store.run_detail(99)


def check_lineage(store: MetadataStore) -> None:
    model = store.lineage(MODEL.uri)
    assert model.artifact.record == MODEL
    train = model.produced_by
    assert (train.step, train.state, train.params, train.code_hash) == ("train", "complete", {"c": 1.0}, "code-train")
    assert train.run == 1 and train.git.commit == "1" * 40

    split_node = model.inputs["train"]
    assert split_node.artifact.record == TRAIN
    assert split_node.produced_by.params == {"test_size": 0.2, "seed": 42}

    load_node = split_node.inputs["data"]
    # Produced by run 1's real execution, not by run 2's cached one.
    assert load_node.produced_by.state == "complete" and load_node.produced_by.run == 1

    snapshot = load_node.inputs["path"]
    assert snapshot.produced_by is None and snapshot.inputs == {}
    assert snapshot.artifact.record.kind == "snapshot"
    assert snapshot.artifact.record.source_path == "data/iris.csv"
    assert [n.artifact.uri for n in model.walk()] == [MODEL.uri, TRAIN.uri, DATA.uri, SNAP.uri]

    by_id = store.lineage(model.artifact.id)
    assert by_id == model
    with pytest.raises(DiagnosticError, match="no artifact"):
        store.lineage("file://nowhere")


def check_find_artifact(store: MetadataStore) -> None:
    split_train = store.find_artifact("pipeline.training.step.split", "train")
    assert store.lineage(split_train).artifact.record == TRAIN2  # the newest run's
    model = store.find_artifact("pipeline.training.step.train", "model")
    assert store.lineage(model).artifact.record == MODEL  # run 2's train failed: run 1's stands
    assert store.find_artifact("pipeline.training.step.train", "nope") is None
    assert store.find_artifact("pipeline.other.step.x", "model") is None
