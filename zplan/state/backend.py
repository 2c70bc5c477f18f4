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
import json
import os
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Iterator, Protocol

from zplan.diags import DiagnosticError, error
from zplan.fsutil import atomic_write_bytes
from zplan.hashing import hash_bytes
from zplan.state.checks import StateDamaged, dump_document, parse_document, shape_problem
from zplan.state import collector, decoded


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
        import getpass  # here, with socket and uuid: only commands that take the lock need them
        import socket
        import uuid

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


class LockStillHeld(Exception):
    """force-unlock of a lock whose holder is still running (and so still holds it)."""

    def __init__(self, holder: LockInfo) -> None:
        self.holder = holder
        super().__init__(f"the state lock {holder.id} is still held: {holder.operation} by {holder.who} (pid {holder.pid}) since {holder.created} is running")


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
        self.backup_path = path.with_name(path.name + ".backup")
        self._backed_up = False

    def describe(self) -> str:
        return f"file {self.path}"

    def read(self, keep_decoded: bool = False) -> dict | None:
        """The state document, None when there is no state file yet; a damaged file is refused.
        A decoded copy kept for these exact bytes is used (``zplan.state.decoded``); ``keep_decoded``
        writes one when there is none (planning does, beside its other caches: a read-only caller
        writes nothing)."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return None
        except IsADirectoryError:
            raise StateDamaged(f"state file {self.path}", "it is a folder, not a file", self._restore_hint()) from None
        digest = hash_bytes(raw)
        kept = self._decoded_path()
        with collector.paused():  # a 20,000-step state is ~1.5 million containers
            doc = decoded.load(kept, digest)
            if doc is not None and shape_problem(doc) is None:
                return doc
            doc = parse_document(raw, f"state file {self.path}", self._restore_hint())
            if keep_decoded:
                decoded.save(kept, digest, doc)
            return doc

    def write(self, doc: dict, keep_decoded: bool = False) -> None:
        """Replace the state file; the first write of a command keeps the previous
        file as ``state.json.backup`` (one generation: the state before this apply).
        ``keep_decoded`` (an apply's last write) also keeps its decoded copy for the next read."""
        # Compact on purpose: indented JSON goes through Python's slow encoder, and state
        # is written often during an apply. `zplan show -json` prints it readably.
        data = (dump_document(doc) + "\n").encode()
        if not self._backed_up:
            self._keep_backup()
        # A state.json that is a symbolic link (to a shared or synced folder) is written through, as
        # Terraform writes through one: replacing the link would leave its target behind, silently.
        target = Path(os.path.realpath(self.path))
        try:
            atomic_write_bytes(target, data)
        except OSError as exc:
            raise StateNotWritten(target, exc) from None
        if keep_decoded:
            decoded.save(self._decoded_path(), hash_bytes(data), doc)

    def _decoded_path(self) -> Path:
        return self.path.parent / "cache" / f"{self.path.name}.decoded"

    def _keep_backup(self) -> None:
        try:
            previous = self.path.read_bytes()
        except FileNotFoundError:
            previous = None
        except OSError as exc:
            raise StateNotWritten(self.path, exc, f"read to keep it as {self.backup_path.name}", action="reading") from None
        if previous is not None and previous.strip():
            try:
                atomic_write_bytes(self.backup_path, previous)
            except OSError as exc:
                raise StateNotWritten(self.backup_path, exc, f"the copy of {self.path.name} kept before a command changes it",
                                      unchanged=f"{self.path.name} was left as it was before this write") from None
        self._backed_up = True

    def _restore_hint(self) -> str:
        if self.backup_path.is_file():
            return (
                f"restore the copy apply kept before its last write: cp {self.backup_path} {self.path} "
                "(then `zplan plan` shows what the last apply did that the copy does not record)"
            )
        return (
            f"restore {self.path.name} from a copy of your own (there is no {self.backup_path.name} yet); "
            "delete it only if nothing was ever applied: zplan would forget every resource it manages"
        )

    def current_lock(self) -> LockInfo | None:
        info = _read_info(self.lock_path)
        if info is None:
            return None
        fd = os.open(self.lock_path, os.O_RDONLY)  # (flock needs no write access: a read-only folder is fine)
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
        """Clear the info a gone holder left. No process can release another's ``flock``: while the
        holder runs it keeps the lock, so it is refused (``LockStillHeld``) and its info kept."""
        info = _read_info(self.lock_path)
        if info is None or info.id != lock_id:
            raise KeyError(lock_id)
        try:
            fd = os.open(self.lock_path, os.O_RDWR)
        except OSError as exc:
            if exc.errno not in (errno.EROFS, errno.EACCES, errno.EPERM):
                raise
            if self.current_lock() == info:
                raise LockStillHeld(info) from None
            raise not_writable(self.lock_path.parent, exc.errno, doing="release the state lock") from None
        try:
            try:  # held while clearing, so a new holder's info is never the one cleared
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                raise LockStillHeld(info) from None
            if _read_info(self.lock_path) == info:
                os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    @contextlib.contextmanager
    def lock(
        self,
        operation: str,
        timeout: float = 0.0,
        on_wait: WaitCallback | None = None,
        on_stale: StaleCallback | None = None,
    ) -> Iterator[LockInfo]:
        fd = self._open_lock()
        try:
            _acquire(fd, self.lock_path, timeout, on_wait)
            previous = _read_info(self.lock_path)
            if previous is not None and on_stale is not None:
                on_stale(previous)
            info = LockInfo.new(operation)
            os.ftruncate(fd, 0)
            try:
                os.pwrite(fd, json.dumps(asdict(info)).encode(), 0)
            except OSError as exc:  # (the lock is let go as this unwinds)
                raise StateNotWritten(self.lock_path, exc, "who holds the state lock", doing="lock the state",
                                      unchanged=f"nothing was done, and {self.path.name} is as it was") from None
            try:
                yield info
            finally:
                os.ftruncate(fd, 0)
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)


    def _open_lock(self) -> int:
        """The lock file, open to write who holds it. Whoever takes the lock writes state next:
        a folder zplan may not write in (a read-only mount, no write permission) is refused now."""
        folder = self.lock_path.parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        except IsADirectoryError:
            raise DiagnosticError([error(f"cannot lock the state: the lock file {self.lock_path} is a folder",
                                         "zplan keeps the lock in a file of that name: move the folder away (or remove it), then run the command again")]) from None
        except OSError as exc:
            if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
                raise not_writable(folder, exc.errno) from None
            raise
        if not os.access(folder, os.W_OK):  # the lock file may be writable where the folder is not
            os.close(fd)
            raise not_writable(folder, errno.EACCES)
        return fd


