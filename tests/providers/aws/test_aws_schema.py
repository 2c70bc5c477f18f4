"""aws schemas and the credentials preflight (no Pulumi needed)."""

from __future__ import annotations

import pytest

from zplan.provider import ProviderRegistry
from zplan_provider_aws import AwsProvider, provider as aws_provider

REQUIRED = {
    "aws_s3_bucket": set(),
    "aws_s3_bucket_versioning": {"bucket", "status"},
    "aws_db_instance": {"instance_class"},
    "aws_iam_role": {"assume_role_policy"},
    "aws_iam_role_policy_attachment": {"role", "policy_arn"},
    "aws_ecr_repository": {"name"},
    "aws_sagemaker_model": {"execution_role_arn", "image"},
    "aws_sagemaker_endpoint_configuration": {"model_name"},
    "aws_sagemaker_endpoint": {"endpoint_config_name"},
}
FORCE_NEW = {
    "aws_s3_bucket": {"bucket"},
    "aws_s3_bucket_versioning": {"bucket"},
    "aws_db_instance": {"identifier", "engine", "username", "db_name"},
    "aws_iam_role": {"name"},
    "aws_iam_role_policy_attachment": {"role", "policy_arn"},
    "aws_ecr_repository": {"name"},
    "aws_sagemaker_model": {"name", "execution_role_arn", "image", "model_data_url", "environment"},
    "aws_sagemaker_endpoint_configuration": {"name", "model_name", "instance_type", "initial_instance_count",
                                             "variant_name"},
    "aws_sagemaker_endpoint": {"name"},
}
COMPUTED_OUTPUTS = {
    "aws_s3_bucket": {"arn", "bucket_regional_domain_name"},
    "aws_db_instance": {"address", "endpoint", "port"},
    "aws_iam_role": {"arn"},
    "aws_ecr_repository": {"repository_url"},
    "aws_sagemaker_model": {"arn"},
    "aws_sagemaker_endpoint": {"arn"},
}


@pytest.mark.parametrize("type_", sorted(REQUIRED))
def test_schema_flags(type_):
    schema = AwsProvider.schemas[type_]
    attrs = schema.attributes
    assert schema.type == type_ and schema.description
    assert {n for n, a in attrs.items() if a.required} == REQUIRED[type_]
    assert {n for n, a in attrs.items() if a.force_new} == FORCE_NEW[type_]
    assert attrs["id"].computed and not attrs["id"].settable
    assert all(attrs[n].computed for n in COMPUTED_OUTPUTS.get(type_, ()))
    assert schema.sensitive_names() == ({"password"} if type_ == "aws_db_instance" else set())
    assert not any(a.required and a.computed for a in attrs.values())


def test_the_entry_point_serves_the_schemas():
    registry = ProviderRegistry()
    assert registry.provider_class("aws") is AwsProvider
    assert set(REQUIRED) == set(AwsProvider.schemas)
    assert registry.schema("aws_db_instance").attributes["engine"].default == "mysql"


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
