"""Where state lives and how it is locked: a small interface and the local-file backend.

The state document is JSON-able (see ``zplan.state.model`` for its shape and
version upgrades). A backend only stores it, replaces it atomically and holds a
lock around changes; the MySQL backend implements the same interface so a team
shares one truth.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import errno
import fcntl
import getpass
import json
import os
import socket
import sys
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Iterator, Protocol

from zplan.fsutil import atomic_write_text


@dataclass(frozen=True)
class LockInfo:
    """Who holds the state lock, shown to whoever has to wait for it."""

    id: str
    operation: str  # e.g. "apply"
    who: str  # user@host
    host: str
    pid: int
    created: str  # ISO-8601, UTC

    @classmethod
    def new(cls, operation: str) -> "LockInfo":
        host = socket.gethostname()
        try:
            user = getpass.getuser()
        except Exception:  # no passwd entry in some containers
            user = str(os.getuid())
        return cls(
            id=str(uuid.uuid4()),
            operation=operation,
            who=f"{user}@{host}",
            host=host,
            pid=os.getpid(),
            created=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        )

    def describe(self) -> str:
        return f"ID {self.id}, {self.operation} by {self.who} (pid {self.pid}) since {self.created}"


class StateLockedError(Exception):
    def __init__(self, holder: LockInfo | None, waited: float) -> None:
        self.holder = holder
        self.waited = waited
        who = holder.describe() if holder else "an unknown holder"
        super().__init__(f"state is locked: {who}")


# on_wait(holder, seconds_left) is called about once a second while waiting.
WaitCallback = Callable[[LockInfo | None, float], None]
# on_stale(holder) is called when a dead holder's lock is taken over.
StaleCallback = Callable[[LockInfo], None]


class StateBackend(Protocol):
    def read(self) -> dict | None: ...

    def write(self, doc: dict) -> None: ...

    def lock(
        self,
        operation: str,
        timeout: float = 0.0,
        on_wait: WaitCallback | None = None,
        on_stale: StaleCallback | None = None,
    ) -> contextlib.AbstractContextManager[LockInfo]: ...

    def current_lock(self) -> LockInfo | None: ...

    def force_unlock(self, lock_id: str) -> None: ...

    def describe(self) -> str: ...


class FileBackend:
    """State in a JSON file; the lock is an OS file lock (``flock``) beside it.

    The kernel drops an ``flock`` when its holder dies, so a killed apply never
    leaves the project locked; the holder info it left behind is reported as stale.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock_path = path.with_name(path.name + ".lock")

    def describe(self) -> str:
        return f"file {self.path}"

    def read(self) -> dict | None:
        try:
            return json.loads(self.path.read_bytes())
        except FileNotFoundError:
            return None

    def write(self, doc: dict) -> None:
        # Compact on purpose: indented JSON goes through Python's slow encoder, and state
        # is written often during an apply. `zplan show -json` prints it readably.
        atomic_write_text(self.path, json.dumps(doc, sort_keys=True, separators=(",", ":")) + "\n")

    def current_lock(self) -> LockInfo | None:
        info = _read_info(self.lock_path)
        if info is None:
            return None
        fd = os.open(self.lock_path, os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return info  # held right now
        else:
            fcntl.flock(fd, fcntl.LOCK_UN)
            return None  # left behind by a dead holder: not a lock any more
        finally:
            os.close(fd)

    def force_unlock(self, lock_id: str) -> None:
        info = _read_info(self.lock_path)
        if info is None or info.id != lock_id:
            raise KeyError(lock_id)
        # The flock itself dies with its holder; clearing the info is all that is left.
        self.lock_path.write_text("")

    @contextlib.contextmanager
    def lock(
        self,
        operation: str,
        timeout: float = 0.0,
        on_wait: WaitCallback | None = None,
        on_stale: StaleCallback | None = None,
    ) -> Iterator[LockInfo]:
        self.lock_path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            _acquire(fd, self.lock_path, timeout, on_wait)
            previous = _read_info(self.lock_path)
            if previous is not None and on_stale is not None:
                on_stale(previous)
            info = LockInfo.new(operation)
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(asdict(info)).encode(), 0)
            try:
                yield info
            finally:
                os.ftruncate(fd, 0)
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)


def _acquire(fd: int, path: Path, timeout: float, on_wait: WaitCallback | None) -> None:
    deadline = time.monotonic() + timeout
    next_report = 0.0
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except OSError as exc:
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise
        left = deadline - time.monotonic()
        if left <= 0:
            raise StateLockedError(_read_info(path), timeout)
        if on_wait is not None and time.monotonic() >= next_report:
            on_wait(_read_info(path), left)
            next_report = time.monotonic() + 1.0
        time.sleep(min(0.1, max(left, 0.01)))


def _read_info(path: Path) -> LockInfo | None:
    try:
        raw = path.read_text()
    except FileNotFoundError:
        return None
    if not raw.strip():
        return None
    try:
        return LockInfo(**json.loads(raw))
    except (ValueError, TypeError):
        print(f"zplan: ignoring unreadable lock info in {path}", file=sys.stderr)
        return None
