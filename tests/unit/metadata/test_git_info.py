from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from zplan.metadata import GitInfo, git_info
from zplan.metadata.git import GitQuery


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        check=True, capture_output=True, text=True,
    ).stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    git(tmp_path, "init", "-q", "-b", "main")
    (tmp_path / ".gitignore").write_text(".zplan/\n")
    (tmp_path / "steps.py").write_text("def f(): pass\n")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-q", "-m", "first")
    return tmp_path


def test_clean_repo(repo: Path) -> None:
    assert git_info(repo) == GitInfo(commit=git(repo, "rev-parse", "HEAD"), dirty=False, branch="main")


def test_ignored_files_do_not_make_it_dirty(repo: Path) -> None:
    (repo / ".zplan").mkdir()
    (repo / ".zplan" / "metadata.db").write_text("x")
    assert git_info(repo).dirty is False


@pytest.mark.parametrize("change", ["modify", "untracked"])
def test_dirty_repo(repo: Path, change: str) -> None:
    target = repo / ("steps.py" if change == "modify" else "new_step.py")
    target.write_text("def g(): pass\n")
    assert git_info(repo).dirty is True


def test_detached_head_and_subfolder(repo: Path) -> None:
    head = git(repo, "rev-parse", "HEAD")
    git(repo, "checkout", "-q", "--detach")
    (repo / "sub").mkdir()
    assert git_info(repo / "sub") == GitInfo(commit=head, dirty=False, branch=None)


def test_repo_without_commits(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q", "-b", "dev")
    assert git_info(tmp_path) == GitInfo(commit=None, dirty=False, branch="dev")


def test_outside_a_repo(tmp_path: Path) -> None:
    assert git_info(tmp_path) == GitInfo(None, None, None)
    assert git_info(tmp_path / "missing") == GitInfo(None, None, None)


def test_without_git_installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "no-such-bin"))
    assert git_info(tmp_path) == GitInfo(None, None, None)


def test_a_query_not_needed_is_stopped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # An apply asks git before it opens its run; if opening fails, the query still running is ended.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    slow = bin_dir / "git"
    slow.write_text("#!/bin/sh\nexec sleep 30\n")
    slow.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    query = GitQuery(tmp_path)
    proc = query._proc
    assert proc is not None and proc.poll() is None
    started = time.monotonic()
    query.discard()
    assert proc.returncode is not None and time.monotonic() - started < 5


def test_a_query_answers_once(repo: Path) -> None:
    query = GitQuery(repo)
    first = query.result()
    (repo / "new.py").write_text("x = 1\n")  # the answer is the tree when git was asked
    assert query.result() is first and first.dirty is False
    query.discard()  # already done: nothing to stop
