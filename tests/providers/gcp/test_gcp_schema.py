"""gcp schemas and the credentials preflight (no Pulumi needed)."""

from __future__ import annotations

import pytest

from zplan.provider import ProviderRegistry
from zplan_provider_gcp import GcpProvider, provider as gcp_provider

REQUIRED = {
    "gcp_storage_bucket": {"name", "location"},
    "gcp_sql_database_instance": {"database_version", "tier"},
    "gcp_sql_database": {"name", "instance"},
    "gcp_sql_user": {"name", "instance"},
    "gcp_service_account": {"account_id"},
    "gcp_project_iam_member": {"project", "role", "member"},
    "gcp_artifact_registry_repository": {"repository_id", "format"},
    "gcp_vertex_endpoint": {"name", "display_name", "location"},
}
FORCE_NEW = {
    "gcp_storage_bucket": {"name", "location", "project"},
    "gcp_sql_database_instance": {"name", "database_version", "region", "project"},
    "gcp_sql_database": {"name", "instance", "project"},
    "gcp_sql_user": {"name", "instance", "project", "host"},
    "gcp_service_account": {"account_id", "project"},
    "gcp_project_iam_member": {"project", "role", "member"},
    "gcp_artifact_registry_repository": {"repository_id", "location", "format", "project"},
    "gcp_vertex_endpoint": {"name", "location", "region", "project"},
}
COMPUTED_ONLY = {
    "gcp_storage_bucket": {"id", "url", "self_link"},
    "gcp_sql_database_instance": {"id", "connection_name", "public_ip_address", "private_ip_address", "self_link"},
    "gcp_sql_database": {"id", "self_link"},
    "gcp_sql_user": {"id"},
    "gcp_service_account": {"id", "email", "member", "unique_id"},
    "gcp_project_iam_member": {"id", "etag"},
    "gcp_artifact_registry_repository": {"id", "name", "registry_uri"},
    "gcp_vertex_endpoint": {"id", "create_time"},
}


@pytest.mark.parametrize("type_", sorted(REQUIRED))
def test_schema_flags(type_):
    schema = GcpProvider.schemas[type_]
    attrs = schema.attributes
    assert schema.type == type_ and schema.description
    assert {n for n, a in attrs.items() if a.required} == REQUIRED[type_]
    assert {n for n, a in attrs.items() if a.force_new} == FORCE_NEW[type_]
    assert {n for n, a in attrs.items() if not a.settable} == COMPUTED_ONLY[type_]
    assert schema.sensitive_names() == ({"password"} if type_ == "gcp_sql_user" else set())
    assert not any(a.required and a.computed for a in attrs.values())


def test_the_entry_point_serves_the_schemas():
    registry = ProviderRegistry()
    assert registry.provider_class("gcp") is GcpProvider
    assert set(REQUIRED) == set(GcpProvider.schemas)
    assert registry.schema("gcp_sql_user").attributes["password"].sensitive


@pytest.fixture
def not_on_gce(monkeypatch):
    monkeypatch.setattr(gcp_provider, "dmi_says", lambda *needles: False)


def test_no_credentials_anywhere_is_a_clear_error(tmp_path, not_on_gce):
    message = gcp_provider.missing_credentials({}, {"HOME": str(tmp_path)})
    assert "gcloud auth application-default login" in message
    assert "GOOGLE_APPLICATION_CREDENTIALS" in message


@pytest.mark.parametrize("env", [{"GOOGLE_APPLICATION_CREDENTIALS": "/k.json"}, {"GOOGLE_OAUTH_ACCESS_TOKEN": "t"}])
def test_credentials_from_the_environment(tmp_path, not_on_gce, env):
    assert gcp_provider.missing_credentials({}, {"HOME": str(tmp_path), **env}) is None


def test_credentials_from_a_gcloud_login_or_the_provider_block(tmp_path, not_on_gce):
    adc = tmp_path / ".config" / "gcloud" / "application_default_credentials.json"
    assert gcp_provider.missing_credentials({"credentials": "{...}"}, {"HOME": str(tmp_path)}) is None
    adc.parent.mkdir(parents=True)
    adc.write_text("{}")
    assert gcp_provider.missing_credentials({}, {"HOME": str(tmp_path)}) is None
