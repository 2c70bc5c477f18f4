"""Shared pytest setup: the real servers some tests run against (started on demand)."""

import os

import pytest

# gcsfs otherwise stalls on a gRPC handshake against the emulator
os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")
os.environ.setdefault("ZPLAN_NO_COLOR", "1")
# Every no-change plan a test shows again from its memo is also made again and compared (zplan.operations.plan_memo).
os.environ.setdefault("ZPLAN_PLAN_MEMO", "verify")

pytest_plugins = ["tests.fixtures.mariadb", "tests.fixtures.servers", "tests.fixtures.dask_cluster", "tests.fixtures.clock"]

# CI runs the property tests on a fixed set of examples, so a run is repeatable.
from hypothesis import settings as _hypothesis_settings  # noqa: E402

_hypothesis_settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
if os.environ.get("CI"):
    _hypothesis_settings.load_profile("ci")


@pytest.fixture
def short_tmp():
    """A temporary folder with a short path, for a test that makes it TMPDIR: the workers' forkserver listens on a
    Unix socket there, whose path holds at most 107 bytes, which pytest's own folders
    (.../pytest-of-USER/pytest-123/popen-gw0/test_...) can exceed once its run counter has three digits."""
    import shutil
    import tempfile
    from pathlib import Path

    folder = Path(tempfile.mkdtemp(prefix="zt-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def per_file_syncs(monkeypatch):
    """Background syncs file by file, then folder by folder (zplan.fsutil.BackgroundSync), as on a machine
    with much unwritten data: for tests that watch each sync, where ``syncfs`` would sync them at once."""
    import zplan.fsutil

    monkeypatch.setattr(zplan.fsutil, "WHOLE_FS_DIRTY_MAX", -1)


@pytest.fixture
def whole_fs_syncs(monkeypatch):
    """Background syncs as one ``syncfs`` per file system, whatever the machine has unwritten."""
    import zplan.fsutil

    if not zplan.fsutil._reporting_syncfs():
        pytest.skip("no syncfs that reports write errors here (Linux 5.8 and later)")
    monkeypatch.setattr(zplan.fsutil, "WHOLE_FS_DIRTY_MAX", 1 << 62)
