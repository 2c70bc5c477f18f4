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
    return GitQuery(project_dir).result()


class GitQuery:
    """``git status`` started now and read later: an apply asks as it begins and reads the
    answer when it records its run, so git walks the work tree while the apply goes on
    (in a large repository that walk is the slow part)."""

    def __init__(self, project_dir: Path) -> None:
        try:
            self._proc: subprocess.Popen | None = subprocess.Popen(
                ["git", "-C", str(project_dir), "status", "--porcelain=v2", "--branch", "-z"],
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=_quiet_env(),
            )
        except OSError:  # no git installed
            self._proc = None
        self._answer: GitInfo | None = None

    def result(self) -> GitInfo:
        if self._answer is None:
            self._answer = self._read()
        return self._answer

    def _read(self) -> GitInfo:
        if self._proc is None:
            return NO_GIT
        try:
            out, _ = self._proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.discard()
            return NO_GIT
        if self._proc.returncode != 0:
            return NO_GIT
        return _parse_status(out.decode(errors="replace"))

    def discard(self) -> None:
        """Stop git if it is still running (the answer was not needed); a read-only git holds no lock."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.communicate()


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
