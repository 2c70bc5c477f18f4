"""Copies of big data inputs made as an apply's plan first hashes them, so the bytes are read
from the disk once: the plan hashes the copy, or the bytes as they are copied, and the snapshot
is that same copy.

Where the file system has reflinks (XFS, Btrfs) the copy is a copy-on-write clone. A clone shares
the source's blocks on disk but not its page cache, which is per file: hashing the source and then
snapshotting it by a clone made the step read every byte from the disk a second time. Cloning
first and hashing the clone leaves its pages in memory for the step.

Elsewhere (ext4; the first refused clone tells) the bytes are copied as they are hashed
(``file_copy.copy_hashed``): each chunk read from the disk is hashed and written by a second
thread while the next one arrives, where hashing the source and copying it afterwards read it
twice and wrote it only once the read was done. The copy holds the very bytes hashed, and the
source's pages this read brought into memory are dropped once copied: the step reads the copy.

Only for a file mostly not in memory already (one just written or read): hashing that one reads
memory, where its clone would be read from the disk, and a copy made on a guess costs a
``touch``ed file's rehash a write of all its bytes.

The first such input also tells the apply (``on_new_data``), which starts what it can while the
plan reads (``zplan.operations.early_start``).

The copies lie in a temp folder of the local artifact store (same file system, swept as any
temp folder if the process dies); the store's snapshot moves one into place instead of copying
again (``SourceFile.clone``), and whatever no snapshot took is removed when the process ends.
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import os
from typing import Any, Callable

from zplan.artifacts.file_copy import copy_big, out_of_memory
from zplan.hashing import full_signature, hash_file

CLONE_FIRST_MIN_BYTES = 1024 * 1024  # as the store's CLONE_MIN_BYTES: smaller files are copied, not cloned
WRITEBACK_CHUNK = 64 * 1024 * 1024  # as the store's: a copy's writeback starts after each such chunk


class EarlyClones:
    """Makes the clones in one temp folder of the store ``open_store`` gives when the first is
    needed (the plan knows it once the stack is evaluated), held for the life of the process.
    None, or a store of another kind than a local one, turns this off."""

    def __init__(self, open_store: Callable[[], Any], on_new_data: Callable[[], None] | None = None, new_data_bytes: int = 0) -> None:
        self._open_store = open_store
        self._on_new_data = on_new_data  # called once, as the first new input of new_data_bytes or more is about to be read
        self._new_data_bytes = new_data_bytes
        self._store: Any = None
        self._folder: str | None = None
        self._held = contextlib.ExitStack()
        self._names = itertools.count()
        self._off = False  # nothing to copy into, or it failed: no more tries
        self._pid = os.getpid()  # a forked child never removes its parent's clones

    def make(self, path: str, st: os.stat_result) -> tuple[str, str] | None:
        """A copy of the file ``path`` holding the bytes it held at ``st`` (its stat just taken), and
        their digest; None: too small, mostly in memory already, or the file changed meanwhile."""
        if st.st_size < CLONE_FIRST_MIN_BYTES:
            return None
        if self._on_new_data is not None and st.st_size >= self._new_data_bytes:
            self._on_new_data, started = None, self._on_new_data
            started()
        if self._off:
            return None
        if self._store is None:
            self._store = self._open_store()
            if self._store is None or not self._store.worker_snapshots:  # (an object store: nothing to copy into)
                self._off = True
                return None
        dst = None
        try:
            with open(path, "rb", buffering=0) as src:
                if not out_of_memory(src, st.st_size):
                    return None  # read from memory as it is: its clone's pages would come from the disk
                dst = os.path.join(self._temp_folder(), str(next(self._names)))
                with open(dst, "xb") as out:  # cloned, else hashed as it is copied
                    digest = copy_big(src, out, st.st_size, WRITEBACK_CHUNK, hash_it=True)
                if digest == "":  # a clone: hashed now, which brings its pages into memory for the step
                    digest = hash_file(dst)
                same = digest is not None and full_signature(os.fstat(src.fileno())) == full_signature(st)
        except OSError:  # a read-only store, a full disk: the plan hashes the source as before
            self._off = True
            if dst is not None and os.path.exists(dst):
                os.unlink(dst)
            return None
        if not same:  # (a file changed while it was copied is hashed where it lies; also one the kernel could not copy)
            os.unlink(dst)
            return None
        return dst, digest

    def _temp_folder(self) -> str:
        if self._folder is None:
            self._folder = str(self._held.enter_context(self._store.staging()))
            atexit.register(self.close)
        return self._folder

    def close(self) -> None:
        """Remove the clones no snapshot took, with their folder."""
        if os.getpid() != self._pid:
            return
        self._held.close()
        self._folder = None
