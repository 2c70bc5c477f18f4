"""Drive the real ``zplan`` command line in a subprocess, on a project copied into a temporary folder."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import NamedTuple

import pytest

from zplan.metadata.who import CI_VARIABLES

TESTDATA = Path(__file__).resolve().parents[1] / "testdata"
QUICKSTART = Path(__file__).resolve().parents[2] / "examples" / "quickstart"
_NOT_COPIED = shutil.ignore_patterns(".zplan", "__pycache__", "reports", "*.pyc")

# A user's materializer registered for lists under the name "lines" (one number a line in lines.txt)
LINES_MATERIALIZER = """
import zplan


@zplan.materializer(list, name="lines")
class Lines:
    def save(self, value, folder):
        (folder / "lines.txt").write_text("\\n".join(map(str, value)))

    def load(self, folder):
        return [int(line) for line in (folder / "lines.txt").read_text().splitlines()]
"""


LOCAL_STACK = """stack "local" {
  orchestrator   = "local"
  artifact_store = "file://.zplan/artifacts"
  metadata_store = "sqlite:///.zplan/metadata.db"
}
"""


def with_local_stack(hcl: str) -> str:
    """A configuration (indented as in a test module) after the stack most tests run on."""
    return LOCAL_STACK + "\n" + textwrap.dedent(hcl).lstrip("\n")


class Result(NamedTuple):
    """What one command did: unpacks as (code, out, err)."""

    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err

    def __str__(self) -> str:  # shown by failing asserts
        return f"exit {self.code}\n--- stdout ---\n{self.out}\n--- stderr ---\n{self.err}"


def cli_env(**extra: str) -> dict[str, str]:
    # no ZPLAN_ settings and no CI-service variables of the machine running the tests: runs are recorded
    # as applied by hand unless a test says otherwise
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZPLAN_") and k not in CI_VARIABLES}
    # Plain text, and no stale bytecode when a test edits a step module within the same second.
    env.update(ZPLAN_NO_COLOR="1", NO_COLOR="1", PYTHONDONTWRITEBYTECODE="1", COLUMNS="200")
    if "ZPLAN_PLAN_MEMO" in os.environ:  # (tests/conftest.py: a no-change plan shown again is checked against the plan made again)
        env["ZPLAN_PLAN_MEMO"] = os.environ["ZPLAN_PLAN_MEMO"]
    env.update(extra)
    return env


def zplan(cwd: Path, *args: str, timeout: float = 180, env: dict[str, str] | None = None) -> Result:
    """Run ``python -m zplan.cli ARGS`` in ``cwd`` with standard input not a terminal."""
    proc = subprocess.run(
        [sys.executable, "-m", "zplan.cli", *args],
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env or cli_env(),
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


class Project:
    """A project folder under test, with the commands and file edits tests need."""

    def __init__(self, root: Path) -> None:
        self.root = root

    # -- commands --------------------------------------------------------------------------
    def run(self, *args: str, **kw) -> Result:
        return zplan(self.root, *args, **kw)

    def ok(self, *args: str, **kw) -> Result:
        """Run a command that must succeed (exit 0, no traceback)."""
        result = self.run(*args, **kw)
        assert result.code == 0, str(result)
        assert "Traceback" not in result.err, str(result)
        return result

    def apply(self, *args: str) -> Result:
        return self.ok("apply", "-auto-approve", *args)

    def plan_json(self, *args: str) -> dict:
        return json.loads(self.ok("plan", "-format", "json", *args).out)

    # -- files ---------------------------------------------------------------------------------
    def path(self, rel: str) -> Path:
        return self.root / rel

    def read(self, rel: str) -> str:
        return self.path(rel).read_text()

    def write(self, rel: str, text: str) -> None:
        path = self.path(rel)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)

    def write_all(self, files: dict[str, str]) -> "Project":
        """Write each file (path -> text, indented as in a test module: dedented here)."""
        for rel, text in files.items():
            self.write(rel, textwrap.dedent(text).lstrip("\n"))
        return self

    def replace(self, rel: str, old: str, new: str) -> None:
        """Edit a file; the old text must be there (so a test never edits nothing)."""
        text = self.read(rel)
        assert old in text, f"{old!r} not in {rel}"
        self.write(rel, text.replace(old, new, 1))

    def state(self) -> dict:
        return json.loads(self.path(".zplan/state.json").read_text())

    def step_records(self) -> dict[str, dict]:
        """Short step name -> its latest record, for the project's one store."""
        (store,) = self.state()["stores"].values()
        return {addr.rsplit(".", 1)[1]: rec for addr, rec in store["steps"].items()}

    def clone(self, dest: Path) -> "Project":
        """A copy, state and artifacts included, so a test can change it freely (of the same class)."""
        shutil.copytree(self.root, dest, symlinks=True)
        return type(self)(dest)

    def git_commit_all(self, message: str = "initial") -> str:
        git = ["git", "-C", str(self.root), "-c", "user.name=Test", "-c", "user.email=test@example.com", "-c", "init.defaultBranch=main"]
        subprocess.run([*git, "init", "-q"], check=True)
        subprocess.run([*git, "add", "-A"], check=True)
        subprocess.run([*git, "commit", "-q", "-m", message], check=True)
        return subprocess.run([*git, "rev-parse", "HEAD"], check=True, capture_output=True, text=True).stdout.strip()


