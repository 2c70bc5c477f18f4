"""The MySQL metadata store and state backend against a real MariaDB server."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.fixtures.mariadb import MariaDBServer
from tests.unit.metadata.scenario import GIT1, T0, check_two_runs, record_two_runs
from zplan.diags import DiagnosticError
from zplan.metadata import MetadataStore
from zplan.state.backend import LockInfo, StateLockedError
from zplan.state.mysql import MySQLBackend
from zplan.state.model import empty

pytestmark = pytest.mark.slow


def _database(url: str) -> str:
    return url.rsplit("/", 1)[1]


def _databases(server: MariaDBServer) -> set[str]:
    conn = server.connect()
    try:
        with conn.cursor() as cur:
            cur.execute("SHOW DATABASES")
            return {row[0] for row in cur.fetchall()}
    finally:
        conn.close()


# -- metadata store ------------------------------------------------------------


def test_metadata_two_runs_on_mariadb(mariadb_server: MariaDBServer, mysql_url: str, tmp_path: Path) -> None:
    store = MetadataStore.from_url(mysql_url, tmp_path)
    assert store.runs() == [] and store.find_artifact("pipeline.training.step.load", "data") is None
    assert _database(mysql_url) not in _databases(mariadb_server)  # reading created nothing

    r1, r2 = record_two_runs(store)
    check_two_runs(store, r1, r2)
    store.close()

    conn = mariadb_server.connect(_database(mysql_url))
    with conn.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM Artifact")
        assert cur.fetchone()[0] == 7  # the cached step's outputs were not duplicated
    conn.close()

    again = MetadataStore.from_url(mysql_url, tmp_path)
    check_two_runs(again, r1, r2)
    assert again.start_run("training", "local", GIT1, T0 + 200) == 3


def test_metadata_over_the_socket_with_password_from_env(
    mariadb_server: MariaDBServer, mysql_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ZPLAN_MYSQL_PASSWORD", "zplan")
    url = f"mysql://zplan@localhost/{_database(mysql_url)}?socket={mariadb_server.socket}"
    store = MetadataStore.from_url(url, tmp_path)
    assert store.start_run("p", "local", GIT1, T0) == 1
    assert [r.number for r in MetadataStore.from_url(url, tmp_path).runs()] == [1]


def test_metadata_wrong_password_is_a_diagnostic(mariadb_server: MariaDBServer, tmp_path: Path) -> None:
    store = MetadataStore.from_url(f"mysql://zplan:nope@127.0.0.1:{mariadb_server.port}/x", tmp_path)
    with pytest.raises(DiagnosticError, match="cannot connect to mysql://zplan@127.0.0.1") as info:
        store.runs()
    assert "nope" not in str(info.value)


# -- state document --------------------------------------------------------------


def test_state_round_trip(mariadb_server: MariaDBServer, mysql_url: str) -> None:
    backend = MySQLBackend(mysql_url)
    assert backend.read() is None and backend.current_lock() is None
    assert _database(mysql_url) not in _databases(mariadb_server)

    doc = {**empty(), "serial": 1, "resources": {"resource.gcs_bucket.a": {"type": "gcs_bucket", "attributes": {"name": "bucket-é", "size": 3}}}}
    backend.write(doc)
    assert MySQLBackend(mysql_url).read() == doc
    backend.write({**doc, "serial": 2})
    assert backend.read()["serial"] == 2
    assert MySQLBackend(mysql_url, workspace="prod").read() is None  # workspaces are separate


def test_a_failed_write_leaves_the_old_doc(mariadb_server: MariaDBServer, mysql_url: str) -> None:
    backend = MySQLBackend(mysql_url)
    first = {**empty(), "serial": 1}
    backend.write(first)

    with pytest.raises(TypeError):
        backend.write({**first, "serial": 2, "bad": object()})
    assert backend.read() == first

    # Another transaction holds the row: the write times out on the server and rolls back.
    other = mariadb_server.connect(_database(mysql_url))
    with other.cursor() as cur:
        cur.execute("START TRANSACTION")
        cur.execute("SELECT doc FROM zplan_state WHERE workspace = 'default' FOR UPDATE")
    backend.lock_wait_timeout = 1
    with pytest.raises(DiagnosticError, match="Lock wait timeout"):
        backend.write({**first, "serial": 3})
    other.rollback()
    other.close()
    assert backend.read() == first


def _user_granted(server: MariaDBServer, database: str, grants: str) -> str:
    """A new user with only ``grants`` on ``database`` (made by root, over the socket): its URL."""
    import uuid

    import pymysql

    user = f"u{uuid.uuid4().hex[:12]}"
    conn = pymysql.connect(unix_socket=str(server.socket), user="root")
    with conn.cursor() as cur:
        cur.execute("CREATE USER %s@'%%' IDENTIFIED BY 'pw'", (user,))
        cur.execute(f"GRANT {grants} ON `{database}`.* TO %s@'%%'", (user,))
    conn.close()
    return f"mysql://{user}:pw@{server.host}:{server.port}/{database}"


def test_a_user_who_may_write_the_tables_but_create_nothing_locks_and_writes_state(mariadb_server: MariaDBServer, mysql_url: str) -> None:
    first = {**empty(), "serial": 1}
    MySQLBackend(mysql_url).write(first)  # the database and its tables made by a user who may
    database = _database(mysql_url)
    writer = MySQLBackend(_user_granted(mariadb_server, database, "SELECT, INSERT, UPDATE, DELETE"))
    with writer.lock("state rm"):
        assert writer.read() == first
        writer.write({**first, "serial": 2})
    assert writer.current_lock() is None and MySQLBackend(mysql_url).read()["serial"] == 2

    reader = MySQLBackend(_user_granted(mariadb_server, database, "SELECT"))
    assert reader.read()["serial"] == 2
    with pytest.raises(DiagnosticError) as refused:
        with reader.lock("state rm"):
            pass
    text = str(refused.value)
    assert "command denied" in text and f"SELECT, INSERT, UPDATE and DELETE on `{database}`.zplan_state" in text


# -- state lock across processes -----------------------------------------------------

HOLDER = """
import dataclasses, json, sys, time
from zplan.state.mysql import MySQLBackend
backend = MySQLBackend(sys.argv[1], workspace=sys.argv[2])
with backend.lock("apply") as info:
    print(json.dumps(dataclasses.asdict(info)), flush=True)
    sys.stdin.readline()  # hold until told (or killed)
