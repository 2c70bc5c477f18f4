"""``local_sqlite_database``: a SQLite file, optionally seeded by a SQL script."""

from __future__ import annotations

import contextlib
import os
import re
import sqlite3
import uuid
from pathlib import Path
from typing import Any, Iterator, Mapping

from zplan.provider import Attribute, ProviderError, ResourceSchema

from .base import LocalResource, known, path_problem

JOURNAL_MODES = ("wal", "delete", "truncate", "persist")  # modes that live on disk
SIDE_FILES = ("-wal", "-shm", "-journal")
HEADER = b"SQLite format 3\x00"
# A script that manages its own transaction is run as written.
OWN_TRANSACTION = re.compile(r"^\s*(BEGIN|COMMIT|END|ROLLBACK)\b", re.IGNORECASE | re.MULTILINE)


class LocalSqliteDatabase(LocalResource):
    schema = ResourceSchema(
        "local_sqlite_database",
        {
            "path": Attribute("string", required=True, force_new=True, description="relative to the project folder unless absolute"),
            "init_sql": Attribute("string", optional=True, description="run on create, and again whenever it changes"),
            "journal_mode": Attribute("string", optional=True, computed=True, description='"wal" or "delete"'),
            "id": Attribute("string", computed=True, description="absolute path"),
            "url": Attribute("string", computed=True, description="sqlite:///ABSOLUTE/PATH"),
        },
        description="A SQLite database file.",
    )

    def check(self, inputs: Mapping[str, Any]) -> list[str]:
        errors = [p for p in [path_problem(inputs.get("path"))] if p]
        sql = inputs.get("init_sql")
        if known(sql) and sql is not None:
            if not isinstance(sql, str):
                errors.append("init_sql must be a string")
            elif sql.strip() and not sqlite3.complete_statement(sql):
                errors.append("init_sql does not end with a complete SQL statement (missing ';'?)")
        mode = inputs.get("journal_mode")
        if known(mode) and mode is not None and mode not in JOURNAL_MODES:
            errors.append(f"journal_mode must be one of {', '.join(JOURNAL_MODES)}, got {mode!r}")
        return errors

    def create(self, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
        s = self.settings(inputs)
        path = self.resolve(s["path"])
        if path.exists():
            raise ProviderError(f"{path} already exists; import it or choose another path")
        path.parent.mkdir(parents=True, exist_ok=True)
        # Built under a temporary name so a failing script leaves nothing behind.
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
        try:
            with _connect(tmp, create=True) as conn:
                mode = _set_journal_mode(conn, s["journal_mode"])
                _run_script(conn, s["init_sql"], path)
            os.replace(tmp, path)
        finally:
            _remove(tmp)
        return {**s, "journal_mode": mode, "id": str(path), "url": f"sqlite:///{path}"}

    def read(self, attrs: Mapping[str, Any]) -> dict[str, Any] | None:
        path = self.located(attrs)
        if not path.is_file():
            return None
        return {**attrs, "journal_mode": _observed_journal(path, attrs.get("journal_mode")), "id": str(path), "url": f"sqlite:///{path}"}

    def update(self, before: Mapping[str, Any], inputs: Mapping[str, Any]) -> dict[str, Any]:
        s = self.settings(inputs)
        path = self.located(before)
        if not path.is_file():
            raise ProviderError(f"database {path} no longer exists; plan again to recreate it")
        mode = _observed_journal(path, before.get("journal_mode"))  # on disk: it may have drifted from the record
        with _connect(path, create=False) as conn:
            if s["journal_mode"] and s["journal_mode"] != mode:
                mode = _set_journal_mode(conn, s["journal_mode"])
            if s["init_sql"] != before.get("init_sql"):
                _run_script(conn, s["init_sql"], path)
        return {**before, **s, "journal_mode": mode, "id": str(path), "url": f"sqlite:///{path}"}

    def delete(self, attrs: Mapping[str, Any]) -> None:
        _remove(self.located(attrs))

    def import_(self, id_: str) -> dict[str, Any]:
        path = self.resolve(id_)
        if not path.is_file():
            raise ProviderError(f"no database file at {path}")
        if _header_journal(path) is None and path.stat().st_size:
            raise ProviderError(f"{path} is not a SQLite database")
        return {
            "path": id_,
            "init_sql": None,
            "journal_mode": _observed_journal(path, None),
            "id": str(path),
            "url": f"sqlite:///{path}",
        }


@contextlib.contextmanager
def _connect(path: Path, create: bool) -> Iterator[sqlite3.Connection]:
    # mode=rw never creates: an update must not conjure an empty database.
    uri = f"{path.as_uri()}?mode={'rwc' if create else 'rw'}"
    try:
        conn = sqlite3.connect(uri, uri=True, isolation_level=None)
    except sqlite3.Error as exc:
        raise ProviderError(f"cannot open database {path}: {exc}") from exc
    try:
        yield conn
    finally:
        conn.close()


def _set_journal_mode(conn: sqlite3.Connection, mode: str | None) -> str:
    if mode is None:
        return conn.execute("PRAGMA journal_mode").fetchone()[0]
    if mode not in JOURNAL_MODES:  # checked offline too; never interpolate anything else
        raise ProviderError(f"journal_mode must be one of {', '.join(JOURNAL_MODES)}, got {mode!r}")
    got = conn.execute(f"PRAGMA journal_mode={mode}").fetchone()[0]
    if got != mode:
        raise ProviderError(f"SQLite refused journal_mode={mode} (it stayed {got})")
    return got


def _run_script(conn: sqlite3.Connection, sql: str | None, path: Path) -> None:
    """Run the whole script or none of it."""
    if not sql or not sql.strip():
        return
    script = sql if OWN_TRANSACTION.search(sql) else f"BEGIN;\n{sql}\n;\nCOMMIT;"
    try:
        conn.executescript(script)
    except sqlite3.Error as exc:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise ProviderError(f"init_sql failed on {path}: {exc}") from exc


def _header_journal(path: Path) -> str | None:
    """"wal" or "rollback" from the file header (bytes 18-19), None if not SQLite."""
    with open(path, "rb") as f:
        head = f.read(20)
    if len(head) < 20 or head[:16] != HEADER:
        return None
    return "wal" if head[18] == 2 else "rollback"


def _observed_journal(path: Path, recorded: str | None) -> str | None:
    """The header tells WAL from rollback modes only, so keep the recorded rollback flavour."""
    actual = _header_journal(path)
    if actual == "wal":
        return "wal"
    if recorded == "wal" or (recorded is None and actual == "rollback"):
        return "delete"
    return recorded


def _remove(path: Path) -> None:
    for suffix in ("", *SIDE_FILES):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
