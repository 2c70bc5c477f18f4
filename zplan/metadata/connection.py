"""The connection to an ML Metadata store, shared by its writer and its reader.

MLMD is imported only when a store is first used, and nothing is created before
the first write: ``zplan plan`` reads, and must never write.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import re
import sqlite3
import sys
import types
from pathlib import Path
from types import SimpleNamespace

from zplan.diags import DiagnosticError, fail
from zplan.metadata.schema import ARTIFACT, RUN, SNAPSHOT, TypeIds, lookup, register
from zplan.metadata import convert as cv
from zplan.metadata import template
from zplan.metadata.urls import MySQLTarget, SqliteTarget

_SQLITE_READONLY = 1
_SQLITE_READWRITE_OPENCREATE = 3
_MLMD_TABLE = "MLMDEnv"  # present once MLMD has created its schema


@functools.cache
def _mlmd() -> SimpleNamespace:
    with _deferred_imports():
        import ml_metadata
        from ml_metadata import errors
        from ml_metadata import metadata_store as ms
        from ml_metadata.proto import metadata_store_pb2 as pb

    return SimpleNamespace(ms=ms, pb=pb, errors=errors, version=ml_metadata.__version__)


class _Deferred(types.ModuleType):
    """Stands for a module in ML Metadata's modules: the real one is imported at the first use of
    any of its names (and from then on is what the module name gives, in this process)."""

    def __getattr__(self, name: str):
        if name.startswith("__") and name != "__path__":
            raise AttributeError(name)
        return getattr(self._real(), name)

    def _real(self) -> types.ModuleType:
        if sys.modules.get(self.__name__) is self:  # used while MLMD is still importing
            del sys.modules[self.__name__]
        return importlib.import_module(self.__name__)


class _DeferredGrpc(_Deferred):
    """``grpc``: MLMD uses gRPC only to talk to a metadata server; zplan opens SQLite and MySQL
    stores in-process, so an apply never pays gRPC's import (~35 ms of CPU, asyncio with it)."""


class _DeferredAbslLogging(_Deferred):
    """``absl.logging`` (~13 ms of CPU, its flags with it): MLMD logs an INFO line each time a store
    is opened, which Python's logging drops unless someone asked for INFO. So a message goes to the
    real absl only when the ``absl`` logger would take its level."""

    FATAL, ERROR, WARNING, INFO, DEBUG = -3, -2, -1, 0, 1  # absl's level numbers, which MLMD passes
    _PYTHON_LEVELS = {-3: 50, -2: 40, -1: 30, 0: 20, 1: 10}  # and Python's for each

    def log(self, level: int, msg, *args, **kwargs) -> None:
        if self._wanted(self._PYTHON_LEVELS.get(level, 10)):
            self._real().log(level, msg, *args, **kwargs)

    @staticmethod
    def _wanted(python_level: int) -> bool:
        logging = sys.modules.get("logging")
        if logging is None:  # not even imported, so not configured: Python's default drops below WARNING
            return python_level >= 30
        # asked without making the "absl" logger: absl makes it its own kind when it is imported
        made = logging.Logger.manager.loggerDict.get("absl")
        return (made if isinstance(made, logging.Logger) else logging.root).isEnabledFor(python_level)


_STAND_INS = {"grpc": _DeferredGrpc, "absl.logging": _DeferredAbslLogging}


@contextlib.contextmanager
def _deferred_imports():
    """While ML Metadata is imported, ``import grpc`` and ``from absl import logging`` get stand-ins;
    afterwards the names are free again, so any other import in the process gets the real module."""
    placed = {}
    for name, cls in _STAND_INS.items():
        if name not in sys.modules:  # already there (another library): nothing to save
            placed[name] = sys.modules[name] = cls(name)
    try:
        yield
    finally:
        for name, stand_in in placed.items():
            if sys.modules.get(name) is stand_in:
                del sys.modules[name]


