"""A step's log, inside a worker: its stdout and stderr (Python and C level) and Python
logging go to one file per step, redacted as it is written when the step knows secrets."""

from __future__ import annotations

import contextlib
import hashlib
import os
import sys
import threading
from pathlib import Path

LOG_TAIL_LINES = 10
NAME_MAX_BYTES = 255  # the longest file name of common file systems (ext4, XFS, Btrfs, APFS)


def log_file_name(address: str) -> str:
    """The name of a step's log file in its run's folder: an instance key may hold "/" (for_each
    over paths), so "/" and "%" are escaped, and a name past what a file system takes (a long key)
    is cut and ends with a digest of the address. Readers of logs name them with this too."""
    name = address.replace("%", "%25").replace("/", "%2F") + ".log"
    if len(name.encode()) <= NAME_MAX_BYTES:
        return name
    digest = "-" + hashlib.sha256(address.encode()).hexdigest()[:16] + ".log"
    return name.encode()[: NAME_MAX_BYTES - len(digest)].decode("utf-8", "ignore") + digest


def log_tail(log_path: str, lines: int = LOG_TAIL_LINES) -> str:
    """The last lines the step wrote, indented under the error ("" when it wrote nothing)."""
    try:
        with open(log_path, "rb") as log:
            log.seek(0, os.SEEK_END)
            log.seek(max(0, log.tell() - 16384))
            tail = log.read().decode("utf-8", "replace").rstrip().splitlines()[-lines:]
    except OSError:
        return ""
    return "; its last output lines:\n" + "\n".join(f"    {line}" for line in tail) if tail else "; it printed nothing"


@contextlib.contextmanager
def logging_to_log():
    """Python logging at INFO and above goes to the step's log while it runs (the log is stderr here).
    What the step set up on the root logger (a handler of its own, ``logging.disable``) ends with it."""
    import logging

    root = logging.getLogger()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    level, handlers, disabled = root.level, list(root.handlers), root.manager.disable
    root.addHandler(handler)
    root.setLevel(min(level, logging.INFO) if level else logging.INFO)
    try:
        yield
    finally:
        with contextlib.suppress(ValueError, OSError):  # (the step closed sys.stderr)
            handler.flush()
        for added in [h for h in root.handlers if h not in handlers]:
            root.removeHandler(added)
            if added is not handler:
                with contextlib.suppress(Exception):  # (a handler of the step's that fails to close)
                    added.close()
        for kept in handlers:  # (one the step removed)
            root.addHandler(kept)
        root.setLevel(level)
        logging.disable(disabled)


def _open_log(log_path: str):
    """The step's log, opened to append; its run's folder is made by the first step to need it
    (not asked for at every step: a file system's metadata operations are what a tiny step waits on)."""
    try:
        return open(log_path, "ab", buffering=0)
    except FileNotFoundError:
        Path(log_path).parent.mkdir(parents=True, exist_ok=True)
        return open(log_path, "ab", buffering=0)


@contextlib.contextmanager
def captured_output(log_path: str, secrets: list[str]):
    """Send the step's stdout/stderr (Python and C level) to its log file; with secrets, through
    a pipe that a thread redacts as it writes, so a step killed half-way leaves
    nothing in clear."""
    _flush_standard_streams()
    streams = sys.stdout, sys.stderr  # a step that replaces them (sys.stdout = StringIO()) does so for itself only
    saved = os.dup(1), os.dup(2)
    with _open_log(log_path) as log:
        if secrets:
            read_end, write_end = os.pipe()
            copier = threading.Thread(target=_copy_redacted, args=(read_end, os.dup(log.fileno()), secrets), daemon=True)
            copier.start()
        else:
            write_end = os.dup(log.fileno())
        os.dup2(write_end, 1)
        os.dup2(write_end, 2)
        os.close(write_end)
        try:
            yield
        finally:
            _flush_standard_streams()
            sys.stdout, sys.stderr = streams
            _reopen_closed_standard_streams()
            os.dup2(saved[0], 1)  # closes the last write ends of the pipe: the copier sees its end
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])
            if secrets:
                # A child the step left running may still hold the pipe: the copier then
                # goes on (with its own handle on the log) while this worker moves on.
                copier.join(timeout=2)


def _flush_standard_streams() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (ValueError, OSError):  # closed by the step: nothing left in it to write
            pass


def _reopen_closed_standard_streams() -> None:
    """A step that closed sys.stdout or sys.stderr (their file descriptors stay open) leaves
    working ones to the next step of this worker."""
    for name, fd in (("stdout", 1), ("stderr", 2)):
        stream = getattr(sys, name)
        if getattr(stream, "closed", False):
            setattr(sys, name, open(fd, "w", buffering=1, encoding=stream.encoding, errors=stream.errors, closefd=False))


# zplan's own secrets, which the process running a step inherits: the key sealing state
# (zplan.state.secrets), the metadata database's password (zplan.metadata.urls) and the variables'
# values (a step gets those it needs in its params); named here so a worker imports neither module
PRIVATE_ENV_PREFIXES = ("ZPLAN_VAR_", "ZPLAN_STATE_KEY", "ZPLAN_MYSQL_PASSWORD")
_PRIVATE_PREFIXES_ENCODED = tuple(os.fsencode(p) for p in PRIVATE_ENV_PREFIXES)
_LAST_CLEAN: set = set()


def withhold_private_environment() -> None:
    """Remove PRIVATE_ENV_PREFIXES from this process's environment, for good: only zplan's parent
    process seals state and writes metadata, and a step (or a program it starts) printing its
    environment must have none of them to print. As a service started by local_process."""
    data = getattr(os.environ, "_data", None)  # (as os.environ keeps it, encoded: decoding every name took ~40 us a step)
    encoded = isinstance(data, dict) and os.name == "posix"  # (bytes there)
    if encoded and data.keys() == _LAST_CLEAN:  # the names found free of them last time (each step of a worker)
        return
    if encoded:
        names = [os.environ.decodekey(k) for k in data if k.startswith(_PRIVATE_PREFIXES_ENCODED)]
    else:
        names = [n for n in os.environ if n.startswith(PRIVATE_ENV_PREFIXES)]
    for name in names:
        del os.environ[name]
    if encoded:
        _LAST_CLEAN.clear()
        _LAST_CLEAN.update(data.keys())


def _copy_redacted(read_end: int, log_fd: int, secrets: list[str]) -> None:
    from zplan.secrets import Redactor

    redactor = Redactor(secrets)
    with os.fdopen(read_end, "rb", buffering=0) as pipe, os.fdopen(log_fd, "ab", buffering=0) as log:
        while chunk := pipe.read(65536):
            log.write(redactor.feed(chunk))
        log.write(redactor.flush())
