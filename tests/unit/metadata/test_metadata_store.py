from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from .scenario import DATA, GIT1, MODEL, SNAP, T0, art, check_two_runs, record_two_runs
from zplan.diags import DiagnosticError
from zplan.metadata import MetadataStore
from zplan.metadata.urls import MySQLTarget, SqliteTarget, parse_store_url

DEFAULT_URL = "sqlite:///.zplan/metadata.db"


def _count(db: Path, table: str) -> int:
    with sqlite3.connect(db) as conn:
        return conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]


def test_two_runs_on_sqlite(tmp_path: Path) -> None:
    store = MetadataStore.from_url(DEFAULT_URL, tmp_path)
    r1, r2 = record_two_runs(store)
    check_two_runs(store, r1, r2)
    store.close()

    db = tmp_path / ".zplan" / "metadata.db"
    # snapshot, data, train1, test1, model1, train2, test2: re-recorded ones are reused
    assert _count(db, "Artifact") == 7
    assert _count(db, "Execution") == 6

    # A fresh handle on the same file sees everything and keeps numbering.
    again = MetadataStore.from_url(DEFAULT_URL, tmp_path)
    check_two_runs(again, r1, r2)
    assert again.start_run("training", "local", GIT1, T0 + 200) == 3
    assert [r.status for r in again.runs()] == ["running", "failed", "succeeded"]


def test_reading_a_missing_store_creates_nothing(tmp_path: Path) -> None:
    store = MetadataStore.from_url(DEFAULT_URL, tmp_path)
    assert store.runs() == []
    assert store.find_artifact("pipeline.training.step.load", "data") is None
    with pytest.raises(DiagnosticError, match="no run 1"):
        store.run_detail(1)
    with pytest.raises(DiagnosticError, match="no artifact"):
        store.lineage("file://x")
    assert list(tmp_path.iterdir()) == []


def test_reading_before_writing_then_writing(tmp_path: Path) -> None:
    # plan reads first (read-only handle), then apply writes through the same object.
    store = MetadataStore.from_url(f"sqlite:///{tmp_path}/m.db", Path("/unused"))
    assert store.runs() == []
    run = store.start_run("p", "local", GIT1, T0)
    assert [r.number for r in store.runs()] == [run]


def test_an_existing_empty_store_reads_as_empty(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    sqlite3.connect(db).close()  # a file zplan never wrote to
    assert MetadataStore.from_url(f"sqlite:///{db}", tmp_path).runs() == []


def test_one_artifact_bound_to_two_names(tmp_path: Path) -> None:
    store = MetadataStore.from_url(DEFAULT_URL, tmp_path)
    run = store.start_run("p", "local", GIT1, T0)
    store.record_execution(
        run, address="pipeline.p.step.s", pipeline="p", step="s", cache_key="k", params={},
        code_hash="c", state="complete", started_at=T0, finished_at=T0, error=None,
        inputs={"left": SNAP, "right": SNAP}, outputs={"a": DATA, "b": DATA},
    )
    [execution] = store.run_detail(run).executions
    assert set(execution.inputs) == {"left", "right"} and set(execution.outputs) == {"a", "b"}
    assert execution.outputs["a"].id == execution.outputs["b"].id
    assert store.find_artifact("pipeline.p.step.s", "b") == execution.outputs["a"].id


def test_an_instance_key_with_both_quotes_or_a_backslash_is_found_by_its_address(tmp_path: Path) -> None:
    store = MetadataStore.from_url(DEFAULT_URL, tmp_path)
    run = store.start_run("p", "local", GIT1, T0)
    made = {}
    # for_each keys a"b, it's "x", a\b, and one the store's loose match also takes (axxb)
    for key in ('a\\"b', 'it\'s \\"x\\"', "a\\\\b", "axxb"):
        address = f'pipeline.p.step.s["{key}"]'
        made[address] = art(f"out-{len(made)}")
        store.record_execution(
            run, address=address, pipeline="p", step="s", cache_key=key, params={}, code_hash="c",
            state="complete", started_at=T0, finished_at=T0, error=None, inputs={}, outputs={"output": made[address]},
        )
    ids = {e.address: e.outputs["output"].id for e in store.run_detail(run).executions}
    for address in made:
        assert store.find_artifact(address, "output") == ids[address], address
        assert store.missing_output_hint(address).startswith("its recorded outputs: output")


def test_a_deployment_is_not_counted_as_a_step_of_its_run(tmp_path: Path) -> None:
    store = MetadataStore.from_url(DEFAULT_URL, tmp_path)
    run = store.start_run("training", "local", GIT1, T0)
    for address, ins, outs in (("pipeline.training.step.train", {}, {"output": MODEL}),
                               ("resource.local_model_server.api", {"model": MODEL}, {}),  # as apply records one
                               ("module.serve.resource.local_model_server.api", {"model": MODEL}, {})):
        store.record_execution(
            run, address=address, pipeline="training", step="", cache_key="", params={}, code_hash="",
            state="complete", started_at=T0, finished_at=T0, error=None, inputs=ins, outputs=outs,
        )
    [summary] = store.runs()
    assert (summary.steps_run, summary.steps_cached, summary.steps_failed) == (1, 0, 0)
    assert store.run_detail(run).summary.steps_run == 1
    assert len(store.run_detail(run).executions) == 3  # the deployments are still listed, with what they served


def test_bad_values_are_refused(tmp_path: Path) -> None:
    store = MetadataStore.from_url(DEFAULT_URL, tmp_path)
    run = store.start_run("p", "local", GIT1, T0)
    with pytest.raises(ValueError, match="execution state"):
        store.record_execution(
            run, address="a", pipeline="p", step="s", cache_key="k", params={}, code_hash="c",
            state="done", started_at=T0, finished_at=T0, error=None, inputs={}, outputs={},
        )
    with pytest.raises(ValueError, match="kind"):
        store.record_execution(
            run, address="a", pipeline="p", step="s", cache_key="k", params={}, code_hash="c",
            state="complete", started_at=T0, finished_at=T0, error=None, inputs={},
            outputs={"x": art("x", kind="weird")},
        )
    with pytest.raises(ValueError, match="run status"):
        store.finish_run(run, "ok", T0)
    with pytest.raises(DiagnosticError, match="no run 7"):
        store.record_execution(
            7, address="a", pipeline="p", step="s", cache_key="k", params={}, code_hash="c",
            state="complete", started_at=T0, finished_at=T0, error=None, inputs={}, outputs={},
        )


def test_unopenable_sqlite_path_is_a_diagnostic(tmp_path: Path) -> None:
    (tmp_path / "dir.db").mkdir()
    store = MetadataStore.from_url(f"sqlite:///{tmp_path}/dir.db", tmp_path)
    with pytest.raises(DiagnosticError, match="dir.db"):
        store.start_run("p", "local", GIT1, T0)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite:///.zplan/metadata.db", SqliteTarget(Path("/proj/.zplan/metadata.db"))),
        ("sqlite:////var/lib/m.db", SqliteTarget(Path("/var/lib/m.db"))),
        ("mysql://u:p%40ss@db.example:3307/meta", MySQLTarget("db.example", 3307, "meta", "u", "p@ss")),
        ("mysql://u@db/meta", MySQLTarget("db", 3306, "meta", "u", "from-env")),
        ("mysql://u@localhost/meta?socket=/run/m.sock",
         MySQLTarget("localhost", 3306, "meta", "u", "from-env", "/run/m.sock")),
    ],
)
def test_store_urls(url: str, expected, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZPLAN_MYSQL_PASSWORD", "from-env")
    target = parse_store_url(url, Path("/proj"))
    assert target == expected
    if isinstance(target, MySQLTarget):
        assert target.password not in target.describe() and target.password not in repr(target)


def test_password_argument_wins() -> None:
    target = parse_store_url("mysql://u:inurl@h/db", Path("."), password="given")
    assert target.password == "given"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("postgres://u@h/db", "unsupported metadata store URL"),
        ("sqlite://relative.db", "three slashes"),
        ("sqlite:///", "three slashes"),
        ("mysql://h/db", "no user name"),
        ("mysql://u@h/", "database name"),
        ("mysql://u@h/a;drop", "database name"),
        ("mysql://u@h:notaport/db", "bad MySQL URL"),
        ("mysql://u@h/db?ssl=1", "unknown option 'ssl'"),
        ("mysql://u@db.example/db?socket=/s", "needs the host 'localhost'"),
    ],
)
def test_bad_urls_name_the_url(url: str, message: str) -> None:
    with pytest.raises(DiagnosticError, match=message) as info:
        MetadataStore.from_url(url, Path("."))
    assert url.split("?")[0][:12] in str(info.value)


