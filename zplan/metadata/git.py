"""The git commit, dirty flag and branch of a project, recorded for lineage (never for cache keys)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from zplan.metadata.records import GitInfo

NO_GIT = GitInfo(commit=None, dirty=None, branch=None)


def git_info(project_dir: Path) -> GitInfo:
    """Ask git once (``status --porcelain=v2 --branch`` carries all three facts).

    Outside a repository, or without git installed, every field is None.
    Untracked files make the tree dirty too: a new, uncommitted step module
    changes what a run did. Ignored files (data, .zplan/) do not.
    """
    try:
        proc = subprocess.run(
            ["git", "-C", str(project_dir), "status", "--porcelain=v2", "--branch", "-z"],
            capture_output=True,
            timeout=30,
            env=_quiet_env(),
        )
    except (OSError, subprocess.TimeoutExpired):
        return NO_GIT
    if proc.returncode != 0:
        return NO_GIT
    return _parse_status(proc.stdout.decode(errors="replace"))


def _parse_status(out: str) -> GitInfo:
    commit = branch = None
    dirty = False
    for entry in out.split("\0"):
        if entry.startswith("# branch.oid "):
            oid = entry.removeprefix("# branch.oid ")
            commit = None if oid == "(initial)" else oid
        elif entry.startswith("# branch.head "):
            head = entry.removeprefix("# branch.head ")
            branch = None if head == "(detached)" else head
        elif entry and not entry.startswith("#"):
            dirty = True
    return GitInfo(commit=commit, dirty=dirty, branch=branch)


def _quiet_env() -> dict[str, str]:
    # Never block on a pager or prompt, and keep git from taking index locks for a read.
    return {**os.environ, "GIT_OPTIONAL_LOCKS": "0", "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"}
