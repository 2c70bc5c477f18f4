from __future__ import annotations

import shutil
import stat

import pytest

from zplan.provider import ProviderError, ResourceChange

T = "local_directory"


def mode_of(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_create_update_mode_in_place_and_delete(provider, project):
    attrs = provider.create(T, "data", {"path": "data/raw", "mode": "0750"})
    path = project / "data/raw"
    assert path.is_dir() and mode_of(path) == 0o750
    assert attrs["id"] == str(path) and attrs["mode"] == "0750" and attrs["created_at"]
    assert provider.read(T, attrs) == attrs

    updated = provider.update(T, attrs, {"path": "data/raw", "mode": "0700"})
    assert mode_of(path) == 0o700 and updated["mode"] == "0700"
    assert updated["created_at"] == attrs["created_at"]  # same folder, not a new one

    provider.delete(T, updated)
    assert not path.exists()
    provider.delete(T, updated)  # deleting what is already gone is fine


def test_mode_is_reported_as_found_on_disk(provider, project):
    attrs = provider.create(T, "d", {"path": "d", "mode": "755"})
    assert provider.read(T, attrs)["mode"] == "755"  # the user's spelling while it matches
    (project / "d").chmod(0o700)
    assert provider.read(T, attrs)["mode"] == "0700"  # drift shows as a mode change


def test_replace_when_path_changes(provider, project):
    attrs = provider.create(T, "d", {"path": "one"})
    change = ResourceChange("resource.local_directory.d", T, "d", "replace", attrs, {"path": "two"})
    result = provider.apply_one(change)
    assert result.ok, result.error
    assert not (project / "one").exists() and (project / "two").is_dir()
    assert result.attributes["id"] == str(project / "two")


def test_deleted_by_hand_reads_as_gone(provider, project):
    attrs = provider.create(T, "d", {"path": "scratch"})
    shutil.rmtree(project / "scratch")
    assert provider.read(T, attrs) is None


def test_non_empty_directory_needs_force_destroy(provider, project):
    attrs = provider.create(T, "d", {"path": "models"})
    (project / "models/sub").mkdir()
    (project / "models/sub/model.pkl").write_bytes(b"weights")
    with pytest.raises(ProviderError, match="not empty.*force_destroy = true"):
        provider.delete(T, attrs)
    assert (project / "models/sub/model.pkl").exists()

    forced = provider.update(T, attrs, {"path": "models", "force_destroy": True})
    provider.delete(T, forced)
    assert not (project / "models").exists()
    assert list(project.iterdir()) == []  # no renamed leftovers


def test_existing_folder_is_adopted_and_a_file_is_refused(provider, project):
    (project / "there").mkdir()
    (project / "there/keep.txt").write_text("x")
    attrs = provider.create(T, "d", {"path": "there"})
    assert (project / "there/keep.txt").exists() and attrs["force_destroy"] is False
    (project / "afile").write_text("x")
    with pytest.raises(ProviderError, match="not a directory"):
        provider.create(T, "f", {"path": "afile"})


def test_import_by_relative_or_absolute_path(provider, project):
    (project / "imp").mkdir(mode=0o711)
    (project / "imp").chmod(0o711)
    attrs = provider.import_resource(T, "imp")
    assert attrs["path"] == "imp" and attrs["id"] == str(project / "imp") and attrs["mode"] == "0711"
    assert provider.import_resource(T, str(project / "imp"))["id"] == attrs["id"]
    with pytest.raises(ProviderError, match="no directory"):
        provider.import_resource(T, "missing")


def test_check(provider):
    assert provider.check(T, {"path": "x", "mode": "0755"}) == []
    assert provider.check(T, {"path": "", "mode": "rwx"}) == [
        "path must be a non-empty string",
        "mode must be an octal string such as \"0755\", got 'rwx'",
    ]
    assert "octal string" in provider.check(T, {"path": "x", "mode": 755})[0]
    assert provider.check(T, {"path": object()}) == []  # not known before apply: judged later


@pytest.mark.parametrize("path", [".", "..", "./", "sub/.."])
def test_a_folder_that_is_or_holds_the_project_is_refused(provider, path):
    # destroying it (force_destroy) would delete the project, its configuration and state
    [problem] = provider.check(T, {"path": path, "force_destroy": True})
    assert "is the project folder or holds it" in problem
    assert provider.check(T, {"path": "out"}) == []


def test_creating_the_project_folder_is_refused_when_its_path_was_unknown_at_plan(provider):
    with pytest.raises(ProviderError, match="is the project folder or holds it"):
        provider.create(T, "d", {"path": ".", "force_destroy": True})
