"""The aws provider through the shared provider suite: every type declared under
Pulumi's unit-test mocks (type token, the exact inputs the engine would receive with
wire names, nested and flattened blocks, JSON policies and secrets, and the outputs
read back under zplan attribute names) and its schema flags."""

from __future__ import annotations

import json

import pytest

from zplan.provider import ResourceChange
from zplan.testing import SchemaFlags
from zplan_provider_aws import TYPES, AwsProvider

from zplan_pulumi import testing

# importing pulumi_aws warns about its own deprecated resource classes
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

SECRET = {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270"}
ASSUME = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                  "Principal": {"Service": "sagemaker.amazonaws.com"}}]}
ROLE_ARN = "arn:aws:iam::123456789012:role/sagemaker-exec"

# type -> (zplan attributes, inputs the engine must receive, canned cloud outputs, expected read-back)
CASES = {
    "aws_s3_bucket": (
        {"bucket": "acme-ml-dev", "force_destroy": True, "tags": {"team": "ml"}},
        {"bucket": "acme-ml-dev", "forceDestroy": True, "tags": {"team": "ml"}},
        {"arn": "arn:aws:s3:::acme-ml-dev", "bucketDomainName": "acme-ml-dev.s3.amazonaws.com",
         "bucketRegionalDomainName": "acme-ml-dev.s3.eu-west-1.amazonaws.com", "region": "eu-west-1"},
        {"arn": "arn:aws:s3:::acme-ml-dev", "bucket_domain_name": "acme-ml-dev.s3.amazonaws.com",
         "bucket_regional_domain_name": "acme-ml-dev.s3.eu-west-1.amazonaws.com", "region": "eu-west-1"},
    ),
    "aws_s3_bucket_versioning": (
        {"bucket": "acme-ml-dev", "status": "Enabled"},
        {"bucket": "acme-ml-dev", "versioningConfiguration": {"status": "Enabled"}},
        {},
        {"bucket": "acme-ml-dev", "status": "Enabled"},
    ),
    "aws_db_instance": (
        {"engine_version": "8.0", "instance_class": "db.t3.micro", "allocated_storage": 20,
         "username": "zplan", "password": "s3cret", "db_name": "metadata", "skip_final_snapshot": True},
        {"engine": "mysql", "engineVersion": "8.0", "instanceClass": "db.t3.micro", "allocatedStorage": 20,
         "username": "zplan", "password": {**SECRET, "value": "s3cret"}, "dbName": "metadata",
         "skipFinalSnapshot": True},
        {"identifier": "meta-7c1d", "address": "meta-7c1d.abc.eu-west-1.rds.amazonaws.com",
         "endpoint": "meta-7c1d.abc.eu-west-1.rds.amazonaws.com:3306", "port": 3306,
         "arn": "arn:aws:rds:eu-west-1:123456789012:db:meta-7c1d"},
        {"identifier": "meta-7c1d", "address": "meta-7c1d.abc.eu-west-1.rds.amazonaws.com",
         "endpoint": "meta-7c1d.abc.eu-west-1.rds.amazonaws.com:3306", "port": 3306,
         "arn": "arn:aws:rds:eu-west-1:123456789012:db:meta-7c1d", "engine": "mysql"},
    ),
    "aws_iam_role": (
        {"name": "sagemaker-exec", "assume_role_policy": ASSUME},
        {"name": "sagemaker-exec", "assumeRolePolicy": json.dumps(ASSUME, sort_keys=True)},
        {"arn": ROLE_ARN, "uniqueId": "AROAEXAMPLE"},
        {"arn": ROLE_ARN, "unique_id": "AROAEXAMPLE"},
    ),
    "aws_iam_role_policy_attachment": (
        {"role": "sagemaker-exec", "policy_arn": "arn:aws:iam::aws:policy/AmazonSageMakerFullAccess"},
        {"role": "sagemaker-exec", "policyArn": "arn:aws:iam::aws:policy/AmazonSageMakerFullAccess"},
        {},
        {"policy_arn": "arn:aws:iam::aws:policy/AmazonSageMakerFullAccess"},
    ),
    "aws_ecr_repository": (
        {"name": "steps", "image_tag_mutability": "IMMUTABLE", "force_delete": True},
        {"name": "steps", "imageTagMutability": "IMMUTABLE", "forceDelete": True},
        {"repositoryUrl": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/steps", "registryId": "123456789012",
         "arn": "arn:aws:ecr:eu-west-1:123456789012:repository/steps"},
        {"repository_url": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/steps", "registry_id": "123456789012",
         "arn": "arn:aws:ecr:eu-west-1:123456789012:repository/steps"},
    ),
    "aws_sagemaker_model": (
        {"execution_role_arn": ROLE_ARN, "image": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/serve:1",
         "model_data_url": "s3://acme-ml-dev/models/iris.tar.gz", "environment": {"WORKERS": "2"}},
        {"executionRoleArn": ROLE_ARN,
         "primaryContainer": {"image": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/serve:1",
                              "modelDataUrl": "s3://acme-ml-dev/models/iris.tar.gz",
                              "environment": {"WORKERS": "2"}}},
        {"name": "iris-5e6f", "arn": "arn:aws:sagemaker:eu-west-1:123456789012:model/iris-5e6f"},
        {"name": "iris-5e6f", "arn": "arn:aws:sagemaker:eu-west-1:123456789012:model/iris-5e6f",
         "model_data_url": "s3://acme-ml-dev/models/iris.tar.gz", "environment": {"WORKERS": "2"}},
    ),
    "aws_sagemaker_endpoint_configuration": (
        {"model_name": "iris-5e6f", "instance_type": "ml.m5.large", "initial_instance_count": 1},
        {"productionVariants": [{"modelName": "iris-5e6f", "instanceType": "ml.m5.large",
                                 "initialInstanceCount": 1}]},
        {"name": "iris-cfg-1a2b", "arn": "arn:aws:sagemaker:eu-west-1:123456789012:endpoint-config/iris-cfg-1a2b"},
        {"name": "iris-cfg-1a2b", "model_name": "iris-5e6f", "instance_type": "ml.m5.large",
         "initial_instance_count": 1},
    ),
    "aws_sagemaker_endpoint": (
        {"endpoint_config_name": "iris-cfg-1a2b"},
        {"endpointConfigName": "iris-cfg-1a2b"},
        {"name": "iris-3c4d", "arn": "arn:aws:sagemaker:eu-west-1:123456789012:endpoint/iris-3c4d"},
        {"name": "iris-3c4d", "arn": "arn:aws:sagemaker:eu-west-1:123456789012:endpoint/iris-3c4d",
         "endpoint_config_name": "iris-cfg-1a2b"},
    ),
}