class StateNotWritten(DiagnosticError):
    """The OS refused a write of state (a full disk, a folder made read-only). The file written is
    as it was before, whole: it is replaced only by a complete temporary file, removed on failure."""

    def __init__(self, path: Path, exc: OSError, what: str = "", doing: str = "record the state", unchanged: str = "",
                 action: str = "writing") -> None:
        self.path = path
        named = f"{path} ({what})" if what else str(path)
        self._say(f"cannot {doing}: {action} {named} failed: {os_error_in_words(exc)}", _what_to_do(exc.errno, path.parent),
                  unchanged or f"{path.name} was left as it was before this write")

    def _say(self, summary: str, remedy: str, unchanged: str) -> None:
        self.summary, self.remedy, self.unchanged = summary, remedy, unchanged
        DiagnosticError.__init__(self, [error(summary, f"{remedy}, then run the command again; {unchanged}")])

    def put_back(self, kept: Path, push: str, command: str = "apply") -> str:
        """What to do with the recovery file ``kept`` holding the state this failure kept out of the
        backend (``zplan.apply.state_writes``); ``push`` is the command that puts it in place, and
        ``command`` the one to run again then."""
        return f"once that can be written, put it in place with `{push}` before any other command writes state, then run the {command} again"


class StateNotStored(StateNotWritten):
    """A state server refused a write (gone, a permission revoked, a row held too long): the write
    is one transaction, rolled back, so the stored state is as it was. An apply treats it as a
    file it cannot write (``zplan.apply.state_writes``)."""

    def __init__(self, where: str, refused: DiagnosticError, remedy: str) -> None:
        self.path = None
        self._say(f"cannot record the state: {refused.diagnostics[0].summary}", remedy,
                  f"the state in {where} was left as it was before this write")


def os_error_in_words(exc: OSError) -> str:
    """``No space left on device``: the OS error as its message says it, without Python's decoration."""
    return exc.strerror or (os.strerror(exc.errno) if exc.errno else str(exc))


def _what_to_do(code: int | None, folder: Path) -> str:
    if code in (errno.ENOSPC, errno.EDQUOT):
        return f"free some space on the disk holding {folder} (or raise your quota there)"
    if code == errno.EROFS:
        return f"{folder} is on a read-only file system: remount it read-write"
    if code in (errno.EACCES, errno.EPERM):
        return f"give this user write permission in {folder} (chmod u+w; an immutable file is cleared with chattr -i)"
    return f"make {folder} writable again (check the disk and its file system)"


def not_writable(folder: Path, code: int, doing: str = "lock the state") -> DiagnosticError:
    why = "it is on a read-only file system" if code == errno.EROFS else "this user may not write in it"
    return DiagnosticError([error(
        f"cannot {doing}: {folder} is read-only ({why})",
        "apply, destroy, import, state rm, state push, gc and verify -repair lock and record state there: make it writable "
        "(remount it read-write, or chmod -R u+w it), then run the command again; "
        "commands that only read (plan, show, output, runs, state list, verify) work as they are",
    )])


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
    """Who holds the lock, from the info its holder wrote; None when there is none or it
    cannot be read (a damaged lock file must never stop the lock from being taken)."""
    try:
        raw = path.read_bytes()
    except (FileNotFoundError, IsADirectoryError):
        return None
    if not raw.strip():
        return None
    try:
        return LockInfo(**json.loads(raw.decode("utf-8")))
    except (ValueError, TypeError):  # UnicodeDecodeError is a ValueError
        print(f"zplan: ignoring unreadable lock info in {path}", file=sys.stderr)
        return None
