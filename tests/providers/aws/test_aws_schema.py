"""aws offline checks and the credentials preflight (no Pulumi needed)."""

from __future__ import annotations

import pytest

from zplan.provider import ProviderRegistry
from zplan_provider_aws import AwsProvider, provider as aws_provider

def test_the_registry_serves_the_schema_defaults():
    assert ProviderRegistry().schema("aws_db_instance").attributes["engine"].default == "mysql"


def test_versioning_status_is_checked_offline(tmp_path):
    from zplan.provider import ProviderContext

    provider = AwsProvider(ProviderContext(project_dir=tmp_path, state_dir=tmp_path / ".zplan"))
    assert provider.check("aws_s3_bucket_versioning", {"bucket": "b", "status": "Enabled"}) == []
    [message] = provider.check("aws_s3_bucket_versioning", {"bucket": "b", "status": "enabled"})
    assert "status" in message and "'Enabled'" in message


@pytest.fixture
def not_on_ec2(monkeypatch):
    monkeypatch.setattr(aws_provider, "dmi_says", lambda *needles: False)


def test_no_credentials_anywhere_is_a_clear_error(tmp_path, not_on_ec2):
    message = aws_provider.missing_credentials({}, {"HOME": str(tmp_path)})
    assert "aws configure" in message and "AWS_ACCESS_KEY_ID" in message


def test_credentials_without_a_region_are_a_clear_error(tmp_path, not_on_ec2):
    env = {"HOME": str(tmp_path), "AWS_ACCESS_KEY_ID": "AKIA", "AWS_SECRET_ACCESS_KEY": "x"}
    assert "region" in aws_provider.missing_credentials({}, env)
    assert aws_provider.missing_credentials({"region": "eu-west-1"}, env) is None
    assert aws_provider.missing_credentials({}, {**env, "AWS_REGION": "eu-west-1"}) is None


def test_a_configured_profile_counts(tmp_path, not_on_ec2):
    (tmp_path / ".aws").mkdir()
    (tmp_path / ".aws" / "config").write_text("[default]\nregion = eu-west-1\n")
    assert aws_provider.missing_credentials({}, {"HOME": str(tmp_path)}) is None
