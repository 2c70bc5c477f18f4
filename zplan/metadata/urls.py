"""Store URLs: ``sqlite:///rel/path.db``, ``sqlite:////abs/path.db`` and
``mysql://user[:password]@host[:port]/database[?socket=/path]``.

The MySQL form is shared by the metadata store and the MySQL state backend, so
one team server holds both. Passwords never appear in messages.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from zplan.diags import fail

PASSWORD_ENV = "ZPLAN_MYSQL_PASSWORD"
ER_BAD_DB = 1049  # "Unknown database"
# Seconds before a server that does not answer is an error, not a hang: to connect, and for
# each read or write on the connection (GET_LOCK waits at most 1 s per call, see state.mysql).
CONNECT_TIMEOUT = 10
READ_TIMEOUT = 30
_DB_NAME = re.compile(r"^[A-Za-z0-9_$-]{1,64}$")
_EXAMPLES = (
    'use "sqlite:///.zplan/metadata.db" (relative to the project), "sqlite:////abs/path.db" '
    'or "mysql://user[:password]@host[:port]/database"'
)


@dataclass(frozen=True)
class SqliteTarget:
    path: Path

    def describe(self) -> str:
        return f"sqlite {self.path}"


@dataclass(frozen=True)
class MySQLTarget:
    host: str
    port: int
    database: str
    user: str
    password: str = field(default="", repr=False)
    socket: str | None = None

    def describe(self) -> str:
        where = f"{self.host}?socket={self.socket}" if self.socket else f"{self.host}:{self.port}"
        return f"mysql://{self.user}@{where}/{self.database}"

    def connect(self, *, with_database: bool = True, missing_ok: bool = False, **options: Any):
        """A pymysql connection; errors become diagnostics naming the server (not the password).

        With ``missing_ok``, a database that does not exist yet gives None instead of an error.
        """
        pymysql = import_pymysql()
        kwargs: dict[str, Any] = dict(user=self.user, password=self.password, charset="utf8mb4")
        if self.socket:
            kwargs["unix_socket"] = self.socket
        else:
            kwargs.update(host=self.host, port=self.port)
        if with_database:
            kwargs["database"] = self.database
        kwargs.update(connect_timeout=CONNECT_TIMEOUT, read_timeout=READ_TIMEOUT, write_timeout=READ_TIMEOUT)
        kwargs.update(options)
        try:
            return pymysql.connect(**kwargs)
        except pymysql.err.MySQLError as exc:
            if missing_ok and exc.args and exc.args[0] == ER_BAD_DB:
                return None
            if "timed out" in str(exc):
                raise fail(
                    f"cannot connect to {self.describe()}: the server did not answer in time "
                    f"(waited {CONNECT_TIMEOUT} s to connect, {READ_TIMEOUT} s for a reply)",
                    "check the host and port, and that a MySQL server is running and answering there",
                ) from None
            raise fail(
                f"cannot connect to {self.describe()}: {_mysql_message(exc)}",
                f"check that the server is running and the credentials are right "
                f"(the password can also come from the {PASSWORD_ENV} environment variable)",
            ) from None

    def ensure_database(self) -> None:
        """Create the database if it is missing (ML Metadata and the state tables need it to exist)."""
        conn = self.connect(with_database=False)
        try:
            with conn.cursor() as cur:
                cur.execute(f"CREATE DATABASE IF NOT EXISTS `{self.database}`")
            conn.commit()
        finally:
            conn.close()

    def database_exists(self) -> bool:
        conn = self.connect(with_database=False)
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = %s", (self.database,))
                return cur.fetchone() is not None
        finally:
            conn.close()


def parse_store_url(url: str, project_dir: Path, password: str | None = None) -> SqliteTarget | MySQLTarget:
    if url.startswith("sqlite:"):
        return parse_sqlite_url(url, project_dir)
    if url.startswith("mysql:"):
        return parse_mysql_url(url, password)
    raise fail(f"unsupported metadata store URL {redact(url)!r}", _EXAMPLES)


def parse_sqlite_url(url: str, project_dir: Path) -> SqliteTarget:
    if not url.startswith("sqlite:///") or url == "sqlite:///":
        raise fail(f"bad SQLite URL {url!r}: expected three slashes then a path", _EXAMPLES)
    rest = url.removeprefix("sqlite:///")
    path = Path(rest) if rest.startswith("/") else project_dir / rest
    return SqliteTarget(path)


def parse_mysql_url(url: str, password: str | None = None) -> MySQLTarget:
    shown = redact(url)
    try:
        parts = urlsplit(url)
        port = parts.port or 3306
    except ValueError as exc:
        raise fail(f"bad MySQL URL {shown!r}: {exc}", _EXAMPLES) from None
    if parts.scheme != "mysql" or not parts.hostname:
        raise fail(f"bad MySQL URL {shown!r}: expected mysql://user@host/database", _EXAMPLES)
    if not parts.username:
        raise fail(f"bad MySQL URL {shown!r}: no user name before '@'", _EXAMPLES)
    database = parts.path.strip("/")
    if not _DB_NAME.match(database):
        raise fail(
            f"bad MySQL URL {shown!r}: the database name {database!r} is missing or not a plain name",
            "use letters, digits, '_', '$' or '-' (at most 64)",
        )
    query = parse_qs(parts.query, keep_blank_values=True)
    unknown = sorted(set(query) - {"socket"})
    if unknown:
        raise fail(f"bad MySQL URL {shown!r}: unknown option {unknown[0]!r}", "only '?socket=/path' is understood")
    socket = query["socket"][-1] if "socket" in query else None
    if socket is not None and parts.hostname != "localhost":
        raise fail(f"bad MySQL URL {shown!r}: ?socket= needs the host 'localhost'")
    return MySQLTarget(
        host=parts.hostname,
        port=port,
        database=database,
        user=unquote(parts.username),
        password=_password(parts.password, password),
        socket=socket,
    )


def _password(in_url: str | None, given: str | None) -> str:
    # The explicit argument (e.g. a sensitive variable) wins over the URL, the URL over the environment.
    if given is not None:
        return given
    if in_url is not None:
        return unquote(in_url)
    return os.environ.get(PASSWORD_ENV, "")


def redact(url: str) -> str:
    """The URL with any password replaced by ``***``."""
    return re.sub(r"^(\w+://[^:/@]*):[^@/]*@", r"\1:***@", url)


def import_pymysql():
    try:
        import pymysql
    except ImportError:
        raise fail(
            "a mysql:// store needs the Python package 'pymysql'",
            "install it into zplan's environment: pip install pymysql",
        ) from None
    return pymysql


def _mysql_message(exc: Exception) -> str:
    args = getattr(exc, "args", ())
    if len(args) >= 2:
        return f"({args[0]}) {args[1]}"
    return str(exc)


def metadata_password(settings: dict) -> str | None:
    """The stack's ``metadata_password`` when it is known (a string); the one reader of it."""
    value = settings.get("metadata_password")
    return value if isinstance(value, str) else None
