"""Temp folders locked by their writer: a live writer's folder is never swept, a dead one's always is."""

from __future__ import annotations

import errno
import fcntl
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from zplan.artifacts import temp_area
from zplan.artifacts.temp_area import TempArea

REPO = Path(__file__).resolve().parents[3]

_HOLDS_A_FOLDER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from zplan.artifacts.temp_area import TempArea

    with TempArea(Path(sys.argv[1])).folder() as folder:
        (folder / "partial").write_bytes(b"...")
        print(folder.name, flush=True)
        sys.stdin.read()  # until told to finish, or killed
    """
)


def _writer(parent: Path) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, "-c", _HOLDS_A_FOLDER, str(parent)], cwd=REPO,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    return proc, proc.stdout.readline().strip()


def test_a_folder_is_its_own_lock_and_nothing_is_left_after_it(tmp_path: Path) -> None:
    area = TempArea(tmp_path / ".tmp")
    with area.folder() as folder:
        assert folder.is_dir() and folder.parent == area.parent
        assert os.listdir(area.parent) == [folder.name]  # no lock file beside it
    assert os.listdir(area.parent) == []


def test_another_processs_live_folder_is_spared_and_swept_once_it_died(tmp_path: Path) -> None:
    parent = tmp_path / ".tmp"
    proc, name = _writer(parent)
    try:
        TempArea(parent).sweep()
        assert (parent / name / "partial").exists()  # its writer holds the lock
    finally:
        proc.kill()
        proc.wait(30)
        proc.stdin.close()
        proc.stdout.close()
    area = TempArea(parent)
    with area.folder():  # the first folder of a process sweeps
        assert not (parent / name).exists()


def test_a_folder_swept_between_its_mkdir_and_its_lock_is_given_up_for_another(tmp_path: Path, monkeypatch) -> None:
    area = TempArea(tmp_path / ".tmp")
    area.parent.mkdir()
    area._swept_by = os.getpid()
    real_flock, taken = fcntl.flock, []

    def swept_first(fd: int, op: int) -> None:
        if not taken:  # another process's sweep takes the new, still unlocked folder and removes it
            taken.append(os.listdir(area.parent)[0])
            temp_area._sweep_folder(area.parent / taken[0])
        real_flock(fd, op)

    monkeypatch.setattr(fcntl, "flock", swept_first)
    with area.folder() as folder:
        assert folder.name != taken[0] and folder.is_dir()
        assert os.listdir(area.parent) == [folder.name]


def test_where_folders_cannot_be_locked_a_lock_file_takes_the_lock(tmp_path: Path, monkeypatch) -> None:
    real_flock = fcntl.flock

    def files_only(fd: int, op: int) -> None:  # as flock emulated over NFS: needs a file open for writing
        if os.path.isdir(f"/proc/self/fd/{fd}"):
            raise OSError(errno.EBADF, "Bad file descriptor")
        real_flock(fd, op)

    monkeypatch.setattr(fcntl, "flock", files_only)
    area = TempArea(tmp_path / ".tmp")
    with area.folder() as folder:
        assert sorted(os.listdir(area.parent)) == sorted([folder.name, f"{folder.name}.lock"])
        (folder / "x").write_bytes(b"1")
        other = TempArea(area.parent)
        other.sweep()  # another writer's sweep: the lock file is held, the folder spared
        assert (folder / "x").exists()
    assert os.listdir(area.parent) == []


def test_the_leftovers_of_the_older_lock_files_are_swept_and_a_live_one_spared(tmp_path: Path) -> None:
    parent = tmp_path / ".tmp"
    for name in ("dead", "live"):
        (parent / name).mkdir(parents=True)
        (parent / name / "partial").write_bytes(b"...")
        (parent / f"{name}.lock").write_bytes(b"")
    fd = os.open(parent / "live.lock", os.O_WRONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # an older writer, alive, holding its lock file
        TempArea(parent).sweep()
        assert sorted(os.listdir(parent)) == ["live", "live.lock"]
    finally:
        os.close(fd)
    TempArea(parent).sweep()
    assert os.listdir(parent) == []


@pytest.mark.parametrize("what", ["file", "symlink"])
def test_the_sweep_leaves_what_is_not_a_folder_alone(tmp_path: Path, what: str) -> None:
    parent = tmp_path / ".tmp"
    parent.mkdir()
    target = tmp_path / "elsewhere"
    target.mkdir()
    (target / "keep").write_bytes(b"1")
    if what == "file":
        (parent / "stray").write_bytes(b"x")
    else:
        (parent / "stray").symlink_to(target)
    TempArea(parent).sweep()
    assert (target / "keep").exists() and os.path.lexists(parent / "stray")
