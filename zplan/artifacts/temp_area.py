"""Private temp folders for writers that may run in parallel processes.

Each folder is locked (``flock``) by its writer from just after it is made until it is
gone or published by a rename. A process that dies mid-write releases its locks, so the
next writer removes its leftovers, and never a folder another process is still filling.
Leftovers are swept once per process (its first temp folder), not before every write.

The lock is taken on the folder itself: no lock file, so a folder costs one inode, not
two (creating an inode is the dearest call a write makes, ~0.5 ms on some virtual disks).
Where a directory cannot be locked (``flock`` emulated over NFS needs a file open for
writing), a lock file ``<folder>.lock`` beside it takes the lock, as older versions of
zplan always did; the sweep understands both.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
from pathlib import Path
from typing import Iterator

_NO_DIR_LOCKS = (errno.EBADF, errno.EINVAL, errno.ENOLCK, errno.EOPNOTSUPP)


class TempArea:
    """Temp folders under one parent, each locked while in use."""

    def __init__(self, parent: Path) -> None:
        self.parent = parent
        self._swept_by: int | None = None  # the process that swept (a forked child sweeps again)
        self._dir_locks = True  # False once the file system refused a lock on a folder

    @contextlib.contextmanager
    def folder(self) -> Iterator[Path]:
        if self._swept_by != os.getpid():
            self.parent.mkdir(parents=True, exist_ok=True)
            self.sweep()
            self._swept_by = os.getpid()
        path, fd, lock_file = self._locked_folder()
        try:
            yield path
        finally:
            try:
                if os.path.lexists(path):  # not when its content was published by a rename
                    remove_tree(path)
                if lock_file is not None:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(lock_file)
            finally:
                os.close(fd)

    def _locked_folder(self) -> tuple[Path, int, Path | None]:
        """A new empty folder and the descriptor holding its lock (with its lock file, if any)."""
        while True:
            path = self.parent / f"{os.getpid()}-{os.urandom(8).hex()}"
            if not self._dir_locks:
                return path, *_folder_with_lock_file(path)
            _make_folder(path)
            try:
                fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
            except FileNotFoundError:  # swept between the mkdir and the lock: take another
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)  # blocks while a sweeper that got it first removes it
            except OSError as exc:
                os.close(fd)
                if exc.errno not in _NO_DIR_LOCKS:
                    raise
                self._dir_locks = False
                os.rmdir(path)
                continue
            if _still_there(path, fd):
                return path, fd, None
            os.close(fd)  # a sweeper took it for a dead writer's: take another

    def sweep(self) -> None:
        """Remove the folders (and lock files) of writers that are gone."""
        try:
            names = os.listdir(self.parent)
        except FileNotFoundError:
            return
        for name in names:
            path = self.parent / name
            if name.endswith(".lock"):
                _sweep_lock_file(path)
            elif f"{name}.lock" not in names:  # (a lock file decides for its folder)
                _sweep_folder(path)


def remove_tree(path: Path) -> None:
    import shutil  # here: planning imports this module, and shutil costs ~1.5 ms to import

    shutil.rmtree(path, ignore_errors=True)


def _make_folder(path: Path) -> None:
    try:
        os.mkdir(path)
    except FileNotFoundError:  # the parent was removed since the sweep
        path.parent.mkdir(parents=True, exist_ok=True)
        os.mkdir(path)


def _still_there(path: Path, fd: int) -> bool:
    try:
        return os.path.samestat(os.fstat(fd), os.stat(path))
    except FileNotFoundError:
        return False


def _folder_with_lock_file(path: Path) -> tuple[int, Path]:
    """The older way: a lock file, locked before the folder exists and removed after it is gone."""
    lock = path.with_name(f"{path.name}.lock")
    try:
        fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileNotFoundError:  # the parent was removed since the sweep
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.mkdir(path)
    except BaseException:
        os.close(fd)
        lock.unlink(missing_ok=True)
        raise
    return fd, lock


def _sweep_folder(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError:  # gone, or not a folder
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:  # its writer is alive (or folders cannot be locked here: left alone)
        os.close(fd)
        return
    try:
        if not os.path.lexists(f"{path}.lock"):  # (a writer of the older way: its lock file decides)
            remove_tree(path)
    finally:
        os.close(fd)


def _sweep_lock_file(lock: Path) -> None:
    try:
        fd = os.open(lock, os.O_WRONLY)
    except FileNotFoundError:
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)  # its writer is alive
        return
    try:
        remove_tree(lock.with_suffix(""))
        lock.unlink(missing_ok=True)
    finally:
        os.close(fd)