def test_password_is_redacted_in_errors() -> None:
    with pytest.raises(DiagnosticError) as info:
        MetadataStore.from_url("mysql://u:secret@h/", Path("."))
    assert "secret" not in str(info.value) and "***" in str(info.value)


def test_importing_does_not_load_ml_metadata() -> None:
    code = "import sys, zplan.metadata; print('ml_metadata' in sys.modules, 'pymysql' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_a_run_of_several_pipelines_is_listed_under_each(tmp_path: Path) -> None:
    store = MetadataStore.from_url(DEFAULT_URL, tmp_path)
    for pipeline in ("report,training", "training", "report", "a_b", "axb,other"):
        store.start_run(pipeline, "local", GIT1, T0)  # runs 1 to 5; an apply joins its pipelines by commas
    assert [r.number for r in store.runs(pipeline="training")] == [2, 1]
    assert [r.number for r in store.runs(pipeline="report")] == [3, 1]
    assert [r.number for r in store.runs(pipeline="other")] == [5]
    assert [r.number for r in store.runs(1, pipeline="a_b")] == [4]  # "_" is no wildcard: run 5 is not one of a_b
    assert store.runs(pipeline="repo") == [] and store.runs(pipeline="port") == []


def test_a_run_of_a_new_pipeline_is_made_with_it_and_one_made_meanwhile_elsewhere_is_joined(tmp_path: Path, monkeypatch) -> None:
    first = MetadataStore.from_url(DEFAULT_URL, tmp_path)
    other = MetadataStore.from_url(DEFAULT_URL, tmp_path)
    first.open_for_writing()
    other.open_for_writing()
    looked = []
    real = type(first)._existing_pipeline_id

    def stale_first_look(self, pipeline):  # `first` looks before `other` makes the pipeline
        looked.append(pipeline)
        return None if len(looked) == 1 else real(self, pipeline)

    assert other.start_run("training", "local", GIT1, T0) == 1
    monkeypatch.setattr(type(first), "_existing_pipeline_id", stale_first_look)
    assert first.start_run("training", "local", GIT1, T0 + 1) == 2  # its pipeline and run collided: tried again
    db = tmp_path / ".zplan" / "metadata.db"
    with sqlite3.connect(db) as conn:
        parents = conn.execute("SELECT DISTINCT parent_context_id FROM ParentContext").fetchall()
    assert _count(db, "Context") == 3 and len(parents) == 1  # one pipeline, both runs under it
