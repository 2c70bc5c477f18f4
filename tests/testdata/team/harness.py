"""What the team-backend tests share: copying a test project and driving the real CLI.

Every command runs as its own ``python -m zplan.cli.app`` process, as a user would
run it, with the current environment (which the server fixtures fill with the S3
and GCS client settings) plus whatever the test adds.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

HERE = Path(__file__).resolve().parent
QUICKSTART = HERE.parents[2] / "examples" / "quickstart"
COMMAND_TIMEOUT = 180  # seconds; a hung command must fail the test, not stall the suite


def copy_project(source: Path | str, dest: Path) -> Path:
    """A fresh copy of a project (a name under this folder, or a path), without run leftovers."""
    src = HERE / source if isinstance(source, str) else source
    shutil.copytree(src, dest, ignore=shutil.ignore_patterns(".zplan", "__pycache__", "reports", "*.zplan"))
    return dest


def write_stacks(project: Path, text: str) -> None:
    (project / "stacks.zp.hcl").write_text(text)


@dataclass(frozen=True)
class Result:
    args: tuple[str, ...]
    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err

    def __str__(self) -> str:  # shown by a failing assert
        return f"zplan {' '.join(self.args)} -> exit {self.code}\n--- stdout\n{self.out}\n--- stderr\n{self.err}"


class Zplan:
    """``zplan ...`` in one project folder; ``env`` adds to (or overrides) the environment."""

    def __init__(self, project: Path, env: Mapping[str, str] | None = None) -> None:
        self.project = project
        self.env = dict(env or {})

    def environ(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        env = {**os.environ, "ZPLAN_NO_COLOR": "1", "GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT": "false", **self.env, **(extra or {})}
        env.pop("ZPLAN_DEBUG", None)  # user-facing output, as a user sees it
        return env

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "zplan.cli.app", *args]

    def __call__(self, *args: str, code: int | None = 0, env: Mapping[str, str] | None = None) -> Result:
        """Run and wait; ``code`` is the exit code expected (None: any)."""
        proc = subprocess.run(
            self.command(*args), cwd=self.project, env=self.environ(env), capture_output=True, text=True,
            stdin=subprocess.DEVNULL, timeout=COMMAND_TIMEOUT,
        )
        result = Result(args, proc.returncode, proc.stdout, proc.stderr)
        assert code is None or result.code == code, str(result)
        assert "Traceback" not in result.err, str(result)
        return result

    def start(self, *args: str, stderr: Path, env: Mapping[str, str] | None = None) -> subprocess.Popen:
        """Start without waiting; stderr goes to a file the test can watch while it runs."""
        return subprocess.Popen(
            self.command(*args), cwd=self.project, env=self.environ(env), stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=stderr.open("w"), text=True,
        )


def step_lines(plan_text: str) -> dict[str, str]:
    """``{step address: "cached" | "will run"}`` from a text plan (the verbose form lists every step)."""
    out = {}
    for line in plan_text.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[1].startswith("pipeline.") and parts[0] in ("=", "+", "~"):
            out[parts[1]] = "cached" if parts[2] == "cached" else "will run"
    return out


def bucket_files(url: str) -> dict[str, bytes]:
    """Every object under an ``s3://`` or ``gs://`` URL, read back through a fresh client."""
    import fsspec

    protocol, _, root = url.partition("://")
    options = {"token": "anon"} if protocol == "gs" else {}
    fs = fsspec.filesystem(protocol, use_listings_cache=False, skip_instance_cache=True, **options)
    return {path[len(root):].lstrip("/"): fs.cat_file(path) for path in fs.find(root)}
