"""A secret through steps and expressions, on a local project: a step's log keeps the line,
not the secret, even when the step is killed half-way; whatever is computed from a
secret is sensitive too (outputs must say so, a step fed one has sensitive outputs)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.integration.test_resources_cli import zplan

SECRET = "hunter2-correct-horse"
PIN = "918273645"
ENV = {"ZPLAN_VAR_pw": SECRET, "ZPLAN_VAR_pin": PIN}
VARIABLES = 'variable "pw" {\n  sensitive = true\n}\n\nvariable "pin" {\n  type      = number\n  sensitive = true\n}\n\n'


def leaked(root: Path) -> list[str]:
    return [str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and (SECRET.encode() in p.read_bytes() or PIN.encode() in p.read_bytes())]


def write(project: Path, hcl: str, steps: str) -> None:
    (project / "main.zp.hcl").write_text(VARIABLES + hcl)
    (project / "steps.py").write_text(steps)


def test_printed_secrets_are_redacted_from_step_logs(tmp_path: Path) -> None:
    write(tmp_path, 'pipeline "p" {\n  step "s" {\n    source = "steps.py:s"\n    params = { pw = var.pw, pin = var.pin }\n  }\n}\n',
          'def s(pw, pin):\n    print("the password is", pw, "and the pin", pin)\n    return len(pw)\n')
    proc = zplan(tmp_path, "apply", "-auto-approve", env=ENV)
    assert proc.returncode == 0, proc.stderr
    logs = list((tmp_path / ".zplan/logs").rglob("*.log"))
    assert logs and "the password is (sensitive) and the pin (sensitive)" in logs[0].read_text()
    assert leaked(tmp_path) == []


def test_a_step_killed_half_way_leaves_no_secret_in_its_log(tmp_path: Path) -> None:
    write(tmp_path, 'pipeline "p" {\n  step "s" {\n    source = "steps.py:s"\n    params = { pw = var.pw }\n  }\n}\n',
          'import time\n\ndef s(pw):\n    print("connecting with", pw, flush=True)\n    time.sleep(120)\n')
    apply = subprocess.Popen([sys.executable, "-m", "zplan.cli.app", "apply", "-auto-approve"], cwd=tmp_path, start_new_session=True,
                             env={**os.environ, "ZPLAN_NO_COLOR": "1", **ENV}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not any("connecting" in p.read_text() for p in (tmp_path / ".zplan").rglob("*.log")):
            assert time.monotonic() < deadline and apply.poll() is None, "the step never wrote its line"
            time.sleep(0.05)
    finally:
        os.killpg(apply.pid, signal.SIGKILL)  # apply and its workers, mid-step
        apply.wait()
    log = next(p for p in (tmp_path / ".zplan").rglob("*.log") if "connecting" in p.read_text())
    assert "connecting with (sensitive)" in log.read_text()
    assert leaked(tmp_path) == []


def test_an_output_computed_from_a_secret_must_be_declared_sensitive(tmp_path: Path) -> None:
    write(tmp_path, 'locals {\n  url = "postgres://app:${var.pw}@db/x"\n}\n\noutput "db_url" {\n  value = upper(local.url)\n}\n\n'
                    'output "pin" {\n  value = [var.pin > 0 ? "positive" : "not"]\n}\n\noutput "plain" {\n  value = true ? "x" : var.pw\n}\n', "")
    proc = zplan(tmp_path, "plan", env=ENV)
    assert proc.returncode == 1
    assert "Output refers to sensitive values" in proc.stderr and "main.zp.hcl:" in proc.stderr
    assert 'output "db_url"' in proc.stderr and SECRET not in proc.stdout + proc.stderr

    # Declared sensitive, it is planned, applied and stored sealed; the branch not taken does not count.
    hcl = (tmp_path / "main.zp.hcl").read_text()
    hcl = hcl.replace("value = upper(local.url)", "value = upper(local.url)\n  sensitive = true")
    hcl = hcl.replace('value = [var.pin > 0 ? "positive" : "not"]', 'value = [var.pin > 0 ? "positive" : "not"]\n  sensitive = true')
    (tmp_path / "main.zp.hcl").write_text(hcl)
    proc = zplan(tmp_path, "apply", "-auto-approve", env=ENV)
    assert proc.returncode == 0, proc.stderr
    outputs = json.loads(zplan(tmp_path, "output", "-json", env=ENV).stdout)
    assert outputs == {"db_url": {"value": None, "sensitive": True}, "pin": {"value": None, "sensitive": True},
                       "plain": {"value": "x", "sensitive": False}}
    assert SECRET.upper().encode() not in (tmp_path / ".zplan/state.json").read_bytes()

    # -raw alone never prints a secret; -show-sensitive does.
    refused = zplan(tmp_path, "output", "-raw", "db_url", env=ENV)
    assert refused.returncode == 1 and "-show-sensitive" in refused.stderr and SECRET.upper() not in refused.stdout
    shown = zplan(tmp_path, "output", "-raw", "-show-sensitive", "db_url", env=ENV)
    assert shown.stdout == f"POSTGRES://APP:{SECRET.upper()}@DB/X\n"


def test_a_step_fed_a_secret_has_sensitive_outputs_unless_it_says_otherwise(tmp_path: Path) -> None:
    steps = ('import hashlib\nimport zplan\n\ndef token(pw):\n    return "Bearer " + pw\n\n'
             'def wrap(t):\n    return {"auth": t}\n\n'
             '@zplan.step(sensitive_outputs=False)\ndef digest(t):\n    return hashlib.sha256(t["auth"].encode()).hexdigest()\n')
    hcl = ('pipeline "p" {\n  step "token" {\n    source = "steps.py:token"\n    params = { pw = var.pw }\n  }\n'
           '  step "wrap" {\n    source = "steps.py:wrap"\n    inputs = { t = step.token.outputs.output }\n  }\n'
           '  step "digest" {\n    source = "steps.py:digest"\n    inputs = { t = step.wrap.outputs.output }\n  }\n}\n\n'
           'output "wrapped" {\n  value = step.wrap.outputs.output\n}\n\noutput "digest" {\n  value = step.digest.outputs.output\n}\n')
    write(tmp_path, hcl, steps)
    proc = zplan(tmp_path, "plan", env=ENV)
    assert proc.returncode == 1 and 'output "wrapped"' in proc.stderr and "Output refers to sensitive values" in proc.stderr

    write(tmp_path, hcl.replace("value = step.wrap.outputs.output", "value = step.wrap.outputs.output\n  sensitive = true"), steps)
    proc = zplan(tmp_path, "apply", "-auto-approve", env=ENV)
    assert proc.returncode == 0, proc.stderr
    outputs = json.loads(zplan(tmp_path, "output", "-json", env=ENV).stdout)
    assert outputs["wrapped"] == {"value": None, "sensitive": True} and len(outputs["digest"]["value"]) == 64
    state = (tmp_path / ".zplan/state.json").read_bytes()
    assert SECRET.encode() not in state  # the small values kept for `zplan output` are sealed
    shown = zplan(tmp_path, "state", "show", "pipeline.p.step.token", env=ENV)
    assert SECRET not in shown.stdout


def test_a_provider_error_quoting_the_secret_is_redacted(tmp_path: Path) -> None:
    write(tmp_path, 'resource "local_sqlite_database" "app" {\n  path     = "app.db"\n'
                    '  init_sql = "CREATE TABLE x (a TEXT); INSERT INTO x VALUES (${var.pw});"\n}\n', "")
    env = {**ENV, "ZPLAN_VAR_pw": "hunter2xyz"}  # SQLite names it back: "no such column: hunter2xyz"
    proc = zplan(tmp_path, "apply", "-auto-approve", env=env)
    assert proc.returncode == 1 and "no such column: (sensitive)" in proc.stdout + proc.stderr
    assert "hunter2xyz" not in proc.stdout + proc.stderr


def test_a_number_computed_from_a_secret_is_kept_sealed_in_state(tmp_path: Path) -> None:
    """A number's materializer keeps the number beside the artifact for `state show`; for a step
    given a secret it is sealed there too, as its value for `zplan output` is."""
    write(tmp_path, 'pipeline "p" {\n  step "s" {\n    source = "steps.py:s"\n    params = { pin = var.pin }\n  }\n}\n',
          'def s(pin):\n    return pin * 1000 + 7\n')
    proc = zplan(tmp_path, "apply", "-auto-approve", env=ENV)
    assert proc.returncode == 0, proc.stderr
    computed = str(int(PIN) * 1000 + 7)
    assert computed.encode() not in (tmp_path / ".zplan/state.json").read_bytes()
    shown = zplan(tmp_path, "state", "show", "pipeline.p.step.s", env=ENV)
    assert shown.returncode == 0 and computed not in shown.stdout and "(sensitive)" in shown.stdout


def test_the_facts_a_user_materializer_returns_for_a_sensitive_output_are_sealed(tmp_path: Path) -> None:
    """zplan cannot tell what a user's materializer returns from ``save`` free of the secret: for a
    step given one, each fact is sealed in state and shown as sensitive, its name kept."""
    steps = ('import zplan\n\n\nclass Token:\n    def __init__(self, text):\n        self.text = text\n\n\n'
             '@zplan.materializer(Token)\nclass TokenMaterializer:\n    name = "token"\n    version = "1"\n\n'
             '    def save(self, value, folder):\n        (folder / "token.txt").write_text(value.text)\n'
             '        return {"prefix": value.text[:12], "length": len(value.text)}\n\n'
             '    def load(self, folder):\n        return Token((folder / "token.txt").read_text())\n\n\n'
             'def s(pw):\n    return Token("Bearer " + pw)\n')
    write(tmp_path, 'pipeline "p" {\n  step "s" {\n    source = "steps.py:s"\n    params = { pw = var.pw }\n  }\n}\n', steps)
    proc = zplan(tmp_path, "apply", "-auto-approve", env=ENV)
    assert proc.returncode == 0, proc.stderr
    assert b"Bearer hunte" not in (tmp_path / ".zplan/state.json").read_bytes()
    shown = zplan(tmp_path, "state", "show", "pipeline.p.step.s", env=ENV)
    meta = json.loads(shown.stdout)["outputs"]["output"]["meta"]
    assert meta == {"length": "(sensitive)", "prefix": "(sensitive)"}
    assert zplan(tmp_path, "plan", env=ENV).stdout.count("1 cached") == 1  # the sealed facts still make a cache hit


def test_what_a_step_given_a_secret_logs_as_metadata_is_hidden(tmp_path: Path) -> None:
    """zplan.log_metadata() in a step given a secret: only the secret's own text was hidden, so a
    prefix or a transform of it reached ML Metadata, `runs show` and the dashboard in clear."""
    write(tmp_path, 'pipeline "p" {\n  step "s" {\n    source = "steps.py:s"\n    params = { pw = var.pw }\n  }\n}\n',
          'import zplan\n\ndef s(pw):\n    zplan.log_metadata({"prefix": pw[:9], "upper": pw.upper(), "n": len(pw)})\n    return 1\n')
    proc = zplan(tmp_path, "apply", "-auto-approve", env=ENV)
    assert proc.returncode == 0, proc.stderr
    shown = zplan(tmp_path, "runs", "show", "1", env=ENV).stdout
    assert 'metadata {"n": <sensitive>, "prefix": <sensitive>, "upper": <sensitive>}' in shown, shown
    db = (tmp_path / ".zplan/metadata.db").read_bytes()
    assert SECRET[:9].encode() not in db and SECRET.upper().encode() not in db


def test_a_script_step_given_a_secret_in_its_command_has_sensitive_outputs(tmp_path: Path) -> None:
    """Only a step's params and inputs made its outputs sensitive: a script step given the secret
    in its command kept the values of its metrics file in clear in state, for state show."""
    write(tmp_path, 'pipeline "p" {\n  step "s" {\n    command = ["python", "m.py", upper(var.pw)]\n'
                    '    metrics = ["metrics.json"]\n  }\n}\n\noutput "m" {\n  value = step.s.outputs["metrics.json"]\n}\n', "")
    (tmp_path / "m.py").write_text('import json, sys\njson.dump({"head": sys.argv[1][:9]}, open("metrics.json", "w"))\n')
    proc = zplan(tmp_path, "plan", env=ENV)
    assert proc.returncode == 1 and 'output "m"' in proc.stderr and "Output refers to sensitive values" in proc.stderr
    (tmp_path / "main.zp.hcl").write_text((tmp_path / "main.zp.hcl").read_text().replace(']\n}\n', ']\n  sensitive = true\n}\n'))
    proc = zplan(tmp_path, "apply", "-auto-approve", env=ENV)
    assert proc.returncode == 0, proc.stderr
    assert SECRET.upper()[:9].encode() not in (tmp_path / ".zplan/state.json").read_bytes()
    shown = zplan(tmp_path, "state", "show", "pipeline.p.step.s", env=ENV)
    assert shown.returncode == 0 and SECRET.upper()[:9] not in shown.stdout and '"value": "(sensitive)"' in shown.stdout
