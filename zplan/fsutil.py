"""Small file-system helpers: every write zplan makes is temp-file then rename; syncs off the caller's path."""

from __future__ import annotations

import errno
import os
import threading
from pathlib import Path
from typing import Any, Iterable


def atomic_write_bytes(path: Path, data: bytes, durable: bool = True) -> None:
    """Write ``data`` to ``path`` so readers see the old or the new file, never half.

    ``durable`` also syncs the bytes to disk before the rename, so a power loss
    cannot publish an empty file, and the folder after it, so the rename itself
    survives one (as git and SQLite do); caches that can be rebuilt skip both.
    """
    import tempfile  # here: a no-change plan writes nothing, and tempfile (with shutil and random) is ~2 ms to import

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            if durable:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    if durable:
        sync_folder(path.parent)


def atomic_write_text(path: Path, text: str, durable: bool = True) -> None:
    atomic_write_bytes(path, text.encode(), durable)


def sync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` durable. As SQLite, a folder that cannot be opened to read, or a
    file system that cannot sync one, is let be: the file's own bytes are already on disk."""
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EBADF):
            raise
    finally:
        os.close(fd)


def fsync_path(path: str) -> None:
    """Flush a file's (or a folder's entries') data to disk by its name."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class OpenFolder:
    """A folder held open, so that names in it are looked up from it: ``stat`` relative to a
    descriptor walks the name's own components, not the whole absolute path again (~0.7 us less a
    call here, and a big plan makes thousands: every data input, every cached output). Where the
    folder cannot be opened (not there yet) or the platform has no ``dir_fd``, it stats the full
    path instead. The descriptor is closed when the object is released."""

    _FLAGS = os.O_DIRECTORY | os.O_CLOEXEC | getattr(os, "O_PATH", os.O_RDONLY)  # O_PATH: no read permission needed

    def __init__(self, path: str) -> None:
        self.path = path
        self.fd: int | None = None
        if os.stat in os.supports_dir_fd:
            try:
                self.fd = os.open(path, self._FLAGS)
            except OSError:
                pass

    def stat(self, name: str, full_path: str) -> os.stat_result:
        """``os.stat`` of ``name`` (relative, inside the folder), which is ``full_path``."""
        return os.stat(full_path) if self.fd is None else os.stat(name, dir_fd=self.fd)

    def __reduce__(self):  # a descriptor means nothing in another process: opened again there
        return OpenFolder, (self.path,)

    def __del__(self, _close=os.close) -> None:  # (os.close bound now: __del__ may run as the interpreter exits)
        if self.fd is not None:
            _close(self.fd)
            self.fd = None


_SYNC_FILE_RANGE_WRITE = 2  # linux/fs.h: start writing the range's dirty pages, do not wait
_sync_file_range = None


def start_writeback(fd: int, offset: int, nbytes: int) -> None:
    """Ask the kernel to start writing a range just written (Linux ``sync_file_range``), so a
    big copy reaches the disk while it is made instead of all at the final ``fsync``; it also
    keeps gigabytes of dirty pages from throttling the writer. Durability still needs ``fsync``.
    A no-op where the call does not exist."""
    global _sync_file_range
    if _sync_file_range is None:
        import ctypes

        func = getattr(ctypes.CDLL(None, use_errno=True), "sync_file_range", None)
        if func is not None:
            func.argtypes = [ctypes.c_int, ctypes.c_longlong, ctypes.c_longlong, ctypes.c_uint]
        _sync_file_range = func or False
    if _sync_file_range:
        _sync_file_range(fd, offset, nbytes, _SYNC_FILE_RANGE_WRITE)


class BackgroundSync:
    """Files, then the folders naming them, made durable on threads of their own.

    ``add`` returns at once, so the caller's next work (a step running) overlaps the disk's;
    ``wait`` returns once everything added before it is on disk, and raises the first error
    a sync met: after a failed sync the disk's copy cannot be trusted, so nothing may be
    written down as if it were. The apply waits for them before each state write.

    What is queued is synced as one batch. While the machine has little unwritten data
    (``WHOLE_FS_DIRTY_MAX``), the batch's file system is synced whole, once (Linux
    ``syncfs``): its own files are most of what there is to write, and a cold apply of
    2,001 tiny steps made ~6 syncs a step, which cost it 15-25 % of its time (each a system
    call on a thread, handed back under the GIL), against none for ``syncfs``. Otherwise each
    file, then each folder, is synced by a few threads at once: a file system commits
    concurrent syncs together (400 small files: 64 ms one by one, 33 ms four at a time), and
    an apply writing gigabytes does not wait for the rest of the machine's writes.
    """

    THREADS = 4

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._queue: list[tuple[tuple[str, ...], tuple[str, ...]]] = []
        self._added = self._done = 0
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()

    def add(self, files: Iterable[str], folders: Iterable[str] = ()) -> None:
        """Sync ``files``, then ``folders`` (each after the folders inside it: give the deepest first)."""
        with self._cond:
            if self._pid != os.getpid():  # a forked child: the thread and its queue stayed behind
                self.__init__()  # type: ignore[misc]
            item = (tuple(files), tuple(folders))
            self._queue.append(item)
            self._added += 1
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="zplan-sync", daemon=True)
                self._thread.start()
            self._cond.notify_all()

    def wait(self) -> None:
        with self._cond:
            if self._pid != os.getpid():
                return  # nothing was added in this process
            target = self._added
            while self._done < target and self._error is None:
                self._cond.wait()
            if self._error is not None:
                raise self._error

    def _run(self) -> None:
        from concurrent.futures import ThreadPoolExecutor

        pool: ThreadPoolExecutor | None = None
        while True:
            with self._cond:
                while not self._queue:
                    self._cond.wait()
                batch, self._queue = self._queue, []
            try:
                if whole_file_system_syncs():
                    errors: list[BaseException] = [e for e in map(sync_file_system, _file_systems(batch)) if e is not None]
                else:
                    pool = pool or ThreadPoolExecutor(self.THREADS, thread_name_prefix="zplan-sync")
                    errors = [e for stage in _stages(batch) for e in pool.map(_sync_one, stage) if e is not None]
            except BaseException as exc:  # raised by ``wait``: this thread must live on, or ``wait`` would never return
                errors = [exc]
            with self._cond:
                self._error = self._error or (errors[0] if errors else None)
                self._done += len(batch)
                self._cond.notify_all()


def _stages(batch: list[tuple[tuple[str, ...], tuple[str, ...]]]) -> list[list[str]]:
    """Every file of the batch, then its folders by depth, deepest first: a folder is synced
    after what it names, so one that survives a crash names files that hold their bytes.
    Each path once per batch (a prefix folder is named by many artifacts)."""
    files = list(dict.fromkeys(f for item in batch for f in item[0]))
    folders = dict.fromkeys(d for item in batch for d in item[1])
    by_depth: dict[int, list[str]] = {}
    for folder in folders:
        by_depth.setdefault(folder.count(os.sep), []).append(folder)
    return [files, *(by_depth[depth] for depth in sorted(by_depth, reverse=True))]


def _file_systems(batch: list[tuple[tuple[str, ...], tuple[str, ...]]]) -> list[str]:
    """One folder of the batch on each file system it touches (a file is on its folder's)."""
    folders = dict.fromkeys([*(d for item in batch for d in item[1]), *(os.path.dirname(f) for item in batch for f in item[0])])
    by_device: dict[int, str] = {}
    for folder in folders:
        try:
            by_device.setdefault(os.stat(folder).st_dev, folder)
        except FileNotFoundError:
            continue  # removed since (a delete): nothing of it left to make durable
    return list(by_device.values())


WHOLE_FS_DIRTY_MAX = 64 << 20  # bytes the machine has yet to write, above which files are synced one by one
_syncfs: Any = None  # libc's syncfs once looked up (False: none, or one that does not report write errors)


def whole_file_system_syncs() -> bool:
    """Whether a batch is synced by syncing its file systems whole: where ``syncfs`` reports a
    failed write (Linux 5.8 and later; before, it returned 0 regardless) and the machine has at
    most ``WHOLE_FS_DIRTY_MAX`` bytes unwritten, which the call would wait for."""
    return bool(_loaded_syncfs()) and _unwritten_bytes() <= WHOLE_FS_DIRTY_MAX


def sync_file_system(folder: str) -> OSError | None:
    """Make everything written on ``folder``'s file system durable: data, inodes, names."""
    import ctypes

    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except FileNotFoundError:
        return None  # removed since: what it held is gone, nothing to make durable
    except OSError as exc:
        return exc
    try:
        syncfs = _loaded_syncfs()
        if not syncfs:
            return OSError(errno.ENOTSUP, f"no syncfs that reports write errors here, to sync {folder}")
        if syncfs(fd) != 0:
            code = ctypes.get_errno()
            return OSError(code, f"{os.strerror(code)}: syncing the file system of {folder}")
        return None
    finally:
        os.close(fd)


def _loaded_syncfs() -> Any:
    global _syncfs
    if _syncfs is None:
        _syncfs = _reporting_syncfs()
    return _syncfs


def _reporting_syncfs() -> Any:
    """libc's syncfs where it reports a failed write (Linux 5.8 and later), else False."""
    import ctypes

    uname = os.uname()
    try:
        major, minor = (int(part) for part in uname.release.split("-")[0].split(".")[:2])
    except ValueError:  # (a release not "MAJOR.MINOR...")
        return False
    if uname.sysname != "Linux" or (major, minor) < (5, 8):
        return False
    func = getattr(ctypes.CDLL(None, use_errno=True), "syncfs", None)
    if func is None:
        return False
    func.argtypes = [ctypes.c_int]
    return func


def _unwritten_bytes() -> int:
    """The machine's dirty and under-writeback page cache (/proc/meminfo); unknown counts as too much."""
    total = 0
    try:
        with open("/proc/meminfo", "rb") as f:
            for line in f:
                if line.startswith((b"Dirty:", b"Writeback:")):
                    total += int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return WHOLE_FS_DIRTY_MAX + 1
    return total


def _sync_one(path: str) -> OSError | None:
    try:
        fsync_path(path)
    except FileNotFoundError:
        return None  # removed since (a delete): nothing of it left to make durable
    except OSError as exc:
        return exc
    return None


def share_in_memory(fd: int, size: int, samples: int = 64) -> float:
    """The share of an open file's pages in the page cache, from ``samples`` pages spread over it (0.0
    where it cannot be told): ``mincore`` of a read-only mapping, which reads no page and moves none
    in (a read with ``RWF_NOWAIT`` that misses starts one). Asking for every page of 2 GiB took
    0.1-0.3 s here; the sample, well under a millisecond."""
    import ctypes
    import mmap

    if size <= 0:
        return 0.0
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long)
    libc.mincore.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p)
    libc.munmap.argtypes = (ctypes.c_void_p, ctypes.c_size_t)
    address = libc.mmap(None, size, mmap.PROT_READ, mmap.MAP_SHARED, fd, 0)
    if address is None or address == ctypes.c_void_p(-1).value:
        return 0.0
    try:
        pages = (size + mmap.PAGESIZE - 1) // mmap.PAGESIZE
        picked = sorted({pages * i // samples for i in range(samples)})
        page = ctypes.create_string_buffer(1)
        present = 0
        for n in picked:
            if libc.mincore(address + n * mmap.PAGESIZE, mmap.PAGESIZE, page) != 0:
                return 0.0
            present += page.raw[0] & 1
        return present / len(picked)
    finally:
        libc.munmap(address, size)
