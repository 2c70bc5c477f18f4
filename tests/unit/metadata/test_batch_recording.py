"""Many executions recorded in one transaction read back like ones recorded one by one."""

from __future__ import annotations

from pathlib import Path

from tests.unit.metadata.scenario import DATA, GIT1, MODEL, SNAP, T0, TEST, TRAIN
from zplan.metadata import MetadataStore


def rec(step: str, state: str, t: float, ins: dict, outs: dict, pipeline: str = "train") -> dict:
    return dict(
        address=f"pipeline.{pipeline}.step.{step}", pipeline=pipeline, step=step, cache_key=f"key-{step}",
        params={"seed": 42}, code_hash=f"code-{step}", state=state, started_at=t, finished_at=t + 1,
        error=None if state != "failed" else "ValueError: boom", inputs=ins, outputs=outs,
    )


def test_batch_is_one_run_with_lineage(tmp_path: Path) -> None:
    store = MetadataStore.from_url("sqlite:///meta.db", tmp_path)
    run = store.start_run("train", "local", GIT1, T0)
    store.record_executions(run, [
        rec("load", "complete", T0, {"csv": SNAP}, {"output": DATA}),
        rec("split", "cached", T0 + 1, {"data": DATA}, {"train": TRAIN, "test": TEST}),
        rec("train", "complete", T0 + 2, {"train": TRAIN}, {"output": MODEL}),
        rec("report", "failed", T0 + 3, {"model": MODEL}, {}, pipeline="reporting"),
    ])
    store.finish_run(run, "failed", T0 + 5)

    detail = store.run_detail(run)
    assert [e.step for e in detail.executions] == ["load", "split", "train", "report"]
    assert [e.state for e in detail.executions] == ["complete", "cached", "complete", "failed"]
    assert detail.executions[3].error == "ValueError: boom"
    split = detail.executions[1]
    assert set(split.outputs) == {"train", "test"} and split.inputs["data"].id == detail.executions[0].outputs["output"].id

    lineage = store.lineage(store.find_artifact("pipeline.train.step.train", "output"))
    sources = [n.artifact.record.source_path for n in lineage.walk() if n.produced_by is None]
    assert sources == ["data/iris.csv"]
    assert lineage.produced_by.git.commit == GIT1.commit
    store.close()


def test_one_execution_record_type_for_single_and_batched_recording(tmp_path: Path) -> None:
    from zplan.metadata import ExecutionRecord
    from zplan.metadata.reader import Reader
    from zplan.metadata.writer import Writer

    assert issubclass(MetadataStore, Writer) and issubclass(MetadataStore, Reader)
    store = MetadataStore.from_url("sqlite:///meta.db", tmp_path)
    run = store.start_run("train", "local", GIT1, T0)
    ids = store.record_executions(run, [
        ExecutionRecord(**rec("load", "complete", T0, {"csv": SNAP}, {"output": DATA})),
        ExecutionRecord(**rec("split", "cached", T0 + 1, {"data": DATA}, {"train": TRAIN})),
    ])
    single = store.record_execution(run, **rec("train", "complete", T0 + 2, {"train": TRAIN}, {"output": MODEL}))
    store.finish_run(run, "succeeded", T0 + 5)
    detail = store.run_detail(run)
    assert [e.id for e in detail.executions] == [*ids, single]
    assert [e.step for e in detail.executions] == ["load", "split", "train"]
    store.close()


def test_a_deployment_naming_a_model_by_digest_alone_keeps_the_model_described(tmp_path: Path) -> None:
    """A deployment records the model it serves with its digest and uri only: whether it comes in a
    later batch or earlier in the same one, the row keeps the type the training step recorded."""
    from dataclasses import replace

    bare = replace(MODEL, type_name="", materializer_version="")
    store = MetadataStore.from_url("sqlite:///meta.db", tmp_path)
    run = store.start_run("train", "local", GIT1, T0)
    store.record_executions(run, [rec("train", "complete", T0, {"train": TRAIN}, {"output": MODEL})])
    store.record_executions(run, [rec("serve", "complete", T0 + 1, {"model": bare}, {}, pipeline="serving")])
    store.record_executions(run, [rec("serve2", "complete", T0 + 2, {"model": bare}, {}, pipeline="serving"),
                                  rec("train2", "complete", T0 + 3, {"train": TRAIN}, {"output": MODEL}, pipeline="serving")])
    store.finish_run(run, "succeeded", T0 + 5)
    served = [e.inputs["model"] for e in store.run_detail(run).executions if e.step.startswith("serve")]
    assert [a.record.type_name for a in served] == [MODEL.type_name] * 2 and MODEL.type_name
    store.close()
