"""A run whose apply was killed is closed as interrupted by the next command; a store left
mid-transaction by a killed writer is read again, never called damaged."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

from zplan.metadata import MetadataStore
from zplan.metadata.connection import _sqlite_has_table

from .scenario import GIT1, T0

URL = "sqlite:///.zplan/metadata.db"


def _start_run_in_a_process_that_dies(root: Path) -> int:
    """A run started by a process killed before finishing it (as `kill -9` of apply)."""
    code = textwrap.dedent(f"""
        import os
        from pathlib import Path
        from zplan.metadata import MetadataStore
        from zplan.metadata.records import GitInfo
        store = MetadataStore.from_url({URL!r}, Path({str(root)!r}))
        print(store.start_run("p", "local", GitInfo(None, None, None), {T0}), flush=True)
        os._exit(9)
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    return int(done.stdout)


def test_the_run_of_a_killed_apply_is_closed_as_interrupted(tmp_path):
    killed = _start_run_in_a_process_that_dies(tmp_path)
    store = MetadataStore.from_url(URL, tmp_path)
    assert [r.status for r in store.runs()] == ["interrupted"]  # read so before a write records it
    mine = store.start_run("p", "local", GIT1, T0 + 10)  # closes the stale run first
    assert {r.number: r.status for r in store.runs()} == {killed: "interrupted", mine: "running"}
    assert store.close_stale_runs(T0 + 20) == [], "a run whose process is alive stays running"
    store.finish_run(mine, "interrupted", T0 + 30)
    assert {r.number: r.status for r in store.runs()} == {killed: "interrupted", mine: "interrupted"}
    store.close()


def test_runs_of_other_hosts_are_left_alone(tmp_path):
    store = MetadataStore.from_url(URL, tmp_path)
    run = store.start_run("p", "local", GIT1, T0)
    store.close()
    with sqlite3.connect(tmp_path / ".zplan" / "metadata.db") as conn:  # as if another machine wrote it
        conn.execute("UPDATE ContextProperty SET string_value = 'elsewhere' WHERE name = 'host'")
        conn.execute("UPDATE ContextProperty SET int_value = 1 WHERE name = 'pid'")
    store = MetadataStore.from_url(URL, tmp_path)
    assert store.close_stale_runs(T0 + 5) == []
    assert [r.status for r in store.runs()] == ["running"]
    assert run == 1
    store.close()


def test_a_hot_journal_left_by_a_killed_writer_is_rolled_back_not_called_damaged(tmp_path):
    store = MetadataStore.from_url(URL, tmp_path)
    store.start_run("p", "local", GIT1, T0)
    store.close()
    db = tmp_path / ".zplan" / "metadata.db"
    code = textwrap.dedent(f"""
        import os, sqlite3
        conn = sqlite3.connect({str(db)!r}, isolation_level=None)
        conn.execute("PRAGMA cache_size = 1")  # pages spill to the file: the journal becomes hot
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("CREATE TABLE filler (x BLOB)")
        for _ in range(200):
            conn.execute("INSERT INTO filler VALUES (randomblob(4096))")
        os._exit(9)
    """)
    subprocess.run([sys.executable, "-c", code], check=False)
    assert db.with_name("metadata.db-journal").exists()
    assert _sqlite_has_table(db, "MLMDEnv")
    store = MetadataStore.from_url(URL, tmp_path)
    assert [r.number for r in store.runs()] == [1]
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT name FROM sqlite_master WHERE name = 'filler'").fetchone() is None
    store.close()
    assert os.path.exists(db)


def test_a_reader_that_writes_nothing_shows_the_run_of_a_killed_apply_as_interrupted(tmp_path):
    """The read API and the dashboard write nothing, so the run of a killed apply was `running` there (and
    in `-status running` filters) until a command that writes closed it, while `zplan runs` said `interrupted`."""
    import zplan

    killed = _start_run_in_a_process_that_dies(tmp_path)
    (tmp_path / "main.zp.hcl").write_text('pipeline "p" {\n  step "s" {\n    source = "s.py:s"\n  }\n}\n')
    project = zplan.open(tmp_path)
    assert [(r.number, r.status) for r in project.runs()] == [(killed, "interrupted")]
    assert project.run(killed).summary.status == "interrupted"
    assert [r.number for r in project.runs(status="interrupted")] == [killed]
    assert project.runs(status="running") == []
    with sqlite3.connect(tmp_path / ".zplan" / "metadata.db") as conn:  # as read, not written
        assert conn.execute("SELECT string_value FROM ContextProperty WHERE name = 'status'").fetchall() == [("running",)]
