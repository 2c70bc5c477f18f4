from __future__ import annotations

import hashlib
import stat

import pytest

from zplan.provider import ProviderError, ResourceChange

T = "local_file"


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def test_create_update_in_place_and_delete(provider, project):
    attrs = provider.create(T, "cfg", {"path": "conf/app.toml", "content": "a = 1\n"})
    path = project / "conf/app.toml"
    assert path.read_text() == "a = 1\n"
    assert attrs["sha256"] == sha("a = 1\n") and attrs["id"] == str(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644  # umask 022, not the temp file's 0600
    assert provider.read(T, attrs) == attrs

    inode = path.stat().st_ino
    updated = provider.update(T, attrs, {"path": "conf/app.toml", "content": "a = 2\n", "mode": "0600"})
    assert path.read_text() == "a = 2\n" and updated["sha256"] == sha("a = 2\n")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and updated["mode"] == "0600"
    assert path.stat().st_ino != inode  # rewritten by rename, never in place
    assert sorted(p.name for p in path.parent.iterdir()) == ["app.toml"]

    provider.delete(T, updated)
    assert not path.exists()


def test_an_update_keeps_the_mode_of_a_file_whose_mode_is_not_configured(provider, project):
    # the plan shows mode unchanged (it is the provider's choice when unset): the rewrite must not reset it
    attrs = provider.create(T, "f", {"path": "f.txt", "content": "one"})
    (project / "f.txt").chmod(0o600)
    updated = provider.update(T, provider.read(T, attrs), {"path": "f.txt", "content": "two"})
    assert stat.S_IMODE((project / "f.txt").stat().st_mode) == 0o600 and updated["mode"] == "0600"


def test_replace_when_path_changes(provider, project):
    attrs = provider.create(T, "f", {"path": "a.txt", "content": "x"})
    result = provider.apply_one(ResourceChange("resource.local_file.f", T, "f", "replace", attrs, {"path": "b.txt", "content": "x"}))
    assert result.ok and not (project / "a.txt").exists() and (project / "b.txt").read_text() == "x"


def test_sensitive_content(provider, project):
    attrs = provider.create(T, "secret", {"path": "token", "sensitive_content": "s3cr3t", "mode": "0600"})
    assert (project / "token").read_text() == "s3cr3t" and attrs["content"] is None
    assert stat.S_IMODE((project / "token").stat().st_mode) == 0o600
    (project / "token").write_text("tampered")
    drifted = provider.read(T, attrs)
    assert drifted["sensitive_content"] == "tampered" and drifted["content"] is None


def test_drift(provider, project):
    attrs = provider.create(T, "f", {"path": "f.txt", "content": "one"})
    (project / "f.txt").write_text("edited by hand")
    drifted = provider.read(T, attrs)
    assert drifted["content"] == "edited by hand" and drifted["sha256"] == sha("edited by hand")
    (project / "f.txt").unlink()
    assert provider.read(T, attrs) is None


def test_import(provider, project):
    (project / "notes.md").write_text("# notes\n")
    attrs = provider.import_resource(T, "notes.md")
    assert attrs["content"] == "# notes\n" and attrs["sha256"] == sha("# notes\n") and attrs["path"] == "notes.md"
    (project / "blob").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ProviderError, match="not UTF-8 text"):
        provider.import_resource(T, "blob")
    with pytest.raises(ProviderError, match="no file at"):
        provider.import_resource(T, "nothing")


def test_check(provider):
    assert provider.check(T, {"path": "a", "content": "x"}) == []
    assert provider.check(T, {"path": "a", "sensitive_content": "x", "mode": "0600"}) == []
    assert provider.check(T, {"path": "a"}) == ["set exactly one of content and sensitive_content"]
    assert provider.check(T, {"path": "a", "content": "x", "sensitive_content": "y"}) == [
        "set exactly one of content and sensitive_content"
    ]
    assert provider.check(T, {"path": "a", "content": 3}) == ["content must be a string"]


def test_a_file_of_sensitive_content_is_its_owners_alone_unless_a_mode_is_set(provider, project):
    """As Terraform's local_sensitive_file: a secret written to disk is not readable by every user."""
    provider.create(T, "secret", {"path": "token", "sensitive_content": "s3cr3t"})
    assert stat.S_IMODE((project / "token").stat().st_mode) == 0o600
    provider.create(T, "shared", {"path": "shared", "sensitive_content": "s3cr3t", "mode": "0640"})
    assert stat.S_IMODE((project / "shared").stat().st_mode) == 0o640
