"""A step that prints a secret: its log keeps the line, not the secret."""

from __future__ import annotations

from pathlib import Path

from tests.integration.test_resources_cli import zplan

SECRET = "hunter2-correct-horse"


def test_printed_secrets_are_redacted_from_step_logs(tmp_path: Path) -> None:
    (tmp_path / "main.zp.hcl").write_text(
        'variable "pw" {\n  sensitive = true\n}\n\npipeline "p" {\n  step "s" {\n'
        '    source = "steps.py:s"\n    params = { pw = var.pw }\n  }\n}\n'
    )
    (tmp_path / "steps.py").write_text('def s(pw):\n    print("the password is", pw)\n    return len(pw)\n')
    proc = zplan(tmp_path, "apply", "-auto-approve", env={"ZPLAN_VAR_pw": SECRET})
    assert proc.returncode == 0, proc.stderr
    logs = list((tmp_path / ".zplan/logs").rglob("*.log"))
    assert logs and "the password is (sensitive)" in logs[0].read_text()
    leaked = [p for p in tmp_path.rglob("*") if p.is_file() and SECRET.encode() in p.read_bytes()]
    assert leaked == []
