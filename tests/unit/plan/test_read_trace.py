"""zplan.plan.read_trace: what a plan read of the file system, recorded on real files and looked at again."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import time
from pathlib import Path

import pytest

from zplan.plan import read_trace
from zplan.plan.read_trace import Trace, unchanged


def settled(*paths: Path) -> None:
    """Stamps older than a clock tick (a file written just now taints a trace, on purpose)."""
    old = time.time_ns() - 5_000_000_000
    for p in paths:
        os.utime(p, ns=(old, old))
    time.sleep(0.03)  # (ctime: moved by utime itself, must be older than the tick too)


def recorded(trace: Trace) -> list:
    return [(kind, path, found) for (kind, path), found in trace.seen.items()]


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.csv").write_text("1,2\n")
    (tmp_path / "data" / "b.csv").write_text("3,4\n")
    (tmp_path / "conf.json").write_text("{}")
    settled(tmp_path / "data" / "a.csv", tmp_path / "data" / "b.csv", tmp_path / "conf.json", tmp_path / "data")
    return tmp_path


def test_the_usual_ways_of_reading_are_recorded_and_found_unchanged(tree: Path) -> None:
    with Trace() as trace:
        assert os.path.exists(tree / "conf.json") and not os.path.exists(tree / "missing.txt")
        assert sorted(p.name for p in (tree / "data").iterdir()) == ["a.csv", "b.csv"]
        assert len(glob.glob(str(tree / "data" / "*.csv"))) == 2
        assert [e.stat().st_size for e in sorted(os.scandir(tree / "data"), key=lambda e: e.name)] == [4, 4]
        assert sum(len(files) for _, _, files in os.walk(tree)) == 3
        assert (tree / "conf.json").read_text() == "{}"
    assert trace.tainted is None
    kinds = {(kind, Path(path).name) for kind, path, _ in recorded(trace)}
    assert {("S", "conf.json"), ("S", "missing.txt"), ("d", "data"), ("e", "data"), ("s", "a.csv")} <= kinds  # (exists: the kind alone)
    assert unchanged(recorded(trace))
    assert os.stat is not trace._stat  # (put back after the block)


@pytest.mark.parametrize("change", ["edit", "same size", "new file", "remove", "create the missing"])
def test_a_change_to_anything_read_is_seen(tree: Path, change: str) -> None:
    with Trace() as trace:
        os.path.exists(tree / "missing.txt")
        os.listdir(tree / "data")
        (tree / "conf.json").read_text()
    seen = recorded(trace)
    if change == "edit":
        (tree / "conf.json").write_text('{"a": 1}')
    elif change == "same size":  # same length, same mtime set back: the inode's ctime still moves
        st = (tree / "conf.json").stat()
        (tree / "conf.json").write_text("[]")
        os.utime(tree / "conf.json", ns=(st.st_atime_ns, st.st_mtime_ns))
    elif change == "new file":
        (tree / "data" / "c.csv").write_text("")
    elif change == "remove":
        (tree / "data" / "b.csv").unlink()
    else:
        (tree / "missing.txt").write_text("")
    assert not unchanged(seen)


def test_a_file_changed_within_a_clock_tick_taints_the_trace(tree: Path) -> None:
    (tree / "conf.json").write_text("{ }")  # just now: a second write could keep every stamp
    with Trace() as trace:
        (tree / "conf.json").read_text()
    assert trace.tainted == "a file changed just now"


@pytest.mark.parametrize("how", ["write", "append", "os.open", "mkdir", "rename"])
def test_a_write_taints_the_trace(tree: Path, how: str) -> None:
    with Trace() as trace:
        if how == "write":
            (tree / "out.txt").write_text("x")
        elif how == "append":
            with open(tree / "conf.json", "a") as f:
                f.write(" ")
        elif how == "os.open":
            os.close(os.open(tree / "new.bin", os.O_WRONLY | os.O_CREAT))
        elif how == "mkdir":
            (tree / "made").mkdir()
        else:
            os.rename(tree / "conf.json", tree / "moved.json")
    assert trace.tainted is not None


def test_what_the_trace_cannot_follow_taints_it(tree: Path) -> None:
    with Trace() as trace:
        socket.getaddrinfo("localhost", 80)
    assert trace.tainted == "audit event socket.getaddrinfo"
    with Trace() as trace:
        Path("/proc/self/status").read_text()
    assert "not a file with stamps" in trace.tainted
    with Trace() as trace:
        fd = os.open(tree / "data", os.O_RDONLY)
        try:
            os.listdir(fd)
        finally:
            os.close(fd)
    assert trace.tainted == "a folder listed by its descriptor"


def test_a_stat_relative_to_an_open_folder_is_recorded_by_its_path(tree: Path) -> None:
    fd = os.open(tree / "data", os.O_RDONLY)
    try:
        with Trace() as trace:
            os.stat("a.csv", dir_fd=fd)
    finally:
        os.close(fd)
    assert ("s", str(tree / "data" / "a.csv")) in trace.seen
    assert unchanged(recorded(trace))
    (tree / "data" / "a.csv").write_text("changed\n")
    assert not unchanged(recorded(trace))


def test_a_link_read_through_a_listing_is_recorded(tree: Path) -> None:
    (tree / "link").symlink_to(tree / "data")
    with Trace() as trace:
        entries = {e.name: e.is_dir() for e in os.scandir(tree)}
    assert entries["link"] is True
    assert ("s", str(tree / "link")) in trace.seen
    (tree / "link").unlink()
    (tree / "link").symlink_to(tree / "conf.json")
    assert not unchanged(recorded(trace))


def test_one_trace_at_a_time(tree: Path) -> None:
    with Trace():
        with pytest.raises(RuntimeError):
            with Trace():
                pass
    assert read_trace._current is None


def test_a_folder_looked_at_by_its_kind_alone_may_change_inside(tree: Path) -> None:
    """``is_dir``, ``exists``, ``resolve``: a folder's stamps move with every file made in it (a home folder,
    /tmp), which would make every kept plan stale; its kind is all those calls read."""
    with Trace() as trace:
        assert (tree / "data").is_dir() and (tree / "data").resolve() == tree / "data"
    (tree / "data" / "new.csv").write_text("")
    assert unchanged(recorded(trace))
    shutil.rmtree(tree / "data")
    (tree / "data").write_text("now a file")
    assert not unchanged(recorded(trace))
