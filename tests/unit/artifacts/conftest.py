"""Fixtures shared by the artifact store's tests."""

from __future__ import annotations

import threading

import pytest

import zplan.fsutil as fsutil


@pytest.fixture
def held_syncs(monkeypatch: pytest.MonkeyPatch, per_file_syncs: None) -> tuple[threading.Event, list[str]]:
    """The background syncs, file by file, wait for ``release`` (a slow disk); each synced path is listed."""
    release, synced = threading.Event(), []
    real = fsutil.fsync_path

    def slow(path: str) -> None:
        release.wait(10)
        real(path)
        synced.append(path)

    monkeypatch.setattr(fsutil, "fsync_path", slow)
    return release, synced