FLAGS = {
    "aws_s3_bucket": SchemaFlags(
        required=set(), force_new={"bucket"},
        computed_only={"id", "arn", "bucket_domain_name", "bucket_regional_domain_name", "region"},
    ),
    "aws_s3_bucket_versioning": SchemaFlags(required={"bucket", "status"}, force_new={"bucket"}, computed_only={"id"}),
    "aws_db_instance": SchemaFlags(
        required={"instance_class"}, force_new={"identifier", "engine", "username", "db_name"},
        computed_only={"id", "address", "arn", "endpoint"}, sensitive={"password"},
    ),
    "aws_iam_role": SchemaFlags(required={"assume_role_policy"}, force_new={"name"}, computed_only={"id", "arn", "unique_id"}),
    "aws_iam_role_policy_attachment": SchemaFlags(
        required={"role", "policy_arn"}, force_new={"role", "policy_arn"}, computed_only={"id"},
    ),
    "aws_ecr_repository": SchemaFlags(
        required={"name"}, force_new={"name"}, computed_only={"id", "arn", "registry_id", "repository_url"},
    ),
    "aws_sagemaker_model": SchemaFlags(
        required={"execution_role_arn", "image"},
        force_new={"name", "execution_role_arn", "image", "model_data_url", "model", "environment"}, computed_only={"id", "arn"},
    ),
    "aws_sagemaker_endpoint_configuration": SchemaFlags(
        required={"model_name"},
        force_new={"name", "model_name", "instance_type", "initial_instance_count", "variant_name"},
        computed_only={"id", "arn"},
    ),
    "aws_sagemaker_endpoint": SchemaFlags(required={"endpoint_config_name"}, force_new={"name"}, computed_only={"id", "arn"}),
}


class TestAwsProvider(testing.PulumiConformance):
    provider_class = AwsProvider
    flags = FLAGS
    declarations = CASES
    replace_example = ("aws_ecr_repository", {"name": "steps"})


def test_policy_given_as_json_text_is_sent_unchanged():
    mocks = testing.install()
    tm = TYPES["aws_iam_role"]
    text = '{"Version": "2012-10-17", "Statement": []}'
    change = ResourceChange("resource.aws_iam_role.r", tm.type, "r", "create", None, {"assume_role_policy": text})
    reg, _ = testing.declared(*mocks, change, tm)
    assert reg.inputs == {"assumeRolePolicy": text}


ARTIFACT = {"uri": "s3://acme-ml-dev/artifacts/22/22780b8ded512349a418a9aa057a6893", "digest": "22780b8ded512349a418a9aa057a6893",
            "materializer": "sklearn.pickle"}


def test_a_step_output_becomes_the_sagemaker_models_uncompressed_s3_prefix():
    mocks = testing.install()
    tm = TYPES["aws_sagemaker_model"]
    attrs = {"execution_role_arn": ROLE_ARN, "image": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/mlserver:1", "model": ARTIFACT}
    change = ResourceChange("resource.aws_sagemaker_model.m", tm.type, "m", "create", None, attrs)
    reg, _ = testing.declared(*mocks, change, tm)
    assert reg.inputs["primaryContainer"]["modelDataSource"] == {"s3DataSources": [{
        "s3Uri": ARTIFACT["uri"] + "/", "s3DataType": "S3Prefix", "compressionType": "None"}]}


def test_the_model_read_back_keeps_the_artifact_reference_and_a_local_artifact_is_refused():
    from zplan_pulumi.spec import decode_like, check_values

    tm = TYPES["aws_sagemaker_model"]
    field = tm.fields["model"]
    assert decode_like(field, {"s3Uri": ARTIFACT["uri"] + "/"}, ARTIFACT) == ARTIFACT  # no drift
    local = {**ARTIFACT, "uri": "file:///tmp/a/22"}
    assert check_values(tm, {"model": local}) == [
        "aws_sagemaker_model.model must be a step output kept in an s3:// artifact store, not 'file:///tmp/a/22'"]

