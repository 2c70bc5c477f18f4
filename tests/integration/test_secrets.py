"""A sensitive variable through the real CLI: the step and the resource really get the value,
yet no command prints it and no file zplan wrote (plan file, state, metadata, caches, logs,
artifacts) holds it; with a MariaDB stack, where the secret is also the database password,
no table holds it either."""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest

from tests.fixtures.mariadb import MariaDBServer
from tests.testdata.team.harness import Result, Zplan, bucket_files, copy_project, write_stacks

pytestmark = pytest.mark.slow


@dataclass
class Setup:
    zp: Zplan
    secret: str
    store: str  # the artifact store URL
    token_file: Path
    leftovers: Callable[[], list[str]]  # where else the secret is found (server tables)


def files_stack(store: str) -> str:
    return f'stack "team" {{\n  artifact_store = "{store}"\n  metadata_store = "sqlite:///.zplan/metadata.db"\n}}\n'


def mariadb_stack(store: str, user: str, server: MariaDBServer, database: str) -> str:
    return f"""stack "team" {{
  artifact_store    = "{store}"
  metadata_store    = "mysql://{user}@{server.host}:{server.port}/{database}"
  metadata_password = var.pw
}}
"""


def mariadb_user(server: MariaDBServer, database: str, password: str) -> str:
    """A user whose password is the secret, allowed on one database (made by root, over the socket)."""
    import pymysql

    user = f"u{uuid.uuid4().hex[:12]}"
    conn = pymysql.connect(unix_socket=str(server.socket), user="root")
    with conn.cursor() as cur:
        cur.execute("CREATE USER %s@'%%' IDENTIFIED BY %s", (user, password))
        cur.execute(f"GRANT ALL PRIVILEGES ON `{database}`.* TO %s@'%%'", (user,))
    conn.close()
    return user


def tables_holding(server: MariaDBServer, database: str, secret: str) -> list[str]:
    conn = server.connect(database)
    found = []
    with conn.cursor() as cur:
        cur.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (database,))
        tables = [row[0] for row in cur.fetchall()]
        assert "zplan_state" in tables and "Execution" in tables  # state and ML Metadata both live here
        for table in tables:
            cur.execute(f"SELECT * FROM `{table}`")
            for row in cur.fetchall():
                if any(secret.encode() in (v if isinstance(v, bytes) else str(v).encode()) for v in row):
                    found.append(f"table {table}")
    conn.close()
    return found


@pytest.fixture(params=["files", "mariadb"])
def setup(request: pytest.FixtureRequest, tmp_path: Path) -> Setup:
    secret = f"pw-{uuid.uuid4().hex}"
    project = copy_project("secrets", tmp_path / "project")
    token_file = tmp_path / "outside" / "token.txt"
    token_file.parent.mkdir()
    leftovers: Callable[[], list[str]] = list
    if request.param == "files":
        store = request.getfixturevalue("s3_url")
        write_stacks(project, files_stack(store))
    else:
        store = request.getfixturevalue("gcs_url")
        server: MariaDBServer = request.getfixturevalue("mariadb_server")
        database = request.getfixturevalue("mysql_url").rsplit("/", 1)[1]
        user = mariadb_user(server, database, secret)
        write_stacks(project, mariadb_stack(store, user, server, database))
        leftovers = lambda: tables_holding(server, database, secret)  # noqa: E731
    env = {"ZPLAN_VAR_pw": secret, "ZPLAN_VAR_token_file": str(token_file)}
    return Setup(Zplan(project, env), secret, store, token_file, leftovers)


def files_holding(root: Path, secret: str) -> list[str]:
    return [str(p.relative_to(root)) for p in sorted(root.rglob("*")) if secret in p.name or (p.is_file() and secret.encode() in p.read_bytes())]


def test_the_secret_reaches_the_step_and_the_resource_and_nothing_else(setup: Setup) -> None:
    zp, secret = setup.zp, setup.secret
    said: list[Result] = []

    def run(*args: str, code: int | None = 0) -> Result:
        said.append(zp(*args, code=code))
        return said[-1]

    # A step that fails with the secret in its message: the message is masked everywhere.
    failed = run("apply", "-auto-approve", "-var", "fail=true", code=1)
    assert "ValueError: pw '(sensitive)' was rejected" in failed.out, failed
    assert "(sensitive)" in run("state", "show", "pipeline.vault.step.fingerprint").out

    for fmt in ("text", "markdown", "json"):
        run("plan", "-format", fmt)
    run("plan", "-out", "reviewed.zplan")
    saved = json.loads((zp.project / "reviewed.zplan").read_text())
    assert saved["sensitive_variables"] == ["pw"] and "pw" not in saved["variables"]
    shown = json.loads(run("show", "-json", "reviewed.zplan").out)
    assert shown["outputs"]["pw"] == {"known": True, "sensitive": True, "value": "(sensitive)"}
    token = next(r for r in shown["resources"] if r["address"] == "resource.local_file.token")
    assert token["after"]["sensitive_content"] == "(sensitive)"
    run("show", "reviewed.zplan")
    applied = run("apply", "reviewed.zplan")
    assert "Apply complete: 1 ok." in applied.out and "pw = (sensitive)" in applied.out  # the file was made by the first apply

    # The secret really arrived: in the step (it returns the hash) and in the resource's file.
    digest = hashlib.sha256(secret.encode()).hexdigest()
    assert json.loads(run("output", "-json").out) == {
        "pw": {"value": None, "sensitive": True}, "pw_sha256": {"value": digest, "sensitive": False}}
    assert setup.token_file.read_text() == f"token={secret}\n"
    assert run("output", "pw").out.strip() == '"(sensitive)"'

    for args in (("output",), ("state", "show", "resource.local_file.token"), ("show",), ("runs", "show", "1"),
                 ("lineage", "pw_sha256")):
        run(*args)
    state = json.loads(run("show", "-json").out)
    assert state["resources"]["resource.local_file.token"]["attributes"]["sensitive_content"] == "(sensitive)"
    assert run("plan", "-detailed-exitcode").code == 0

    assert [str(r) for r in said if secret in r.text] == []
    assert files_holding(zp.project, secret) == []
    stored = bucket_files(setup.store)
    assert stored and [k for k, v in stored.items() if secret.encode() in v or secret in k] == []
    assert setup.leftovers() == []
    # Asked for explicitly, the sealed output opens: it was kept, encrypted.
    assert zp("output", "-raw", "pw").out == secret + "\n"
