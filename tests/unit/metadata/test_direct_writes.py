"""A SQLite store written with plain SQL (``zplan.metadata.direct``) holds the rows ML Metadata's library
would write for the same records, table by table, and reads back the same through the library."""

from __future__ import annotations

import sqlite3

import pytest

from zplan.diags import DiagnosticError
from zplan.metadata import ArtifactRecord, MetadataStore, direct
from zplan.metadata.connection import _mlmd
from zplan.processes import ProcessId

from .scenario import DATA, GIT1, MODEL, SNAP, T0, art, check_two_runs, record_two_runs

# the columns ML Metadata fills with the time of the write, which differ between two stores
_TIMES = {"create_time_since_epoch", "last_update_time_since_epoch", "milliseconds_since_epoch"}
_LINKS = {"Association", "Attribution"}  # a link's own id only orders it (the library's order follows its hash sets)


def _stores(tmp_path) -> tuple[MetadataStore, MetadataStore]:
    """The same empty store twice: one written by zplan's SQL, one by ML Metadata's library."""
    by_sql = MetadataStore.from_url("sqlite:///sql/m.db", tmp_path)
    by_library = MetadataStore.from_url("sqlite:///library/m.db", tmp_path)
    by_library._direct = False
    return by_sql, by_library


def _tables(path) -> dict[str, list[tuple]]:
    conn = sqlite3.connect(path)
    try:
        names = [n for (n,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name != 'sqlite_sequence'")]
        tables = {}
        for name in names:
            columns = [c[1] for c in conn.execute(f"PRAGMA table_info({name})")]
            rows = conn.execute(f"SELECT * FROM {name}").fetchall()
            skip = _TIMES | ({"id"} if name in _LINKS else set())
            tables[name] = sorted(tuple(v for c, v in zip(columns, row) if c not in skip) for row in rows)
        tables["sqlite_sequence"] = sorted(conn.execute("SELECT * FROM sqlite_sequence"))
        return tables
    finally:
        conn.close()


def _record_everything(store: MetadataStore) -> None:
    """Two runs through every kind of row: shared and reused artifacts, every state and property."""
    record_two_runs(store)
    run = store.start_run("serving", "local", GIT1, T0 + 200)
    bare_model = ArtifactRecord(digest=MODEL.digest, uri=MODEL.uri, materializer="", materializer_version="", type_name="")
    store.record_executions(run, [
        dict(address="pipeline.serving.step.a", pipeline="serving", step="a", cache_key="k", params={"x": [1, 2]},
             code_hash="c", state="complete", started_at=T0 + 201, finished_at=T0 + 202, error=None,
             inputs={"one": DATA, "two": DATA, "snap": SNAP}, outputs={"out": art("new")},
             metadata={"rows": 3}, sensitive_outputs=True),
        dict(address="pipeline.serving.step.b", pipeline="serving", step="b", cache_key="k2", params={},
             code_hash="c2", state="cached", started_at=T0 + 203, finished_at=T0 + 203, error=None,
             inputs={"model": bare_model}, outputs={"out": art("new")}, cached_from=1),
        dict(address="pipeline.serving.step.c", pipeline="serving", step="c", cache_key="k3", params={},
             code_hash="c3", state="cancelled", started_at=T0 + 204, finished_at=T0 + 205, error="stopped",
             inputs={}, outputs={"moved": ArtifactRecord(**{**vars(DATA), "uri": "file://elsewhere"})}),
    ])
    store.finish_run(run, "failed", T0 + 210, skipped={"pipeline.serving.step.d": ["pipeline.serving.step.c"]})


def test_the_same_records_make_the_same_rows(tmp_path):
    by_sql, by_library = _stores(tmp_path)
    for store in (by_sql, by_library):
        _record_everything(store)
        store.close()
    assert by_sql._direct and not by_library._direct
    assert _tables(tmp_path / "sql/m.db") == _tables(tmp_path / "library/m.db")


def test_what_is_written_with_sql_reads_back_through_ml_metadata(tmp_path):
    store = MetadataStore.from_url("sqlite:///m.db", tmp_path)
    r1, r2 = record_two_runs(store)
    assert store._direct  # (written with SQL)
    check_two_runs(store, r1, r2)
    check_two_runs(MetadataStore.from_url("sqlite:///m.db", tmp_path), r1, r2)  # (a new reader)


def test_a_store_of_an_older_zplan_gets_its_types_from_ml_metadata_then_is_written_with_sql(tmp_path):
    store = MetadataStore.from_url("sqlite:///m.db", tmp_path)
    store.open_for_writing()
    conn = sqlite3.connect(tmp_path / "m.db")
    conn.execute("DELETE FROM TypeProperty WHERE name = 'reasons'")  # as a zplan before recorded reasons made it
    conn.commit()
    conn.close()
    assert direct.usable_types(tmp_path / "m.db") is None
    again = MetadataStore.from_url("sqlite:///m.db", tmp_path)
    r1, r2 = record_two_runs(again)
    assert again._direct
    check_two_runs(again, r1, r2)


def test_another_schema_version_is_left_to_ml_metadata(tmp_path):
    store = MetadataStore.from_url("sqlite:///m.db", tmp_path)
    store.open_for_writing()
    conn = sqlite3.connect(tmp_path / "m.db")
    conn.execute("UPDATE MLMDEnv SET schema_version = ?", (direct.SCHEMA_VERSION + 1,))
    conn.commit()
    conn.close()
    assert direct.usable_types(tmp_path / "m.db") is None


def test_a_write_that_fails_halfway_leaves_nothing_and_names_the_store(tmp_path, monkeypatch):
    store = MetadataStore.from_url("sqlite:///m.db", tmp_path)
    run = store.start_run("training", "local", GIT1, T0)
    before = _tables(tmp_path / "m.db")
    real = direct._next_ids
    monkeypatch.setattr(direct, "_next_ids", lambda conn, table, n: [1] * n if table == "Event" else real(conn, table, n))
    with pytest.raises(DiagnosticError, match=r"metadata store .*m\.db.*UNIQUE constraint failed"):
        store.record_executions(run, [dict(
            address="pipeline.training.step.load", pipeline="training", step="load", cache_key="k", params={},
            code_hash="c", state="complete", started_at=T0, finished_at=T0 + 1, error=None,
            inputs={"path": SNAP}, outputs={"a": DATA, "b": MODEL})])
    assert _tables(tmp_path / "m.db") == before


def test_a_killed_applys_run_is_closed_by_the_next(tmp_path):
    store = MetadataStore.from_url("sqlite:///m.db", tmp_path)
    gone = ProcessId(ProcessId.current().host, 2**22 + 12345, 1)  # no such process
    run = store.start_run("training", "local", GIT1, T0, owner=gone)
    mine = store.start_run("training", "local", GIT1, T0 + 1)
    assert [r.number for r in store.runs()] == [mine, run]
    assert {r.number: r.status for r in store.runs()} == {mine: "running", run: "interrupted"}
    assert MetadataStore.from_url("sqlite:///m.db", tmp_path).close_stale_runs(T0 + 2) == []  # (closed by start_run)


def test_the_enum_values_are_ml_metadatas():
    pb = _mlmd().pb
    assert direct.EXECUTION_STATES == {"complete": pb.Execution.COMPLETE, "failed": pb.Execution.FAILED,
                                       "cached": pb.Execution.CACHED, "cancelled": pb.Execution.CANCELED}
    assert (direct.ARTIFACT_LIVE, direct.EVENT_INPUT, direct.EVENT_OUTPUT) == (pb.Artifact.LIVE, pb.Event.INPUT, pb.Event.OUTPUT)
    assert direct.PROPERTY_TYPES == {k: pb.PropertyType.Value(k) for k in ("INT", "DOUBLE", "STRING", "BOOLEAN")}


def test_applies_starting_runs_at_once_get_a_number_each(tmp_path):
    import concurrent.futures

    MetadataStore.from_url("sqlite:///m.db", tmp_path).open_for_writing()

    def start_runs(_: int) -> list[int]:
        store = MetadataStore.from_url("sqlite:///m.db", tmp_path)  # (each apply its own connection)
        return [store.start_run("training", "local", GIT1, T0) for _ in range(5)]

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        numbers = [n for batch in pool.map(start_runs, range(8)) for n in batch]
    assert sorted(numbers) == list(range(1, 41))
    assert sorted(r.number for r in MetadataStore.from_url("sqlite:///m.db", tmp_path).runs(limit=100)) == list(range(1, 41))
