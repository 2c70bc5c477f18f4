"""State in a MySQL-compatible server (MySQL, MariaDB, Cloud SQL): one truth for a team.

The document lives in ``zplan_state`` (one row per workspace, replaced in one
transaction). The lock is the server's named lock ``GET_LOCK``, held on a
connection kept open for the whole operation: when the holder dies, even on
another machine, its connection closes and the server frees the lock by itself.
Who holds it is written to ``zplan_lock`` together with the holder's
``CONNECTION_ID()``; that row only counts while the named lock is really held by
that connection, so a row a dead holder left behind is reported as stale.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from dataclasses import asdict
from typing import Iterator

from zplan.diags import DiagnosticError, fail
from zplan.hashing import hash_text
from zplan.metadata.urls import import_pymysql, parse_mysql_url
from zplan.state.backend import LockInfo, StaleCallback, StateLockedError, StateNotStored, WaitCallback
from zplan.state.checks import dump_document, parse_document

_TABLES = {  # name -> how it is made
    "zplan_state": """CREATE TABLE IF NOT EXISTS zplan_state (
         workspace VARCHAR(255) NOT NULL PRIMARY KEY,
         doc LONGTEXT NOT NULL,
         updated_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)
       ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4""",
    "zplan_lock": """CREATE TABLE IF NOT EXISTS zplan_lock (
         workspace VARCHAR(255) NOT NULL PRIMARY KEY,
         info TEXT NOT NULL,
         connection_id BIGINT UNSIGNED NOT NULL,
         created_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)
       ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4""",
}
_ER_NO_SUCH_TABLE = 1146
_ER_NO_SUCH_THREAD = 1094
_ER_NOT_OWNER = 1095  # KILL of another user's connection
_ER_DENIED = (1044, 1142)  # access denied to a database, a command denied on a table
_LOCK_NAME_MAX = 64  # the server's limit on GET_LOCK names
_IDLE_SECONDS = 31_536_000  # the longest wait_timeout: a long apply must not lose its lock


class MySQLBackend:
    """The ``StateBackend`` protocol on a MySQL-compatible server, through pymysql."""

    lock_wait_timeout = 10  # seconds a write waits for a row another transaction holds

    def __init__(self, url: str, workspace: str = "default", password: str | None = None) -> None:
        if not workspace or len(workspace) > 255:
            raise fail(f"bad workspace name {workspace!r}", "use 1 to 255 characters")
        self.target = parse_mysql_url(url, password)
        self.workspace = workspace
        self._tables_ready = False
        self._held = None  # the connection holding the lock, while this backend holds it
        self._held_guard = threading.Lock()  # (an apply writes from several threads)

    def describe(self) -> str:
        return f"{self.target.describe()} (workspace {self.workspace})"

    @property
    def lock_name(self) -> str:
        # Named locks are server-wide: the database is part of the name so two projects
        # sharing a server do not block each other.
        name = f"zplan:{self.target.database}:{self.workspace}"
        if len(name) <= _LOCK_NAME_MAX:
            return name
        return "zplan:" + hash_text(f"{self.target.database}\0{self.workspace}")

    # -- the document ---------------------------------------------------------

    def read(self) -> dict | None:
        with self._existing() as conn:
            if conn is None:
                return None
            row = self._query_one(conn, "SELECT doc FROM zplan_state WHERE workspace = %s")
        if not row:
            return None
        return parse_document(
            row[0], f"state in {self.describe()} (table zplan_state)",
            "restore that row from a database backup; delete it only if nothing was ever applied: "
            "zplan would forget every resource it manages",
        )

    def write(self, doc: dict) -> None:
        """Replace the document in one transaction. A write the server refuses, or a server out of
        reach, is ``StateNotStored``: an apply then stops and keeps what it could not record."""
        text = dump_document(doc, indent=1)  # before connecting: a bad doc writes nothing
        try:
            self._check_still_held()
        except DiagnosticError as exc:
            raise StateNotStored(self.describe(), exc, "find out which command took the state lock since (a command waiting for it names "
                                                       "its holder), and let it end: what it wrote must not be overwritten") from None
        try:
            self._store(text)
        except DiagnosticError as exc:
            raise StateNotStored(self.describe(), exc,
                                 f"make {self.target.describe()} take writes again (check that the server runs and answers, "
                                 f"that {self.target.user} may write in table zplan_state, and that no other client holds its row)") from None

    def _store(self, text: str) -> None:
        with self._created() as conn, self._errors():
            try:
                with conn.cursor() as cur:
                    cur.execute("SET SESSION innodb_lock_wait_timeout = %s", (int(self.lock_wait_timeout),))
                    cur.execute(
                        "INSERT INTO zplan_state (workspace, doc) VALUES (%s, %s) "
                        "ON DUPLICATE KEY UPDATE doc = VALUES(doc), updated_at = CURRENT_TIMESTAMP(6)",
                        (self.workspace, text),
                    )
                conn.commit()
            except BaseException:
                conn.rollback()
                raise

    # -- the lock -------------------------------------------------------------

    def current_lock(self) -> LockInfo | None:
        with self._existing() as conn:
            return self._holder(conn) if conn else None

    @contextlib.contextmanager
    def lock(
        self,
        operation: str,
        timeout: float = 0.0,
        on_wait: WaitCallback | None = None,
        on_stale: StaleCallback | None = None,
    ) -> Iterator[LockInfo]:
        with self._created(autocommit=True) as conn:
            with self._errors():
                with conn.cursor() as cur:
                    cur.execute("SET SESSION wait_timeout = %s", (_IDLE_SECONDS,))
                self._acquire(conn, timeout, on_wait)
            try:
                with self._errors():
                    info = self._take_over(conn, operation, on_stale)
                self._held = conn
                yield info
            finally:
                self._held = None
                self._release(conn)

    def force_unlock(self, lock_id: str) -> None:
        """End the holder's connection if it is still there (the server then frees the lock),
        and clear the holder info. Raises KeyError when ``lock_id`` is not the recorded lock."""
        with self._existing() as conn:
            row = self._lock_row(conn) if conn is not None else None
            if row is None or row[0].id != lock_id:
                raise KeyError(lock_id)
            info, holder_conn = row
            if self._used_by(conn) == holder_conn:
                self._kill(conn, holder_conn)
            with conn.cursor() as cur:
                cur.execute(
                    "DELETE FROM zplan_lock WHERE workspace = %s AND connection_id = %s",
                    (self.workspace, holder_conn),
                )
            conn.commit()

    # -- lock helpers ---------------------------------------------------------

    def _check_still_held(self) -> None:
        """A write under the lock is refused once the lock is gone: the server frees it with its
        connection (a restart, a network cut, a failover, a force-unlock), and another command may
        hold it now, which this write would overwrite. (Refused, the state this write holds is kept
        in the recovery file as for any refused write.)"""
        pymysql = import_pymysql()
        with self._held_guard:
            if self._held is None:
                return  # (a write not under a lock of this backend)
            try:
                with self._held.cursor() as cur:
                    cur.execute("SELECT IS_USED_LOCK(%s) = CONNECTION_ID()", (self.lock_name,))
                    held = cur.fetchone()[0] == 1
            except pymysql.err.MySQLError:
                held = False
        if not held:
            raise fail(f"state backend {self.describe()}: the state lock was lost (the server ended the connection holding it: "
                       "a restart, a network cut, a failover, or a force-unlock), and another command may hold it now")

    def _acquire(self, conn, timeout: float, on_wait: WaitCallback | None) -> None:
        deadline = time.monotonic() + timeout
        if self._get_lock(conn, 0):
            return
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise StateLockedError(self._holder_soon(conn), timeout)
            if on_wait is not None:
                on_wait(self._holder(conn), left)
            # Waiting inside GET_LOCK returns the moment the lock is freed; at most a
            # second at a time so on_wait hears about it about once a second.
            if self._get_lock(conn, min(1.0, left)):
                return

    def _holder_soon(self, conn) -> LockInfo | None:
        """The holder's info; a holder that has just taken the lock writes it a moment later."""
        for _ in range(20):
            holder = self._holder(conn)
            if holder is not None:
                return holder
            time.sleep(0.05)
        return None

    def _get_lock(self, conn, seconds: float) -> bool:
        with conn.cursor() as cur:
            cur.execute("SELECT GET_LOCK(%s, %s)", (self.lock_name, seconds))
            return cur.fetchone()[0] == 1

    def _take_over(self, conn, operation: str, on_stale: StaleCallback | None) -> LockInfo:
        # We hold the named lock, so any row still here was left by a holder that died.
        previous = self._lock_row(conn)
        if previous is not None and on_stale is not None:
            on_stale(previous[0])
        info = LockInfo.new(operation)
        with conn.cursor() as cur:
            cur.execute(
                "REPLACE INTO zplan_lock (workspace, info, connection_id) VALUES (%s, %s, CONNECTION_ID())",
                (self.workspace, json.dumps(asdict(info))),
            )
        return info

    def _release(self, conn) -> None:
        pymysql = import_pymysql()
        try:
            with conn.cursor() as cur:
                cur.execute(
                    "DELETE FROM zplan_lock WHERE workspace = %s AND connection_id = CONNECTION_ID()",
                    (self.workspace,),
                )
                cur.execute("SELECT RELEASE_LOCK(%s)", (self.lock_name,))
        except pymysql.err.MySQLError:
            pass  # connection lost or force-unlocked: the server has already freed the lock

    def _holder(self, conn) -> LockInfo | None:
        row = self._lock_row(conn)
        if row is None:
            return None
        info, holder_conn = row
        return info if self._used_by(conn) == holder_conn else None

    def _lock_row(self, conn) -> tuple[LockInfo, int] | None:
        row = self._query_one(conn, "SELECT info, connection_id FROM zplan_lock WHERE workspace = %s")
        if row is None:
            return None
        try:
            return LockInfo(**json.loads(row[0])), int(row[1])
        except (ValueError, TypeError):
            return None  # unreadable info: treat as no holder info

    def _used_by(self, conn) -> int | None:
        with conn.cursor() as cur:
            cur.execute("SELECT IS_USED_LOCK(%s)", (self.lock_name,))
            value = cur.fetchone()[0]
        return None if value is None else int(value)

    def _kill(self, conn, connection_id: int) -> None:
        pymysql = import_pymysql()
        try:
            with conn.cursor() as cur:
                cur.execute(f"KILL CONNECTION {int(connection_id)}")
        except pymysql.err.MySQLError as exc:
            if exc.args and exc.args[0] == _ER_NO_SUCH_THREAD:
                return  # it ended by itself meanwhile
            if exc.args and exc.args[0] == _ER_NOT_OWNER:  # the holder connected as another database user
                raise fail(f"cannot release the state lock: {self.target.user} may not end connection {connection_id} "
                           f"holding it on {self.target.describe()} (another database user's)",
                           f"run force-unlock as that user, or have an administrator run KILL CONNECTION {connection_id} "
                           f"(or grant {self.target.user} CONNECTION ADMIN); the lock is still held") from None
            raise
        # The server frees the named lock once the killed thread is gone: wait for it
        # so a lock taken right after force-unlock does not have to.
        deadline = time.monotonic() + 10
        while self._used_by(conn) == connection_id and time.monotonic() < deadline:
            time.sleep(0.05)

    # -- connections ----------------------------------------------------------

    def _query_one(self, conn, sql: str):
        """One row for this workspace; None when there is none or the table was never created."""
        pymysql = import_pymysql()
        try:
            with conn.cursor() as cur:
                cur.execute(sql, (self.workspace,))
                return cur.fetchone()
        except pymysql.err.ProgrammingError as exc:
            if exc.args and exc.args[0] == _ER_NO_SUCH_TABLE:
                return None
            raise

    @contextlib.contextmanager
    def _existing(self):
        """A connection to the database if it exists (None otherwise): reads never create anything."""
        with self._errors():
            conn = self.target.connect(missing_ok=True)
        try:
            with self._errors():
                yield conn
        finally:
            if conn is not None:
                conn.close()

    @contextlib.contextmanager
    def _created(self, autocommit: bool = False):
        """A connection to the database, creating it and the tables the first time. Only what is
        missing is created: the server refuses CREATE ... IF NOT EXISTS to a user who may read and
        write the tables but create nothing (as a team's database is often set up), even when all exist."""
        with self._errors():
            conn = self.target.connect(autocommit=autocommit, missing_ok=True)
            if conn is None:
                self.target.ensure_database()
                conn = self.target.connect(autocommit=autocommit)
        try:
            if not self._tables_ready:
                with self._errors(), conn.cursor() as cur:
                    cur.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE()")
                    present = {row[0].lower() for row in cur.fetchall()}
                    for name in [n for n in _TABLES if n not in present]:
                        cur.execute(_TABLES[name])
                self._tables_ready = True
            yield conn
        finally:
            conn.close()

    @contextlib.contextmanager
    def _errors(self):
        """Server errors become a diagnostic naming the backend (never the password)."""
        pymysql = import_pymysql()
        try:
            yield
        except pymysql.err.MySQLError as exc:
            args = getattr(exc, "args", ())
            text = f"({args[0]}) {args[1]}" if len(args) >= 2 else str(exc)
            denied = bool(args) and args[0] in _ER_DENIED
            raise fail(f"state backend {self.describe()}: {text}", self._grants_needed() if denied else "") from None

    def _grants_needed(self) -> str:
        db = self.target.database
        return (f"have {self.target.user} granted SELECT, INSERT, UPDATE and DELETE on `{db}`.zplan_state and `{db}`.zplan_lock "
                f"(and CREATE on `{db}` the first time, to make them), then run the command again")
