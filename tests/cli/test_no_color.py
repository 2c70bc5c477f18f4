"""Output on a terminal: styled, unless -no-color or NO_COLOR ask for plain text (no escape codes at all)."""

from __future__ import annotations

import os
import pty
import subprocess
import sys

import pytest

from tests.cli.helpers import Project, cli_env


def on_a_terminal(project: Project, *args: str, **env: str) -> bytes:
    """What ``zplan ARGS`` writes to a terminal (stdout and stderr both)."""
    plain = {k: v for k, v in cli_env(TERM="xterm", **env).items() if k not in ("NO_COLOR", "ZPLAN_NO_COLOR") or k in env}
    leader, follower = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "zplan.cli", *args], cwd=project.root, stdin=subprocess.DEVNULL,
                            stdout=follower, stderr=follower, env=plain)
    os.close(follower)
    out = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closed with the process
            break
        if not chunk:
            break
        out += chunk
    os.close(leader)
    assert proc.wait(timeout=120) == 0, out.decode(errors="replace")
    return out


def test_a_terminal_gets_styles_by_default(project: Project):
    assert b"\x1b[" in on_a_terminal(project, "plan")


@pytest.mark.parametrize("args, env, shown", [
    (["plan", "-no-color"], {}, b"zplan plan for stack"),
    (["-chdir", ".", "plan", "--no-color"], {}, b"zplan plan for stack"),  # the full command line, not the quick launch
    (["plan"], {"NO_COLOR": "1"}, b"zplan plan for stack"),
    (["apply", "-auto-approve", "-no-color"], {}, b"Apply complete"),  # no live table either
    (["validate", "-no-color"], {}, b"Success!"),
    (["version", "-no-color"], {}, b"zplan v"),  # every command that prints takes it
])
def test_no_color_and_NO_COLOR_write_no_escape_codes(project: Project, args, env, shown):
    out = on_a_terminal(project, *args, **env)
    assert shown in out and b"\x1b" not in out, out
