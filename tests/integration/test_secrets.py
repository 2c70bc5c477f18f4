"""Sensitive variables (a string and a number) through the real CLI: the steps, the resources
and a service really get the values, yet no command prints them and no file zplan wrote (plan
file, state, metadata, caches, logs, artifacts other than the step's own deliberate output)
holds them, in clear or base64, hex or URL-encoded; with a MariaDB stack, where the secret is
also the database password, no table holds it either."""

from __future__ import annotations

import base64
import hashlib
import json
import sys
import uuid
from urllib.parse import quote
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import pytest

from tests.fixtures.mariadb import MariaDBServer
from tests.testdata.team.harness import Result, Zplan, bucket_files, copy_project, write_stacks

pytestmark = pytest.mark.slow


@dataclass
class Setup:
    zp: Zplan
    secret: str
    pin: str
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
def setup(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Setup]:
    secret = f"pw-{uuid.uuid4().hex}/+@"  # characters that URL encoding changes
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
    pin = str(uuid.uuid4().int % 900_000_000 + 100_000_000)  # nine digits, no leading zero
    env = {"ZPLAN_VAR_pw": secret, "ZPLAN_VAR_pin": pin, "ZPLAN_VAR_token_file": str(token_file),
           "ZPLAN_VAR_python": sys.executable, "ZPLAN_STATE_KEY": base64.urlsafe_b64encode(uuid.uuid4().bytes * 2).decode()}
    zp = Zplan(project, env)
    yield Setup(zp, secret, pin, store, token_file, leftovers)
    zp("destroy", "-auto-approve", code=None)  # the service stops, pass or fail


def forms(secret: str, pin: str) -> list[str]:
    """Every spelling of the secrets a careless writer could produce."""
    raw = secret.encode()
    return [secret, base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode(), raw.hex(), quote(secret, safe=""),
            secret.upper(), pin]


def holds(data: bytes | str, spellings: list[str]) -> bool:
    data = data.encode() if isinstance(data, str) else data
    return any(s.encode() in data for s in spellings)


def files_holding(root: Path, spellings: list[str], deliberate: set[str]) -> list[str]:
    """Files (or file names) holding a secret, leaving out artifacts named in ``deliberate``."""
    return [str(p.relative_to(root)) for p in sorted(root.rglob("*"))
            if not any(d in str(p) for d in deliberate) and (holds(p.name, spellings) or (p.is_file() and holds(p.read_bytes(), spellings)))]


def test_the_secret_reaches_the_step_and_the_resource_and_nothing_else(setup: Setup) -> None:
    zp, secret = setup.zp, setup.secret
    spellings = forms(secret, setup.pin)
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
    assert saved["sensitive_variables"] == ["pin", "pw"] and "pw" not in saved["variables"]
    shown = json.loads(run("show", "-json", "reviewed.zplan").out)
    assert shown["outputs"]["pw"] == {"known": True, "sensitive": True, "value": "(sensitive)"}
    token = next(r for r in shown["resources"] if r["address"] == "resource.local_file.token")
    assert token["after"]["sensitive_content"] == "(sensitive)"
    dsn = next(r for r in shown["resources"] if r["address"] == "resource.local_file.dsn")
    assert dsn["after"]["content"] == "(sensitive)" and "content" in dsn["sensitive"]  # computed from the secret
    run("show", "reviewed.zplan")
    applied = run("apply", "reviewed.zplan")
    assert "Apply complete: 1 cached, 1 ok." in applied.out and "pw = <sensitive>" in applied.out  # the rest was made by the first apply

    # The secret really arrived: in the step (it returns the hash) and in the resource's file.
    digest = hashlib.sha256(secret.encode()).hexdigest()
    hidden = {"value": None, "sensitive": True}
    assert json.loads(run("output", "-json").out) == {
        "pw": hidden, "pin": hidden, "db_url": hidden, "echoed": hidden, "pw_sha256": {"value": digest, "sensitive": False}}
    assert setup.token_file.read_text() == f"token={secret}\n"
    assert Path(f"{setup.token_file}.dsn").read_text() == f"postgres://app:{secret}@db/x pin={setup.pin}\n"
    assert run("output", "pw").out.strip() == "<sensitive>"
    # The service got the secret it was given, and none of zplan's own.
    service_log = (zp.project / ".zplan/processes/svc.log").read_text()
    assert "service up; inherited: []" in service_log

    for args in (("output",), ("output", "db_url"), ("show",), ("runs", "show", "1"), ("runs", "show", "2"), ("lineage", "pw_sha256"),
                 ("lineage", "echoed"), *(("state", "show", a) for a in ("resource.local_file.token", "resource.local_file.dsn",
                 "resource.local_sqlite_database.app", "resource.local_process.svc", "pipeline.vault.step.echo"))):
        run(*args)
    state = json.loads(run("show", "-json").out)
    assert state["resources"]["resource.local_file.token"]["attributes"]["sensitive_content"] == "(sensitive)"
    assert state["resources"]["resource.local_process.svc"]["attributes"]["command"] == "(sensitive)"
    assert run("plan", "-detailed-exitcode").code == 0
    refused = run("output", "-raw", "pw", code=1)
    assert "-show-sensitive" in refused.err

    assert [str(r) for r in said if holds(r.text, spellings)] == []
    echoed = step_output_digests(zp, "pipeline.vault.step.echo")
    assert files_holding(zp.project, spellings, echoed) == []
    stored = bucket_files(setup.store)
    assert stored and [k for k, v in stored.items() if not any(d in k for d in echoed) and (holds(v, spellings) or holds(k, spellings))] == []
    assert setup.leftovers() == []
    # Asked for explicitly, the sealed outputs open: they were kept, encrypted.
    assert zp("output", "-raw", "-show-sensitive", "pw").out == secret + "\n"
    assert zp("output", "-raw", "-show-sensitive", "echoed").out == f"{secret}:{setup.pin}\n"
    assert zp("output", "-show-sensitive", "pin").out == setup.pin + "\n"


def step_output_digests(zp: Zplan, address: str) -> set[str]:
    """The artifacts a step made on purpose (the echo step returns the secret: that is its job)."""
    step = json.loads(zp("show", "-json").out)["steps"][address]
    assert step["outputs"]["output"]["value"] == "(sensitive)"  # kept sealed in state, shown hidden
    return {o["digest"] for o in step["outputs"].values()}
