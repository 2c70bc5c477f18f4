"""What every local resource type shares: path resolution, file modes, defaults."""

from __future__ import annotations

import datetime as _dt
import functools
import os
import re
from pathlib import Path
from typing import Any, Mapping

from zplan.provider import ProviderContext, ProviderError, ResourceSchema

# Values a check can judge; anything else (a value not known before apply) is skipped.
PLAIN = (str, int, float, bool, list, dict, type(None))
MODE_RE = re.compile(r"^0?[0-7]{3}$")


class LocalResource:
    """One resource type: its schema plus check/create/read/update/delete/import."""

    schema: ResourceSchema

    def __init__(self, context: ProviderContext) -> None:
        self.context = context

    def check(self, inputs: Mapping[str, Any]) -> list[str]:
        return []

    def create(self, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def read(self, attrs: Mapping[str, Any]) -> dict[str, Any] | None:
        raise NotImplementedError

    def update(self, before: Mapping[str, Any], inputs: Mapping[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def delete(self, attrs: Mapping[str, Any]) -> None:
        raise NotImplementedError

    def import_(self, id_: str) -> dict[str, Any]:
        raise NotImplementedError

    def leftover(self, name: str, inputs: Mapping[str, Any]) -> dict[str, Any] | None:
        """What an interrupted create of ``name`` left running (see Provider.leftover)."""
        return None

    # -- helpers ----------------------------------------------------------------------
    def settings(self, inputs: Mapping[str, Any]) -> dict[str, Any]:
        """Every settable attribute, with the schema default where the user set none (or null)."""
        return {k: a.default if inputs.get(k) is None else inputs[k] for k, a in self.schema.inputs().items()}

    def resolve(self, path: str) -> Path:
        """A user path made absolute against the project folder (no symlinks resolved)."""
        p = Path(os.path.expanduser(str(path)))
        if not p.is_absolute():
            p = Path(self.context.project_dir) / p
        return Path(os.path.abspath(p))

    def located(self, attrs: Mapping[str, Any]) -> Path:
        """Where a recorded object is: its relative ``path`` in the project folder as it is now, so a
        project moved or copied with its state reads, changes and deletes its own files, never those
        at the recorded ``id`` (the folder it was first applied in); else its ``id``."""
        path = attrs.get("path")
        if isinstance(path, str) and path.strip() and not os.path.isabs(os.path.expanduser(path)):
            return self.resolve(path)
        return Path(attrs["id"])


def known(value: Any) -> bool:
    return isinstance(value, PLAIN)


def now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def birth_iso(path: Path) -> str | None:
    """When the file or folder at ``path`` was made, as ``now_iso`` writes a time; None where the
    OS or its file system does not keep it. What an import reads back: a time of zplan's own would
    differ from the one the apply recorded, and rerun every step reading the resource."""
    seconds = getattr(os.stat(path), "st_birthtime", None) or _statx_birth(path)  # (macOS, BSD) or Linux
    return _dt.datetime.fromtimestamp(seconds, _dt.timezone.utc).isoformat(timespec="seconds") if seconds else None


def _statx_birth(path: Path) -> int | None:
    """The birth time Linux's statx(2) gives (Python's os.stat leaves it out there); None (or 0, as
    some file systems give) when it is not kept, or where the C library has no statx."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    statx = getattr(libc, "statx", None)
    if statx is None:
        return None
    found = _statx_struct()()
    if statx(_AT_FDCWD, os.fsencode(path), 0, _STATX_BTIME, ctypes.byref(found)) != 0 or not found.stx_mask & _STATX_BTIME:
        return None
    return found.stx_btime.tv_sec


_AT_FDCWD, _STATX_BTIME = -100, 0x800


@functools.cache
def _statx_struct():
    """``struct statx`` of linux/stat.h, up to the times (the rest is spare room for the kernel)."""
    import ctypes

    class Timestamp(ctypes.Structure):
        _fields_ = [("tv_sec", ctypes.c_int64), ("tv_nsec", ctypes.c_uint32), ("reserved", ctypes.c_int32)]

    class Statx(ctypes.Structure):
        _fields_ = [("stx_mask", ctypes.c_uint32), ("stx_blksize", ctypes.c_uint32), ("stx_attributes", ctypes.c_uint64),
                    ("stx_nlink", ctypes.c_uint32), ("stx_uid", ctypes.c_uint32), ("stx_gid", ctypes.c_uint32),
                    ("stx_mode", ctypes.c_uint16), ("spare0", ctypes.c_uint16), ("stx_ino", ctypes.c_uint64),
                    ("stx_size", ctypes.c_uint64), ("stx_blocks", ctypes.c_uint64), ("stx_attributes_mask", ctypes.c_uint64),
                    ("stx_atime", Timestamp), ("stx_btime", Timestamp), ("stx_ctime", Timestamp), ("stx_mtime", Timestamp),
                    ("spare", ctypes.c_uint64 * 32)]
    return Statx


def parse_mode(value: Any) -> int | None:
    """``"0755"`` or ``"755"`` -> 0o755; None stays None. Numbers are refused:
    HCL would read 755 as decimal."""
    if value is None:
        return None
    if not isinstance(value, str) or not MODE_RE.match(value):
        raise ProviderError(f'mode must be an octal string such as "0755", got {value!r}')
    return int(value, 8)


def path_problem(value: Any) -> str | None:
    if known(value) and (not isinstance(value, str) or not value.strip()):
        return "path must be a non-empty string"
    return None


def mode_problem(value: Any) -> str | None:
    if value is None or not known(value):
        return None
    try:
        parse_mode(value)
    except ProviderError as exc:
        return str(exc)
    return None


def format_mode(mode: int) -> str:
    return f"{mode & 0o777:04o}"


def observed_mode(recorded: Any, actual: int) -> str:
    """The recorded spelling while it still matches the disk ("755" stays "755")."""
    try:
        if parse_mode(recorded) == actual & 0o777:
            return recorded
    except ProviderError:
        pass
    return format_mode(actual)


def current_umask() -> int:
    """Read without changing it: os.umask() would race with other threads."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    return 0o022
