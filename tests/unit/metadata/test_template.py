"""A new SQLite metadata store starts as a copy of an empty one this zplan made (zplan.metadata.template)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from .scenario import check_two_runs, record_two_runs
from zplan.metadata import MetadataStore, template
from zplan.metadata.connection import _mlmd


@pytest.fixture
def kept(tmp_path, monkeypatch) -> Path:
    """The copy to start from, kept in the test's folder instead of zplan's own."""
    where = tmp_path / "pycache" / "mlmd-empty.sqlite"
    monkeypatch.setattr(template, "_template", lambda version: where)
    return where


def _tables(db: Path) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT type, name, sql FROM sqlite_master ORDER BY name").fetchall()


def test_the_first_store_made_is_kept_empty_and_the_next_starts_from_it(tmp_path, kept):
    first = MetadataStore.from_url("sqlite:///one/m.db", tmp_path)
    record_two_runs(first)  # written after the copy was kept: the copy stays empty
    assert kept.is_file() and not template._holds_records(kept)

    second = MetadataStore.from_url("sqlite:///two/m.db", tmp_path)
    assert second.runs() == []
    r1, r2 = record_two_runs(second)
    check_two_runs(second, r1, r2)
    assert _tables(tmp_path / "two/m.db") == _tables(tmp_path / "one/m.db")  # the same schema MLMD makes


def test_a_store_is_never_placed_over_an_existing_file(tmp_path, kept):
    MetadataStore.from_url("sqlite:///one/m.db", tmp_path).open_for_writing()
    there = tmp_path / "there.db"
    there.write_bytes(b"somebody's file")
    assert template.place(there, _mlmd().version)
    assert there.read_bytes() == b"somebody's file"
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_a_store_holding_a_run_is_never_kept(tmp_path, kept):
    kept.parent.mkdir()
    kept.write_bytes(b"")
    record_two_runs(MetadataStore.from_url("sqlite:///one/m.db", tmp_path))  # (made from nothing: the copy was empty)
    kept.unlink()
    template.keep(tmp_path / "one/m.db", _mlmd().version)  # as if another apply had written its run meanwhile
    assert list(kept.parent.iterdir()) == []


def test_without_a_writable_folder_stores_are_made_as_before(tmp_path, monkeypatch):
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    monkeypatch.setattr(template, "_template", lambda version: blocked / "mlmd-empty.sqlite")
    for name in ("one", "two"):
        store = MetadataStore.from_url(f"sqlite:///{name}/m.db", tmp_path)
        r1, r2 = record_two_runs(store)
        check_two_runs(store, r1, r2)


def test_where_the_copy_cannot_be_placed_the_store_is_made_as_before(tmp_path, kept, monkeypatch):
    MetadataStore.from_url("sqlite:///one/m.db", tmp_path).open_for_writing()

    def no_links(src, dst):
        raise PermissionError(1, "Operation not permitted")  # as on a file system without hard links

    monkeypatch.setattr(template.os, "link", no_links)
    store = MetadataStore.from_url("sqlite:///two/m.db", tmp_path)
    r1, r2 = record_two_runs(store)
    check_two_runs(store, r1, r2)
    assert sorted(p.name for p in (tmp_path / "two").iterdir()) == ["m.db"]  # no copy left behind
