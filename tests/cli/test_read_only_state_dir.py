"""A read-only .zplan folder (a bind mount remounted read-only, or no write permission): commands that
lock state say which folder and what to do, never "internal error"; commands that only read work."""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

import pytest

from zplan.diags import DiagnosticError
from zplan.state.backend import FileBackend

from .helpers import Project, Result, with_read_only

CHANGING = [("apply", "-auto-approve"), ("destroy", "-auto-approve"), ("state", "rm", "resource.local_directory.x"), ("gc", "-dry-run")]
READING = [("plan",), ("show",), ("output",), ("runs",), ("state", "list"), ("verify",)]


def _read_only(project: Project, *command: str) -> Result:
    """Run ``zplan COMMAND`` with .zplan read-only."""
    return with_read_only(project, ".zplan", *command)


@pytest.fixture
def ro(applied: Project) -> Project:
    if os.geteuid() == 0 and shutil.which("unshare") is None:
        pytest.skip("needs unshare to make a folder read-only as root")
    return applied


@pytest.mark.parametrize("command", CHANGING, ids=" ".join)
def test_commands_that_lock_state_name_the_read_only_folder(ro: Project, command):
    before = ro.path(".zplan/state.json").read_bytes()
    code, _, err = _read_only(ro, *command)
    assert code == 1 and "internal error" not in err and "Traceback" not in err, err
    assert f"cannot lock the state: {ro.path('.zplan')} is read-only" in err and "make it writable" in err, err
    assert ro.path(".zplan/state.json").read_bytes() == before


@pytest.mark.parametrize("command", READING, ids=" ".join)
def test_commands_that_only_read_still_work(ro: Project, command):
    result = _read_only(ro, *command)
    assert result.code == 0, str(result)


@pytest.mark.parametrize("code", [errno.EROFS, errno.EACCES])
def test_the_lock_names_a_folder_it_cannot_write_in(tmp_path: Path, monkeypatch, code: int):
    def refuse(*args, **kwargs):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr("zplan.state.backend.os.open", refuse)
    with pytest.raises(DiagnosticError, match=f"cannot lock the state: {tmp_path} is read-only"):
        with FileBackend(tmp_path / "state.json").lock("apply"):
            pass


def test_a_folder_without_write_permission_is_named_even_when_the_lock_file_is_writable(tmp_path: Path, monkeypatch):
    monkeypatch.setattr("zplan.state.backend.os.access", lambda path, mode: Path(path) != tmp_path)
    with pytest.raises(DiagnosticError, match="this user may not write in it"):
        with FileBackend(tmp_path / "state.json").lock("apply"):
            pass