def with_store_read_only(project: "Project", *command: str) -> Result:
    """Run ``zplan COMMAND`` with the artifact store read-only and state writable."""
    return with_read_only(project, ".zplan/artifacts", *command)


def with_read_only(project: "Project", folder: str, *command: str) -> Result:
    """Run ``zplan COMMAND`` with ``folder`` (relative to the project) read-only: remounted so as
    root (chmod binds no root), chmod a-w otherwise."""
    path = project.path(folder)
    if os.geteuid() != 0:
        subprocess.run(["chmod", "-R", "a-w", str(path)], check=True)
        try:
            return project.run(*command)
        finally:
            subprocess.run(["chmod", "-R", "u+w", str(path)], check=True)
    if shutil.which("unshare") is None:
        pytest.skip("needs unshare to make a folder read-only as root")
    zplan = " ".join(shlex.quote(a) for a in (sys.executable, "-m", "zplan.cli", *command))
    quoted = shlex.quote(folder)
    script = f"mount --bind {quoted} {quoted} && mount -o remount,bind,ro {quoted} || exit 99; exec {zplan}"
    proc = subprocess.run(["unshare", "-m", "sh", "-c", script], cwd=project.root, env=cli_env(),
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=180)
    if proc.returncode == 99:
        pytest.skip("cannot remount a folder read-only here (no mount namespace)")
    return Result(proc.returncode, proc.stdout, proc.stderr)


# Mounts a small tmpfs over the folder (its files copied in), fills it but for FREE KiB, runs zplan,
# then puts the folder's files as the command left them back in place.
_FULL_DISK = """
set -e
keep=$(mktemp -d)
cp -a {folder}/. "$keep"/
mount -t tmpfs -o size=8m tmpfs {folder} || exit 99
cp -a "$keep"/. {folder}/
head -c 8m /dev/zero > {folder}/.filler 2>/dev/null || true
truncate -s -{free}K {folder}/.filler
set +e
{zplan}
code=$?
rm -f {folder}/.filler
rm -rf "$keep" && mkdir "$keep" && cp -a {folder}/. "$keep"/
umount {folder}
find {folder} -mindepth 1 -delete && cp -a "$keep"/. {folder}/ && rm -rf "$keep"
exit $code
"""


def with_full_disk(project: "Project", folder: str, *command: str, free_kib: int = 4) -> Result:
    """Run ``zplan COMMAND`` with ``folder`` (relative to the project) on a file system that is full but
    for ``free_kib`` (a tmpfs counts whole 4 KiB pages: 4 leaves room for the state lock's info only).
    Needs root and a mount namespace (``unshare -m``); the test is skipped without them."""
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("needs root and unshare to mount a small file system")
    if subprocess.run(["unshare", "-m", "true"], capture_output=True).returncode != 0:
        pytest.skip("cannot make a mount namespace here (unshare -m refused)")
    zplan = " ".join(shlex.quote(a) for a in (sys.executable, "-m", "zplan.cli", *command))
    script = _FULL_DISK.format(folder=shlex.quote(folder), free=free_kib, zplan=zplan)
    proc = subprocess.run(["unshare", "-m", "sh", "-c", script], cwd=project.root, env=cli_env(),
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=180)
    if proc.returncode == 99:
        pytest.skip("cannot mount a small file system here (no mount namespace)")
    return Result(proc.returncode, proc.stdout, proc.stderr)


def copy_project(source: Path, dest: Path) -> Project:
    """A fresh copy of a project folder (no state, no caches)."""
    shutil.copytree(source, dest, ignore=_NOT_COPIED)
    return Project(dest)


# -- reading command output ---------------------------------------------------------------------


def steps_by_action(doc: dict) -> dict[str, set[str]]:
    """From a JSON plan: {"run": {short names}, "cached": {short names}}."""
    out: dict[str, set[str]] = {"run": set(), "cached": set()}
    for step in doc["steps"]:
        out[step["action"]].add(step["step"])
    return out


def reasons(doc: dict) -> dict[str, list[str]]:
    """From a JSON plan: short step name -> its reason messages."""
    return {s["step"]: [r["message"] for r in s["reasons"]] for s in doc["steps"]}


def ran(result: Result) -> set[str]:
    """Short names of the steps an apply actually ran (plain progress lines)."""
    return set(re.findall(r"^pipeline\.\w+\.step\.(\w+): running$", result.out, re.M))


def plan_line(result: Result, step: str) -> str:
    """The text plan's line for one step."""
    lines = [l for l in result.out.splitlines() if re.search(rf"\.step\.{step}\s", l)]
    assert len(lines) == 1, str(result)
    return lines[0]


def closing(fds: tuple[int, ...], argv: list[str]) -> list[str]:
    """``argv`` run with ``fds`` closed by a shell that then execs it. (Not a preexec_fn: Python code
    run between fork and exec in this process, which has threads under pytest-xdist, can kill the
    child before it starts: a test failed once with SIGABRT that way.)"""
    closes = " ".join(f"{fd}<&-" if fd == 0 else f"{fd}>&-" for fd in fds)
    return ["/bin/sh", "-c", f'exec "$@" {closes}', "sh", *argv]
