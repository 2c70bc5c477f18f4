"""Names looked up from an open folder (zplan.fsutil.OpenFolder): a plan's data inputs and its
cached outputs' presence. The answers must be those of the full paths, whatever happens to the
folder's contents meanwhile."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest

from zplan.artifacts.store import ArtifactStore
from zplan.fsutil import OpenFolder

from .helpers import SAMPLE, make_tree


def test_a_name_is_statted_as_its_full_path(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.csv").write_text("x\n1\n")
    folder = OpenFolder(str(tmp_path))
    assert folder.fd is not None
    assert folder.stat("data/a.csv", str(tmp_path / "data/a.csv")) == os.stat(tmp_path / "data/a.csv")
    (tmp_path / "data" / "a.csv").write_text("x\n1\n2\n")  # changed after the folder was opened: seen
    assert folder.stat("data/a.csv", "").st_size == 6
    with pytest.raises(FileNotFoundError):
        folder.stat("data/missing.csv", str(tmp_path / "data/missing.csv"))


def test_a_folder_not_there_yet_stats_full_paths(tmp_path):
    folder = OpenFolder(str(tmp_path / "later"))
    assert folder.fd is None
    (tmp_path / "later").mkdir()
    (tmp_path / "later" / "f").write_text("1")
    assert folder.stat("f", str(tmp_path / "later" / "f")).st_size == 1


def test_the_descriptor_is_closed_when_released_and_opened_again_when_unpickled(tmp_path):
    folder = OpenFolder(str(tmp_path))
    fd = folder.fd
    copy = pickle.loads(pickle.dumps(folder))
    assert copy.path == folder.path and copy.fd is not None and copy.fd != fd
    del folder
    with pytest.raises(OSError):
        os.fstat(fd)
    (tmp_path / "f").write_text("1")
    assert copy.stat("f", "").st_size == 1


def test_the_local_store_s_presence_follows_the_store(tmp_path: Path):
    store = ArtifactStore.from_url(f"file://{tmp_path}/store", tmp_path)
    present = store.presence()  # made before the store's folder exists: full paths
    digest = store.put(make_tree(tmp_path / "src", SAMPLE)).digest
    assert present(digest) and not present("ab" * 16)
    present = store.presence()  # the store's folder open
    assert present(digest) and not present("ab" * 16)
    store.delete(digest)
    assert not present(digest)
    (tmp_path / "store" / digest[:2]).mkdir(exist_ok=True)
    (tmp_path / "store" / digest[:2] / digest).write_text("a file, not a stored artifact")
    assert not present(digest)
    with pytest.raises(ValueError):
        present("../../etc")
