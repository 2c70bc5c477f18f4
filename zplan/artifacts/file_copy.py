"""Copying one file into the local artifact store: a copy-on-write clone where the file system has
reflinks, else ``copy_file_range`` (the bytes never pass through Python), or, when the copy must be
hashed anyway, the bytes hashed as they are copied; and sealing the copy (read-only, synced). Used by
``zplan.artifacts.local`` and ``zplan.artifacts.early_clones``."""

from __future__ import annotations

import fcntl
import itertools
import os
from typing import BinaryIO

from zplan.artifacts.base import _READ_ONLY
from zplan.fsutil import share_in_memory, start_writeback

FICLONE = 0x40049409  # linux/fs.h: _IOW(0x94, 9, int)
IN_MEMORY = 0.5  # a file with this share of its pages in memory is read where it lies (just written, or read)
COPY_RING = 3  # copy_hashed's buffers in flight: one being read and hashed, up to two being written


def clone(src: BinaryIO, out: BinaryIO) -> bool:
    """A copy-on-write clone of ``src`` into the empty ``out`` (FICLONE); False where the
    file system cannot (ext4, tmpfs, another file system)."""
    try:
        fcntl.ioctl(out.fileno(), FICLONE, src.fileno())
    except OSError:
        return False
    return True


def copy_in_kernel(src: BinaryIO, out: BinaryIO, size: int, chunk: int) -> bool:
    """``size`` bytes of ``src`` into ``out`` by ``copy_file_range``, ``chunk`` bytes at a time (fewer when the file is
    shorter now: the caller's check then refuses it); False where the kernel cannot. Each
    chunk's writeback starts as soon as it is copied (2 GiB on ext4: ~0.7 s of fsync after
    the copy without it, ~0.02 s with it, and less CPU: no dirty-page throttling)."""
    if not hasattr(os, "copy_file_range"):
        return False
    try:
        done = 0
        while done < size:
            n = os.copy_file_range(src.fileno(), out.fileno(), min(size - done, chunk))
            if n == 0:
                break
            start_writeback(out.fileno(), done, n)
            done += n
    except OSError:  # an old kernel, another file system: the caller copies in Python
        out.truncate(0)
        return False
    return True


def copy_big(src: BinaryIO, out: BinaryIO, size: int, chunk: int, hash_it: bool) -> str | None:
    """``src`` (unbuffered) into the empty ``out``: cloned, else, when the caller must hash the copy's bytes
    and the source is mostly not in memory (``hash_it``, see ``out_of_memory``), hashed as it is copied
    (``copy_hashed``: one read from the disk, where copying and then hashing the copy read it
    once from the disk and once from memory), else copied by the kernel. The digest when so hashed,
    "" when copied unhashed, None when the kernel can do neither here."""
    if clone(src, out):
        return ""
    if hash_it:
        return copy_hashed(src, out, chunk)
    return "" if copy_in_kernel(src, out, size, chunk) else None


def out_of_memory(src: BinaryIO, size: int) -> bool:
    """Whether the open file is mostly not in the page cache: read from the disk, its pages are this reader's."""
    return share_in_memory(src.fileno(), size) < IN_MEMORY


def sealed(out: BinaryIO, durable: bool) -> os.stat_result:
    """Finish a stored file: read-only, on disk when ``durable``; its stamps for the manifest."""
    out.flush()
    os.fchmod(out.fileno(), _READ_ONLY)
    if durable:
        os.fsync(out.fileno())  # the rename must never publish bytes still only in memory
    return os.fstat(out.fileno())


def copy_hashed(src: BinaryIO, out: BinaryIO, writeback_chunk: int) -> str:
    """Copy ``src`` (unbuffered) to the empty ``out``; the xxh3-128 of the very bytes written.

    One read of the source, where hashing it and then copying it read it twice: each chunk is
    hashed as it arrives and written by a second thread while the next one is read (a write
    releases the GIL), so from a disk slower than memory the copy costs next to nothing more
    than the hash. Writeback starts every ``writeback_chunk`` bytes, as ``copy_in_kernel``'s.

    The source's pages are dropped from memory once copied: the caller copies only a file mostly
    out of memory, so they are the ones this read brought in, and the bytes then sit in memory
    once, as the copy the step reads. Its new pages are those just freed: on a virtual machine
    that hands freed memory back to its host, fresh pages cost the most (a 2 GiB copy here: 8-9 s
    of system time keeping the source's pages, 1.8-2.0 s dropping them)."""
    import mmap
    from concurrent.futures import ThreadPoolExecutor

    import xxhash

    from zplan.hashing import CHUNK

    h = xxhash.xxh3_128()
    fd = out.fileno()
    done = [0, 0]  # bytes written, bytes whose writeback has started
    drop = getattr(os, "posix_fadvise", None)  # (not on macOS)

    def write(view: memoryview) -> None:
        start = done[0]
        done[0] += len(view)
        while view:
            view = view[os.write(fd, view):]
        if drop is not None:
            drop(src.fileno(), start, done[0] - start, os.POSIX_FADV_DONTNEED)
        if done[0] - done[1] >= writeback_chunk:
            start_writeback(fd, done[1], done[0] - done[1])
            done[1] = done[0]

    # Page-aligned buffers (anonymous mappings), as ``hash_file``'s; unmapped when the last view
    # of them goes, not closed here: a view a failed write still holds would make close() raise.
    buffers = [mmap.mmap(-1, CHUNK) for _ in range(COPY_RING)]
    pending: list = [None] * COPY_RING
    with ThreadPoolExecutor(1, thread_name_prefix="zplan-copy") as writer:
        for turn in itertools.count():
            slot = turn % COPY_RING
            if pending[slot] is not None:
                pending[slot].result()  # this buffer written (or the write's error raised: a full disk)
            n = src.readinto(buffers[slot])
            if not n:
                break
            view = memoryview(buffers[slot])[:n]
            h.update(view)
            pending[slot] = writer.submit(write, view)
        for job in pending:
            if job is not None:
                job.result()
    start_writeback(fd, done[1], done[0] - done[1])
    return h.hexdigest()
