from __future__ import annotations

import sqlite3
from contextlib import closing

import pytest

from zplan.provider import ProviderError, ResourceChange

T = "local_sqlite_database"
SCHEMA = "CREATE TABLE runs (id INTEGER PRIMARY KEY, name TEXT);\nINSERT INTO runs (name) VALUES ('first');"


def rows(path, sql="SELECT name FROM runs ORDER BY id"):
    with closing(sqlite3.connect(path)) as conn:
        return [r[0] for r in conn.execute(sql)]


def test_create_runs_init_sql_in_wal_mode(provider, project):
    attrs = provider.create(T, "db", {"path": "db/meta.db", "init_sql": SCHEMA, "journal_mode": "wal"})
    path = project / "db/meta.db"
    assert attrs["id"] == str(path) and attrs["url"] == f"sqlite:///{path}"
    assert attrs["journal_mode"] == "wal"
    assert rows(path) == ["first"]
    with closing(sqlite3.connect(path)) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert sorted(p.name for p in path.parent.iterdir()) == ["meta.db"]  # no temp files left
    assert provider.read(T, attrs) == attrs


def test_default_journal_mode_is_recorded(provider, project):
    attrs = provider.create(T, "db", {"path": "plain.db"})
    assert attrs["journal_mode"] == "delete" and attrs["init_sql"] is None
    assert provider.read(T, attrs)["journal_mode"] == "delete"


def test_changed_init_sql_runs_in_place(provider, project):
    attrs = provider.create(T, "db", {"path": "m.db", "init_sql": SCHEMA})
    new_sql = SCHEMA.replace("CREATE TABLE", "CREATE TABLE IF NOT EXISTS").replace("'first'", "'second'")
    updated = provider.update(T, attrs, {"path": "m.db", "init_sql": new_sql, "journal_mode": "wal"})
    assert rows(project / "m.db") == ["first", "second"]  # same file, data kept
    assert updated["init_sql"] == new_sql and updated["journal_mode"] == "wal"
    assert provider.read(T, updated)["journal_mode"] == "wal"


def test_an_update_puts_back_a_journal_mode_changed_outside_zplan(provider, project):
    attrs = provider.create(T, "db", {"path": "m.db", "init_sql": SCHEMA, "journal_mode": "wal"})
    with closing(sqlite3.connect(project / "m.db")) as conn:
        conn.execute("PRAGMA journal_mode=delete")
    drifted = provider.read(T, attrs)
    assert drifted["journal_mode"] == "delete"  # the plan shows the drift ...
    updated = provider.update(T, attrs, {"path": "m.db", "init_sql": SCHEMA, "journal_mode": "wal"})
    assert provider.read(T, updated)["journal_mode"] == "wal"  # ... and the update puts it back


def test_failing_script_leaves_nothing_behind(provider, project):
    bad = "CREATE TABLE t (x);\nINSERT INTO nowhere VALUES (1);"
    with pytest.raises(ProviderError, match="init_sql failed.*no such table: nowhere"):
        provider.create(T, "db", {"path": "bad.db", "init_sql": bad})
    assert list(project.iterdir()) == []


def test_failing_update_is_rolled_back(provider, project):
    attrs = provider.create(T, "db", {"path": "m.db", "init_sql": SCHEMA})
    bad = "INSERT INTO runs (name) VALUES ('half');\nINSERT INTO nowhere VALUES (1);"
    with pytest.raises(ProviderError, match="no such table"):
        provider.update(T, attrs, {"path": "m.db", "init_sql": bad})
    assert rows(project / "m.db") == ["first"]


def test_update_of_a_vanished_file_does_not_create_an_empty_one(provider, project):
    attrs = provider.create(T, "db", {"path": "m.db", "init_sql": SCHEMA})
    (project / "m.db").unlink()
    assert provider.read(T, attrs) is None
    with pytest.raises(ProviderError, match="no longer exists"):
        provider.update(T, attrs, {"path": "m.db", "init_sql": SCHEMA + "\nSELECT 1;"})
    assert not (project / "m.db").exists()


def test_replace_and_delete_remove_side_files(provider, project):
    attrs = provider.create(T, "db", {"path": "a.db", "init_sql": SCHEMA, "journal_mode": "wal"})
    holder = sqlite3.connect(project / "a.db")  # an open reader keeps -wal and -shm on disk
    holder.execute("SELECT * FROM runs").fetchall()
    assert (project / "a.db-wal").exists()
    holder.close()
    (project / "a.db-wal").write_bytes(b"")  # leave side files as a crashed writer would
    (project / "a.db-shm").write_bytes(b"")
    change = ResourceChange("resource.local_sqlite_database.db", T, "db", "replace", attrs, {"path": "b.db", "init_sql": SCHEMA})
    result = provider.apply_one(change)
    assert result.ok, result.error
    assert sorted(p.name for p in project.iterdir()) == ["b.db"]
    provider.delete(T, result.attributes)
    assert list(project.iterdir()) == []


def test_existing_file_is_refused_but_can_be_imported(provider, project):
    with closing(sqlite3.connect(project / "old.db")) as conn:
        conn.execute("CREATE TABLE t (x)")
    with pytest.raises(ProviderError, match="already exists; import it"):
        provider.create(T, "db", {"path": "old.db"})
    attrs = provider.import_resource(T, "old.db")
    assert attrs == {
        "path": "old.db",
        "init_sql": None,
        "journal_mode": "delete",
        "id": str(project / "old.db"),
        "url": f"sqlite:///{project / 'old.db'}",
    }
    (project / "notdb").write_text("hello, this is plainly not a database file")
    with pytest.raises(ProviderError, match="not a SQLite database"):
        provider.import_resource(T, "notdb")


def test_check(provider):
    assert provider.check(T, {"path": "a.db", "init_sql": SCHEMA, "journal_mode": "wal"}) == []
    errors = provider.check(T, {"path": "a.db", "init_sql": "CREATE TABLE t (x)", "journal_mode": "off"})
    assert errors == [
        "init_sql does not end with a complete SQL statement (missing ';'?)",
        "journal_mode must be one of wal, delete, truncate, persist, got 'off'",
    ]
