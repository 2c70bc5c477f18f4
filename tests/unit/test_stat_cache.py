"""The stat cache trusts a recorded digest only while no stamp a program can move has moved."""

from __future__ import annotations

import os
import time

from zplan.hashing import RACY_NS, StatCache, hash_file


def test_content_changed_with_its_mtime_set_back_is_hashed_again(tmp_path, hashing_clock):
    data, cache_file = tmp_path / "data.csv", tmp_path / "stat.json"
    data.write_text("a,1\n")  # (hashed well after it was written: recorded)
    first = StatCache(cache_file)
    first.file_hash(data)
    first.save()
    assert str(data) in StatCache(cache_file)._entries
    mtime = os.stat(data).st_mtime_ns
    data.write_text("b,2\n")  # same size, and the mtime put back as `cp -p` or `tar` would
    os.utime(data, ns=(mtime, mtime))
    assert StatCache(cache_file).file_hash(data) == hash_file(data)


def test_a_file_changed_just_before_it_was_hashed_is_not_recorded(tmp_path, hashing_clock):
    fresh, old, cache_file = tmp_path / "fresh.csv", tmp_path / "old.csv", tmp_path / "stat.json"
    fresh.write_text("a,1\n")
    old.write_text("b,2\n")
    now = time.time_ns()
    hashing_clock(now + RACY_NS // 2)  # within the racy window of both...
    cache = StatCache(cache_file)
    assert cache.file_hash(fresh) == hash_file(fresh)
    hashing_clock(now + 2 * RACY_NS)  # ...and the old one again once past it
    cache._entries.pop(str(old), None)
    cache.file_hash(old)
    cache.save()
    recorded = StatCache(cache_file)._entries
    assert str(fresh) not in recorded and str(old) in recorded
    # the same process still trusts what it hashed
    assert cache.file_hash(fresh) == hash_file(fresh)
