from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from zplan.metadata import GitInfo, git_info


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
