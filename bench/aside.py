"""Old runs are moved aside while benchmarks run, not deleted.

ext4 without a journal (this machine's root file system) does not hand out an inode freed in
the last minute, or the last six while its table block is unwritten (which the new files of the
same block group keep it), when it creates a file: it looks at each such inode in turn, for
every file created. A cold apply of 2,001 steps started right after the previous run's
~10,000 files were deleted spent a third of the machine's time in that scan (``perf``:
``recently_deleted`` under ``ext4_create`` and ``ext4_mkdir``), and each new round, with more
freed inodes, took longer. A user's first apply does not follow the deletion of thousands of
files, and the by-hand runs it is compared with create few; so the benchmarks move old runs
into ``bench/.work/.trash``. The trash is emptied when a benchmark starts with more than
``KEPT_RUNS`` runs in it, which then waits six minutes; ``python bench/aside.py`` empties it now.

What deleting a run would also do is done here: the page cache its files hold is released
(``posix_fadvise(DONTNEED)``). Kept, it grew by ~130 MB with each cold apply of the chain, and on
this kind of virtual machine memory the guest has not used before is dear on first touch: as the
cache took the memory earlier runs had freed, the same apply spent two to three times the system
time (0.6 s, then 1.4-2.3 s) and the by-hand runs much less (results.md, twenty-fifth pass).
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path

WORK = Path(__file__).resolve().parent / ".work"
TRASH = WORK / ".trash"
QUIET_S = 361.0  # fs/ext4/ialloc.c: RECENTCY_MIN (60 s) + RECENTCY_DIRTY (300 s)
KEPT_RUNS = 100  # a 20,000-step run puts ~100,000 files aside (~0.4 GB)

_ready = False


def put_aside(path: Path) -> None:
    """Move ``path`` (a run's state, store, logs) out of the way, deleting nothing."""
    _settle()
    TRASH.mkdir(parents=True, exist_ok=True)
    moved = TRASH / f"{time.time_ns()}-{path.name}"
    path.rename(moved)
    _release_cache(moved)


def _release_cache(path: Path) -> None:
    """The page cache of each file under ``path`` released, as deleting them would (written out first:
    the kernel drops only clean pages)."""
    files = [path] if path.is_file() else [Path(d, f) for d, _, names in os.walk(path) for f in names]
    for file in files:
        try:
            fd = os.open(file, os.O_RDONLY)
        except OSError:
            continue
        try:
            os.fdatasync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        except OSError:
            pass
        finally:
            os.close(fd)


def empty() -> int:
    """Delete what was put aside; the number of entries freed."""
    if not TRASH.exists():
        return 0
    freed = sum(len(dirs) + len(files) for _, dirs, files in os.walk(TRASH))
    shutil.rmtree(TRASH)
    os.sync()  # the freed inodes' blocks written: the kernel's shorter wait applies
    return freed


def _settle() -> None:
    """Once per benchmark: a full trash is emptied, and the deletion left to age."""
    global _ready
    if _ready:
        return
    _ready = True
    entries = len(os.listdir(TRASH)) if TRASH.exists() else 0
    if entries <= KEPT_RUNS * 5:  # (a run puts 5 aside: artifacts, logs, metadata.db, state.json, its lock)
        return
    freed = empty()
    print(f"waiting {QUIET_S:.0f} s: {freed:,} files of old runs were deleted from bench/.work/.trash (see bench/aside.py)", flush=True)
    time.sleep(QUIET_S)


if __name__ == "__main__":
    print(f"{empty():,} files deleted from {TRASH}", file=sys.stderr)
