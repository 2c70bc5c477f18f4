"""Old runs are moved aside while a benchmark runs, and deleted as it ends.

ext4 without a journal (this machine's root file system) does not hand out an inode freed in
the last minute, or the last six while its table block is unwritten (which the new files of the
same block group keep it), when it creates a file: it looks at each such inode in turn, for
every file created. A cold apply of 2,001 steps started right after the previous run's
~10,000 files were deleted spent a third of the machine's time in that scan (``perf``:
``recently_deleted`` under ``ext4_create`` and ``ext4_mkdir``), and each new round, with more
freed inodes, took longer. A user's first apply does not follow the deletion of thousands of
files, and the by-hand runs it is compared with create few; so the benchmarks move old runs into
``bench/.work/.trash`` and delete them at exit. A benchmark that starts within six minutes of
the deletion of many files waits for the rest of them.
"""

from __future__ import annotations

import atexit
import os
import shutil
import time
from pathlib import Path

WORK = Path(__file__).resolve().parent / ".work"
TRASH = WORK / ".trash"
EMPTIED = WORK / ".trash-emptied"  # "<time> <entries freed>" of the last emptying
QUIET_S = 361.0  # fs/ext4/ialloc.c: RECENTCY_MIN (60 s) + RECENTCY_DIRTY (300 s)
MANY = 1_000  # fewer freed inodes cost a new file too little to wait for

_ready = False


def put_aside(path: Path) -> None:
    """Move ``path`` out of the way, to be deleted when the benchmark ends."""
    _settle()
    TRASH.mkdir(parents=True, exist_ok=True)
    path.rename(TRASH / f"{time.time_ns()}-{path.name}")


def empty() -> int:
    """Delete what was put aside; note when, and how many entries were freed."""
    if not TRASH.exists():
        return 0
    freed = sum(len(dirs) + len(files) for _, dirs, files in os.walk(TRASH))
    shutil.rmtree(TRASH)
    os.sync()
    EMPTIED.write_text(f"{time.time()} {freed}\n")
    return freed


def _settle() -> None:
    """Once per benchmark: empty a trash left by a killed run, then let recent deletions age."""
    global _ready
    if _ready:
        return
    _ready = True
    empty()
    atexit.register(empty)
    try:
        when, freed = EMPTIED.read_text().split()
    except (OSError, ValueError):
        return
    wait = float(when) + QUIET_S - time.time()
    if int(freed) >= MANY and wait > 0:
        print(f"waiting {wait:.0f} s: {int(freed):,} files were deleted under bench/.work within the last six minutes "
              "(see bench/aside.py)", flush=True)
        time.sleep(wait)