print("released", flush=True)
"""


class Holder:
    """Another process holding the state lock until told to let go (or killed)."""

    def __init__(self, url: str, workspace: str = "default") -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", HOLDER, url, workspace],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        line = self.proc.stdout.readline()
        if not line:
            raise AssertionError(f"holder did not start: {self.proc.stderr.read()}")
        self.info = LockInfo(**json.loads(line))

    def let_go(self) -> str:
        out, err = self.proc.communicate("\n", timeout=20)
        assert self.proc.returncode == 0, err
        return out

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.communicate(timeout=20)


@pytest.fixture
def holders():
    started: list[Holder] = []
    yield lambda url, workspace="default": started.append(Holder(url, workspace)) or started[-1]
    for holder in started:
        holder.close()


def _wait_until_free(backend: MySQLBackend, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while backend.current_lock() is not None:
        assert time.monotonic() < deadline, "the server never freed the dead holder's lock"
        time.sleep(0.05)


def test_a_waiter_gives_up_showing_the_holder_and_a_killed_holder_is_stale(
    mariadb_server: MariaDBServer, mysql_url: str, holders
) -> None:
    backend = MySQLBackend(mysql_url)
    holder = holders(mysql_url)
    assert holder.info.pid == holder.proc.pid
    assert backend.current_lock() == holder.info

    waits: list[tuple[LockInfo | None, float]] = []
    began = time.monotonic()
    with pytest.raises(StateLockedError) as err:
        with backend.lock("apply", timeout=2.5, on_wait=lambda h, left: waits.append((h, left))):
            pytest.fail("took a lock that another process holds")
    assert 2.4 <= time.monotonic() - began < 6
    assert err.value.holder == holder.info and f"pid {holder.proc.pid}" in str(err.value)
    assert 2 <= len(waits) <= 4 and all(h == holder.info for h, _ in waits)
    assert [left for _, left in waits] == sorted((left for _, left in waits), reverse=True)

    os.kill(holder.proc.pid, signal.SIGKILL)  # an apply killed mid-way: no chance to clean up
    holder.proc.wait(timeout=10)
    _wait_until_free(backend)

    stale: list[LockInfo] = []
    with backend.lock("apply", on_stale=stale.append) as mine:
        assert stale == [holder.info]
        assert backend.current_lock() == mine and mine.pid == os.getpid()
    assert backend.current_lock() is None

    with backend.lock("apply", on_stale=stale.append):
        pass
    assert len(stale) == 1  # a clean release leaves nothing stale behind


def test_a_waiter_gets_the_lock_when_the_holder_lets_go(mariadb_server: MariaDBServer, mysql_url: str, holders) -> None:
    backend = MySQLBackend(mysql_url)
    holder = holders(mysql_url)
    waits: list[float] = []

    def on_wait(h: LockInfo | None, left: float) -> None:
        waits.append(left)
        if len(waits) == 2:
            holder.proc.stdin.write("\n")
            holder.proc.stdin.flush()

    stale: list[LockInfo] = []
    with backend.lock("apply", timeout=30, on_wait=on_wait, on_stale=stale.append):
        assert backend.current_lock().pid == os.getpid()
    assert len(waits) in (2, 3) and stale == []
    assert holder.proc.wait(timeout=10) == 0


def test_force_unlock_ends_the_holder(mariadb_server: MariaDBServer, mysql_url: str, holders) -> None:
    backend = MySQLBackend(mysql_url)
    holder = holders(mysql_url)
    with pytest.raises(KeyError):
        backend.force_unlock("not-the-id")
    assert backend.current_lock() == holder.info

    backend.force_unlock(holder.info.id)
    assert backend.current_lock() is None
    stale: list[LockInfo] = []
    with backend.lock("apply", on_stale=stale.append):
        assert stale == []  # the info was cleared with the lock
    # The old holder finds its connection gone when it finishes, and exits cleanly.
    assert "released" in holder.let_go()


def test_force_unlock_by_another_database_user_says_who_may_end_the_holder(mariadb_server: MariaDBServer, mysql_url: str, holders) -> None:
    MySQLBackend(mysql_url).write({**empty(), "serial": 1})
    holder = holders(mysql_url)
    other = MySQLBackend(_user_granted(mariadb_server, _database(mysql_url), "SELECT, INSERT, UPDATE, DELETE"))
    with pytest.raises(DiagnosticError) as refused:
        other.force_unlock(holder.info.id)
    text = str(refused.value)
    assert "cannot release the state lock" in text and "KILL CONNECTION" in text and "the lock is still held" in text
    assert other.current_lock() == holder.info  # nothing was released
    assert "released" in holder.let_go()


def test_a_write_after_the_server_ended_the_lock_is_refused(mariadb_server: MariaDBServer, mysql_url: str, holders) -> None:
    # the server frees the lock with the connection holding it (a restart, a network cut, a failover):
    # the command went on writing, over what the command that took the lock next wrote
    from zplan.state.backend import StateNotStored

    backend = MySQLBackend(mysql_url)
    backend.write({**empty(), "serial": 1})
    with backend.lock("apply") as mine:
        MySQLBackend(mysql_url).force_unlock(mine.id)  # ends its connection, as the server would
        holder = holders(mysql_url)  # another command takes the lock and writes
        MySQLBackend(mysql_url).write({**empty(), "serial": 5})
        with pytest.raises(StateNotStored, match="the state lock was lost"):
            backend.write({**empty(), "serial": 2})
    assert backend.read()["serial"] == 5
    holder.let_go()
    with backend.lock("apply"):  # a lock taken again is written under
        backend.write({**empty(), "serial": 6})
    assert backend.read()["serial"] == 6


def test_workspaces_lock_separately_even_with_long_names(mariadb_server: MariaDBServer, mysql_url: str, holders) -> None:
    long_name = "w" * 200
    holder = holders(mysql_url, long_name)
    assert MySQLBackend(mysql_url, workspace=long_name).current_lock() == holder.info
    with MySQLBackend(mysql_url).lock("apply") as info:  # "default" is not blocked
        assert info.operation == "apply"
    with pytest.raises(StateLockedError):
        with MySQLBackend(mysql_url, workspace=long_name).lock("apply"):
            pass
    with pytest.raises(KeyError):
        MySQLBackend(mysql_url.rsplit("/", 1)[0] + "/missing_db").force_unlock(holder.info.id)


@pytest.mark.parametrize("stored", ["null", "{}", '{"format_version": 2, "serial": 1', "[1]"])
def test_a_damaged_state_row_is_refused_naming_it(mariadb_server: MariaDBServer, mysql_url: str, stored: str) -> None:
    backend = MySQLBackend(mysql_url)
    backend.write(empty())
    conn = mariadb_server.connect(_database(mysql_url))
    try:
        with conn.cursor() as cur:
            cur.execute("UPDATE zplan_state SET doc = %s WHERE workspace = 'default'", (stored,))
        conn.commit()
    finally:
        conn.close()
    with pytest.raises(DiagnosticError, match=r"state in mysql://.* \(table zplan_state\) is damaged") as e:
        backend.read()
    assert "restore that row from a database backup" in str(e.value)


# -- an apply whose state writes the server refuses ------------------------------------------------

FAILING_WRITES = """
variable "n" {
  default = 1
}