def _guarded(method):
    """Turn MLMD's status errors (server gone, disk full...), and SQLite's (``zplan.metadata.direct``), into a
    diagnostic naming the store."""

    @functools.wraps(method)
    def wrapper(self: "Connection", *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except DiagnosticError:
            raise
        except Exception as exc:
            errors = sys.modules.get("ml_metadata.errors")
            if not isinstance(exc, sqlite3.Error) and (errors is None or not isinstance(exc, errors.StatusError)):
                raise
            # A failed write leaves MLMD's transaction open ("Transaction already open" at the next
            # call): the handle goes, which rolls it back, and the next use opens the store afresh.
            self.close()
            raise _status_failure(self, exc) from exc

    return wrapper


# MLMD's message for a failed SQL statement: the record it tried to write, then the database's reason
_QUERY_ERROR = re.compile(r"Error when executing query: (.*?)\s*query:", re.S)


def _status_failure(conn: "Connection", exc: Exception) -> DiagnosticError:
    """The store and the database's own reason (``database or disk is full``), with what to do."""
    text = str(exc).strip()
    found = _QUERY_ERROR.search(text)
    reason = found.group(1).strip() if found else (text.splitlines()[0] if text else type(exc).__name__)
    if not isinstance(conn.target, SqliteTarget):
        return fail(f"metadata store {conn.describe()}: {reason}")
    folder = conn.target.path.parent
    lowered = reason.lower()
    if "full" in lowered:
        todo = f"free some space on the disk holding {folder}"
    elif "readonly" in lowered or "read-only" in lowered or "unable to open" in lowered or "i/o error" in lowered:
        todo = f"make {conn.target.path} and {folder} writable again"
    else:
        return fail(f"metadata store {conn.describe()}: {reason}")
    return fail(f"metadata store {conn.describe()}: {reason}",
                f"{todo}, then run the command again; the change it could not write was rolled back (nothing of it was kept)")


class Connection:
    def __init__(self, target: SqliteTarget | MySQLTarget) -> None:
        self.target = target
        self.project_dir: Path | None = None  # where the project is now (artifact URIs are shown from there)
        self._store = None  # the MLMD handle, opened on first use
        self._writable = False
        self._types: TypeIds | None = None
        self._pipeline_ids: dict[str, int] = {}

    def describe(self) -> str:
        return self.target.describe()

    def close(self) -> None:
        self._store = None  # MLMD closes its connection when the handle is dropped
        self._types = None
        self._writable = False
        self._pipeline_ids.clear()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _writer(self):
        """The MLMD handle opened for writing (creating the database and types if needed)."""
        m = _mlmd()
        if self._store is None or not self._writable:
            made_here = False
            if isinstance(self.target, SqliteTarget):
                if self.target.path.exists():
                    _sqlite_has_table(self.target.path, _MLMD_TABLE)  # a damaged file is reported as such
                else:
                    made_here = not template.place(self.target.path, m.version)
            self._store = self._connect(m, create=True)
            self._writable = True
            self._types = register(self._store, m.pb)
            if made_here:
                template.keep(self.target.path, m.version)
        return self._store, self._types, m

    def _reader(self) -> bool:
        """Open for reading if there is anything to read; never creates a file or database."""
        if self._store is not None:
            if self._types is None:  # a store written by someone else since we looked
                self._types = lookup(self._store, _mlmd().errors)
            return self._types is not None
        if not self._exists():
            return False
        m = _mlmd()
        self._store = self._connect(m, create=False)
        self._types = lookup(self._store, m.errors)
        return self._types is not None

    def _exists(self) -> bool:
        if isinstance(self.target, SqliteTarget):
            return _sqlite_has_table(self.target.path, _MLMD_TABLE)
        conn = self.target.connect(with_database=False)
        try:
            with conn.cursor() as cur:
                cur.execute(
                    "SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s",
                    (self.target.database, _MLMD_TABLE),
                )
                return cur.fetchone() is not None
        finally:
            conn.close()

    def _connect(self, m: SimpleNamespace, create: bool):
        config = m.pb.ConnectionConfig()
        target = self.target
        if isinstance(target, SqliteTarget):
            if create:
                target.path.parent.mkdir(parents=True, exist_ok=True)
            config.sqlite.filename_uri = str(target.path)
            config.sqlite.connection_mode = _SQLITE_READWRITE_OPENCREATE if create else _SQLITE_READONLY
        else:
            if create:
                target.ensure_database()
            config.mysql.database = target.database
            config.mysql.user = target.user
            config.mysql.password = target.password
            if target.socket:
                config.mysql.socket = target.socket
            else:
                config.mysql.host = target.host
                config.mysql.port = target.port
        try:
            return m.ms.MetadataStore(config)
        except (m.errors.StatusError, RuntimeError) as exc:  # MLMD raises RuntimeError while opening
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise fail(f"cannot open the metadata store {self.describe()}: {first}") from None

    def _run_context(self, run: int):
        ctx = self._store.get_context_by_type_and_name(RUN, cv.run_name(run))
        if ctx is None:
            raise self._no_run(run)
        return ctx

    def _no_run(self, run: int) -> DiagnosticError:
        return fail(f"no run {run} in the metadata store {self.describe()}", "`zplan runs` lists the recorded runs")

    def _type_names(self) -> dict[int, str]:
        return {self._types.artifact: ARTIFACT, self._types.snapshot: SNAPSHOT}


def _sqlite_has_table(path: Path, table: str) -> bool:
    """Look without MLMD, read-only: MLMD itself would create its schema in an empty file.

    A file that is there but is not a sound SQLite database is reported as damaged,
    never taken for "no runs yet"."""
    if not path.is_file():
        return False
    try:
        return _has_table(path, table, "ro")
    except sqlite3.OperationalError as exc:
        # A writer killed mid-transaction leaves a hot journal, which only a writable
        # connection may roll back: that is a sound database, not a damaged one.
        if "readonly" not in str(exc) or not path.with_name(path.name + "-journal").exists():
            raise _damaged_sqlite(path, str(exc)) from None
    except sqlite3.Error as exc:
        raise _damaged_sqlite(path, str(exc)) from None
    try:
        return _has_table(path, table, "rw")
    except sqlite3.Error as exc:
        raise _damaged_sqlite(path, str(exc)) from None


def _has_table(path: Path, table: str, mode: str) -> bool:
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode={mode}", uri=True)
    try:
        return conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)).fetchone() is not None
    finally:
        conn.close()


def _damaged_sqlite(path: Path, why: str) -> DiagnosticError:
    return fail(
        f"metadata store {path} is damaged: {why}",
        f"restore it from a backup, or move it aside (mv {path} {path}.damaged) and zplan starts a new one at the "
        "next apply: the run history in it is lost, step caches (kept in state) stay valid",
    )


def _event_names(event) -> list[str]:
    return [s.key for s in event.path.steps if s.WhichOneof("value") == "key"]
