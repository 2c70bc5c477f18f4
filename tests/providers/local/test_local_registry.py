from __future__ import annotations

from zplan.provider import ProviderRegistry, ResourceChange, ResourceResult
from zplan_provider_local import LocalProvider


def test_entry_point_is_discoverable():
    registry = ProviderRegistry()
    assert registry.provider_class("local") is LocalProvider
    assert "local" in registry.names()
    schema = registry.schema("local_process")
    assert schema is not None and schema.attributes["command"].force_new
    assert registry.schema("local_file").sensitive_names() == {"sensitive_content"}
    assert LocalProvider.refresh_is_local  # plan reads these back every time (drift)


def test_unknown_type_is_a_message_not_a_crash(provider):
    assert "no resource type 'local_bucket'" in provider.check("local_bucket", {})[0]
    result = provider.apply_one(ResourceChange("resource.local_bucket.b", "local_bucket", "b", "create", None, {}))
    assert not result.ok and "local_directory" in result.error


def test_apply_wave_skips_noops_and_reports_each_change(provider, project):
    (project / "kept").mkdir()
    kept = provider.import_resource("local_directory", "kept")
    changes = [
        ResourceChange("resource.local_directory.kept", "local_directory", "kept", "noop", kept, kept),
        ResourceChange("resource.local_directory.new", "local_directory", "new", "create", None, {"path": "data/new"}),
        ResourceChange("resource.local_file.f", "local_file", "f", "create", None, {"path": "data/new/a.txt", "content": "hi"}),
    ]
    results: list[ResourceResult] = []
    provider.apply(changes, results.append)
    assert [r.address for r in results] == ["resource.local_directory.new", "resource.local_file.f"]
    assert all(r.ok for r in results)
    assert (project / "data/new/a.txt").read_text() == "hi"


def test_filesystem_errors_become_provider_errors(provider, project):
    (project / "afile").write_text("x")
    change = ResourceChange("resource.local_directory.d", "local_directory", "d", "create", None, {"path": "afile/sub"})
    result = provider.apply_one(change)
    assert not result.ok
    assert result.error.startswith("local_directory: Not a directory")  # no exception class name: a user message
