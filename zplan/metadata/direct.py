"""An ML Metadata SQLite store written with plain SQL: the rows ML Metadata's library would write.

ML Metadata's library costs an apply ~40 ms to import and ~0.4 ms for each execution it records (it
builds and parses one SQL statement per row, holding the GIL); Python's own sqlite3 writes the same rows
with prepared statements in a tenth of that. So zplan writes runs and executions itself into a SQLite
store at the schema version it knows (``SCHEMA_VERSION``) whose zplan types are registered; the store
stays ML Metadata's own, which reads it back (``zplan runs``, lineage, the dashboard), and any other
store (MySQL, another schema version, types to register) goes through the library. The rows are
those the library writes (``tests/unit/metadata/test_direct_writes.py`` compares them table by table):
timestamps in milliseconds, an artifact recorded again found by its external id, its properties
replaced, its update time moved.

Each write is one transaction on a connection of its own, closed before the call returns: ML Metadata's
library (a second copy of SQLite in this process) may open the same file between calls, and SQLite's
POSIX locks are only safe while two copies never hold the file open across each other's transactions.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from pathlib import Path
from typing import Iterator

from zplan.metadata.schema import ARTIFACT, PIPELINE, RUN, SNAPSHOT, STEP, TypeIds, properties_of

SCHEMA_VERSION = 10  # the schema of ML Metadata 1.14 to 1.17, which these rows follow
# ML Metadata's enum values (metadata_store.proto), so this module never imports its protos
TYPE_KINDS = {"execution": 0, "artifact": 1, "context": 2}
PROPERTY_TYPES = {"INT": 1, "DOUBLE": 2, "STRING": 3, "BOOLEAN": 6}
EXECUTION_STATES = {"complete": 3, "failed": 4, "cached": 5, "cancelled": 6}
ARTIFACT_LIVE = 2
EVENT_INPUT, EVENT_OUTPUT = 3, 4
_BUSY_SECONDS = 30.0  # another apply's write transaction on the same store is waited for this long


def now_ms() -> int:
    return int(time.time() * 1000)


def usable_types(path: Path) -> TypeIds | None:
    """The ids of zplan's types when this store can be written here: ML Metadata's schema version is the one
    known, and every zplan type is registered with at least the properties this zplan writes, of the
    same kinds. None otherwise (the library then writes, registering what is missing)."""
    with _connection(path) as conn:
        version = conn.execute("SELECT schema_version FROM MLMDEnv").fetchall()
        if version != [(SCHEMA_VERSION,)]:
            return None
        rows = conn.execute(
            "SELECT t.id, t.name, t.type_kind, p.name, p.data_type FROM Type t LEFT JOIN TypeProperty p ON p.type_id = t.id"
            " WHERE t.version IS NULL AND t.name IN (?, ?, ?, ?, ?)", (ARTIFACT, SNAPSHOT, STEP, PIPELINE, RUN)).fetchall()
    found: dict[str, tuple[int, int, dict]] = {}
    for type_id, name, kind, prop, data_type in rows:
        found.setdefault(name, (type_id, kind, {}))[2].update({prop: data_type} if prop is not None else {})
    wanted = {ARTIFACT: "artifact", SNAPSHOT: "artifact", STEP: "execution", PIPELINE: "context", RUN: "context"}
    for name, kind in wanted.items():
        if name not in found or found[name][1] != TYPE_KINDS[kind]:
            return None
        stored = found[name][2]
        if any(stored.get(prop) != PROPERTY_TYPES[t] for prop, t in properties_of(name).items()):
            return None
    ids = {name: found[name][0] for name in wanted}
    return TypeIds(artifact=ids[ARTIFACT], snapshot=ids[SNAPSHOT], step=ids[STEP], pipeline=ids[PIPELINE], run=ids[RUN])


@contextlib.contextmanager
def transaction(path: Path) -> Iterator[sqlite3.Connection]:
    """One write transaction (taken at once, waiting for another writer's), committed as the block ends
    or rolled back if it raises; the connection is closed either way."""
    with _connection(path) as conn:
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.rollback()
            raise
        conn.commit()


@contextlib.contextmanager
def _connection(path: Path) -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(path, timeout=_BUSY_SECONDS, isolation_level=None)
    try:
        yield conn
    finally:
        conn.close()


# -- contexts (runs and pipelines) ------------------------------------------------------------------
def context_id(conn: sqlite3.Connection, type_id: int, name: str) -> int | None:
    row = conn.execute("SELECT id FROM Context WHERE type_id = ? AND name = ?", (type_id, name)).fetchone()
    return row[0] if row else None


def last_run_number(conn: sqlite3.Connection, run_type: int) -> int:
    """The highest run number recorded (0 before the first run)."""
    row = conn.execute("SELECT MAX(p.int_value) FROM Context c JOIN ContextProperty p ON p.context_id = c.id"
                       " WHERE c.type_id = ? AND p.name = 'number' AND p.is_custom_property = 0", (run_type,)).fetchone()
    return row[0] or 0


def put_context(conn: sqlite3.Connection, type_id: int, name: str, props: dict, at: int) -> int:
    cur = conn.execute("INSERT INTO Context (type_id, name, create_time_since_epoch, last_update_time_since_epoch)"
                       " VALUES (?, ?, ?, ?)", (type_id, name, at, at))
    conn.executemany(_PUT_PROPERTY.format("Context"), _property_rows(cur.lastrowid, props))
    return cur.lastrowid


def put_parent_context(conn: sqlite3.Connection, child: int, parent: int) -> None:
    conn.execute("INSERT OR IGNORE INTO ParentContext (context_id, parent_context_id) VALUES (?, ?)", (child, parent))


def update_context(conn: sqlite3.Connection, ctx_id: int, props: dict, at: int) -> None:
    """Set (or, for a None value, remove) the given properties; the others are kept."""
    conn.executemany("DELETE FROM ContextProperty WHERE context_id = ? AND name = ? AND is_custom_property = 0",
                     [(ctx_id, name) for name in props])
    conn.executemany(_PUT_PROPERTY.format("Context"), _property_rows(ctx_id, props))
    conn.execute("UPDATE Context SET last_update_time_since_epoch = ? WHERE id = ?", (at, ctx_id))


def context_properties(conn: sqlite3.Connection, ctx_id: int) -> dict:
    rows = conn.execute("SELECT name, int_value, double_value, string_value, bool_value FROM ContextProperty"
                        " WHERE context_id = ? AND is_custom_property = 0", (ctx_id,))
    return {name: _value(i, d, s, b) for name, i, d, s, b in rows}


def contexts_with(conn: sqlite3.Connection, type_id: int, prop: str, value: str) -> list[int]:
    """The contexts of ``type_id`` whose string property ``prop`` is ``value``."""
    return [row[0] for row in conn.execute(
        "SELECT c.id FROM Context c JOIN ContextProperty p ON p.context_id = c.id"
        " WHERE c.type_id = ? AND p.name = ? AND p.is_custom_property = 0 AND p.string_value = ? ORDER BY c.id",
        (type_id, prop, value))]


# -- executions, artifacts and their events --------------------------------------------------------
def put_lineage(conn: sqlite3.Connection, executions: list[tuple[int, int, dict]], artifacts: list[tuple],
                contexts: list[int], edges: list[tuple[int, int, int, list[str]]]) -> list[int]:
    """Executions ``(type_id, state, properties)``, artifacts ``(type_id, uri, external_id, properties)`` (one
    found by its external id is that row: its uri and properties replaced, unless it is described and this
    one is not), each joined to every context, and events ``(execution index, artifact index, type, path
    keys)``; returns the executions' ids. Rows are written table by table, their ids given here: the
    transaction holds the store's write lock, so the next ids are the table's."""
    at = now_ms()
    art_ids = _put_artifacts(conn, artifacts, at)
    exec_ids = _next_ids(conn, "Execution", len(executions))
    conn.executemany("INSERT INTO Execution (id, type_id, last_known_state, create_time_since_epoch,"
                     " last_update_time_since_epoch) VALUES (?, ?, ?, ?, ?)",
                     [(x, type_id, state, at, at) for x, (type_id, state, _) in zip(exec_ids, executions)])
    conn.executemany(_PUT_PROPERTY.format("Execution"),
                     [row for x, (_, _, props) in zip(exec_ids, executions) for row in _property_rows(x, props)])
    event_ids = _next_ids(conn, "Event", len(edges))
    conn.executemany("INSERT INTO Event (id, artifact_id, execution_id, type, milliseconds_since_epoch) VALUES (?, ?, ?, ?, ?)",
                     [(x, art_ids[a], exec_ids[e], kind, at) for x, (e, a, kind, _) in zip(event_ids, edges)])
    conn.executemany("INSERT INTO EventPath (event_id, is_index_step, step_key) VALUES (?, 0, ?)",
                     [(x, key) for x, (_, _, _, keys) in zip(event_ids, edges) for key in keys])
    conn.executemany("INSERT INTO Association (context_id, execution_id) VALUES (?, ?)",
                     [(c, x) for x in exec_ids for c in contexts])
    # (not INSERT OR IGNORE: an ignored row would still use up an id, which ML Metadata's writes do not)
    conn.executemany("INSERT INTO Attribution (context_id, artifact_id) SELECT ?1, ?2 WHERE NOT EXISTS"
                     " (SELECT 1 FROM Attribution WHERE context_id = ?1 AND artifact_id = ?2)",
                     [(c, x) for x in dict.fromkeys(art_ids) for c in contexts])
    return exec_ids


_PUT_PROPERTY = "INSERT INTO {}Property VALUES (?, ?, 0, ?, ?, ?, NULL, NULL, ?)"
_CHUNK = 500  # external ids asked for at once (SQLite's limit on a statement's parameters is higher)


def _next_ids(conn: sqlite3.Connection, table: str, count: int) -> list[int]:
    """The ids SQLite would give the next ``count`` rows of ``table`` (AUTOINCREMENT: never one used before)."""
    row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = ?", (table,)).fetchone()
    first = max(row[0] if row else 0, conn.execute(f"SELECT IFNULL(MAX(id), 0) FROM {table}").fetchone()[0]) + 1
    return list(range(first, first + count))


def _put_artifacts(conn: sqlite3.Connection, artifacts: list[tuple], at: int) -> list[int]:
    keys = [external_id for _, _, external_id, _ in artifacts]
    stored: dict[str, int] = {}
    for i in range(0, len(keys), _CHUNK):
        chunk = keys[i:i + _CHUNK]
        marks = ",".join("?" * len(chunk))
        stored.update(conn.execute(f"SELECT external_id, id FROM Artifact WHERE external_id IN ({marks})", chunk))
    new = [artifact for artifact in artifacts if artifact[2] not in stored]
    new_ids = dict(zip((external_id for _, _, external_id, _ in new), _next_ids(conn, "Artifact", len(new))))
    conn.executemany("INSERT INTO Artifact (id, type_id, uri, state, external_id, create_time_since_epoch,"
                     " last_update_time_since_epoch) VALUES (?, ?, ?, ?, ?, ?, ?)",
                     [(new_ids[key], type_id, uri, ARTIFACT_LIVE, key, at, at) for type_id, uri, key, _ in new])
    conn.executemany(_PUT_PROPERTY.format("Artifact"),
                     [row for _, _, key, props in new for row in _property_rows(new_ids[key], props)])
    for _, uri, key, props in (artifact for artifact in artifacts if artifact[2] in stored):
        _update_artifact(conn, stored[key], uri, props, at)
    return [stored.get(key) or new_ids[key] for key in keys]


def _update_artifact(conn: sqlite3.Connection, art_id: int, uri: str, props: dict, at: int) -> None:
    if not props.get("type_name") and _described(conn, art_id):
        # a deployment names the model it serves by digest alone: the step that made it described it
        conn.execute("UPDATE Artifact SET last_update_time_since_epoch = ? WHERE id = ?", (at, art_id))
        return
    conn.execute("UPDATE Artifact SET uri = ?, state = ?, last_update_time_since_epoch = ? WHERE id = ?",
                 (uri, ARTIFACT_LIVE, at, art_id))
    conn.execute("DELETE FROM ArtifactProperty WHERE artifact_id = ? AND is_custom_property = 0", (art_id,))
    conn.executemany(_PUT_PROPERTY.format("Artifact"), _property_rows(art_id, props))


def _described(conn: sqlite3.Connection, art_id: int) -> bool:
    row = conn.execute("SELECT string_value FROM ArtifactProperty WHERE artifact_id = ? AND name = 'type_name'"
                       " AND is_custom_property = 0", (art_id,)).fetchone()
    return bool(row and row[0])


def _property_rows(owner: int, props: dict) -> list[tuple]:
    """(owner, name, int, double, string, bool) as ML Metadata stores a typed property; None is no row."""
    rows = []
    for name, value in props.items():
        if value is None:
            continue
        if isinstance(value, bool):
            rows.append((owner, name, None, None, None, int(value)))
        elif isinstance(value, int):
            rows.append((owner, name, value, None, None, None))
        elif isinstance(value, float):
            rows.append((owner, name, None, value, None, None))
        else:
            rows.append((owner, name, None, None, str(value), None))
    return rows


def _value(i, d, s, b):
    return bool(b) if b is not None else i if i is not None else d if d is not None else s