stack "team" {
  artifact_store = "file://.zplan/artifacts"
  metadata_store = "%s"
}

pipeline "p" {
  step "s" {
    source = "steps.py:s"
    params = { n = var.n }
  }
}
"""


def test_an_apply_whose_state_writes_the_server_refuses_stops_and_keeps_the_state_in_the_recovery_file(
    mariadb_server: MariaDBServer, mysql_url: str, tmp_path: Path
) -> None:
    """As with state in a file: the first refused write stops the apply, what runs finishes, the last
    write is tried again, and the state it could not record is kept in errored.state.json."""
    from tests.cli.helpers import zplan
    from zplan.apply.state_writes import RECOVERY_NAME

    project = tmp_path / "project"
    project.mkdir()
    (project / "main.zp.hcl").write_text(FAILING_WRITES % mysql_url)
    (project / "steps.py").write_text("def s(n):\n    return n * 2\n")
    first = zplan(project, "apply", "-auto-approve", "-stack", "team")
    assert first.code == 0, first
    backend = MySQLBackend(mysql_url, workspace="team")  # a stack's state is its workspace
    before = backend.read()

    holder = mariadb_server.connect(_database(mysql_url))  # another client holds the state row: each write times out
    try:
        with holder.cursor() as cur:
            cur.execute("START TRANSACTION")
            cur.execute("SELECT doc FROM zplan_state WHERE workspace = 'team' FOR UPDATE")
        refused = zplan(project, "apply", "-auto-approve", "-stack", "team", "-var", "n=2")
    finally:
        holder.rollback()
        holder.close()
    assert refused.code == 1 and "Traceback" not in refused.err, refused
    assert "cannot record the state: state backend mysql://" in refused.err and "Lock wait timeout exceeded" in refused.err
    assert "these ran but are not recorded in state: pipeline.p.step.s" in refused.err
    kept = project / ".zplan" / RECOVERY_NAME
    assert f"is kept in {kept}: once that can be written, put it in place with `zplan state push {kept}`" in refused.err  # (its one stack)
    assert backend.read() == before  # each write was rolled back whole
    recovered = json.loads(kept.read_text())
    assert recovered["serial"] == before["serial"] + 1

    pushed = zplan(project, "state", "push", "-stack", "team", str(kept))  # as the message says: the step is recorded, nothing runs again
    assert pushed.code == 0 and f"the state is now serial {recovered['serial']}" in pushed.out, pushed
    assert backend.read() == recovered
    plan = zplan(project, "plan", "-stack", "team", "-var", "n=2")
    assert "pipeline.p.step.s" in plan.out and "cached" in plan.out and "will run" not in plan.out, plan


def test_state_push_refuses_an_older_state_on_the_server_unless_forced(mariadb_server: MariaDBServer, mysql_url: str, tmp_path: Path) -> None:
    from tests.cli.helpers import zplan

    project = tmp_path / "project"
    project.mkdir()
    (project / "main.zp.hcl").write_text(FAILING_WRITES % mysql_url)
    (project / "steps.py").write_text("def s(n):\n    return n * 2\n")
    assert zplan(project, "apply", "-auto-approve", "-stack", "team").code == 0
    backend = MySQLBackend(mysql_url, workspace="team")
    first = backend.read()
    (project / "first.json").write_text(json.dumps(first))
    assert zplan(project, "apply", "-auto-approve", "-stack", "team", "-var", "n=2").code == 0

    refused = zplan(project, "state", "push", "-stack", "team", "first.json")
    assert refused.code == 1 and "Traceback" not in refused.err, refused
    assert f"cannot push first.json (serial {first['serial']}) over newer state (serial {first['serial'] + 1})" in refused.err
    assert backend.read()["serial"] == first["serial"] + 1
    forced = zplan(project, "state", "push", "-stack", "team", "-force", "first.json")
    assert forced.code == 0, forced
    assert backend.read() == {**first, "serial": first["serial"] + 2}
    assert MySQLBackend(mysql_url, workspace="default").read() is None, "pushed into the stack's own workspace only"
