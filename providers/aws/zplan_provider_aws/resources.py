"""aws resource types and their pulumi-aws counterparts (plain data, no Pulumi import).

Attribute names follow Terraform's aws provider; force_new marks what AWS
cannot change in place. SageMaker's nested blocks are flattened to the common
single-container, single-variant case (``image`` -> primary_container.image).
"""

from __future__ import annotations

from zplan_pulumi import JSON, arg, out, resource_type, table
from zplan_pulumi.spec import S3_PREFIX


def tags():
    return arg(type="map", doc="AWS tags")


TYPES = table(
    resource_type(
        "aws_s3_bucket",
        "pulumi_aws.s3:Bucket",
        "aws:s3/bucket:Bucket",
        "An S3 bucket (artifact stores, datasets).",
        bucket=arg(computed=True, force_new=True, doc="globally unique name; generated when unset"),
        force_destroy=arg(type="bool", doc="delete the objects too when the bucket is destroyed"),
        tags=tags(),
        arn=out(),
        bucket_domain_name=out(),
        bucket_regional_domain_name=out(),
        region=out(),
    ),
    resource_type(
        "aws_s3_bucket_versioning",
        "pulumi_aws.s3:BucketVersioning",
        "aws:s3/bucketVersioning:BucketVersioning",
        "Turns object versioning on or off for a bucket.",
        bucket=arg(required=True, force_new=True),
        status=arg(
            "versioning_configuration.status",
            required=True,
            choices=("Enabled", "Suspended", "Disabled"),
        ),
    ),
    resource_type(
        "aws_db_instance",
        "pulumi_aws.rds:Instance",
        "aws:rds/instance:Instance",
        "An RDS database instance (e.g. MySQL for the metadata store).",
        identifier=arg(computed=True, force_new=True, doc="generated when unset"),
        engine=arg(default="mysql", force_new=True),
        engine_version=arg(computed=True),
        instance_class=arg(required=True, doc="e.g. db.t3.micro"),
        allocated_storage=arg(type="number", computed=True, doc="GiB"),
        username=arg(force_new=True),
        password=arg(sensitive=True),
        db_name=arg(force_new=True),
        port=arg(type="number", computed=True),
        publicly_accessible=arg(type="bool"),
        skip_final_snapshot=arg(type="bool", doc="allow destroy without a final snapshot"),
        tags=tags(),
        address=out(doc="host name"),
        endpoint=out(doc="host:port"),
        arn=out(),
    ),
    resource_type(
        "aws_iam_role",
        "pulumi_aws.iam:Role",
        "aws:iam/role:Role",
        "An IAM role (e.g. the SageMaker execution role).",
        name=arg(computed=True, force_new=True, doc="generated when unset"),
        assume_role_policy=arg(type="any", required=True, codec=JSON, doc="a policy document: a map or its JSON"),
        description=arg(),
        tags=tags(),
        arn=out(),
        unique_id=out(),
    ),
    resource_type(
        "aws_iam_role_policy_attachment",
        "pulumi_aws.iam:RolePolicyAttachment",
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
        "Attaches a managed policy to a role.",
        role=arg(required=True, force_new=True, doc="the role's name"),
        policy_arn=arg(required=True, force_new=True),
    ),
    resource_type(
        "aws_ecr_repository",
        "pulumi_aws.ecr:Repository",
        "aws:ecr/repository:Repository",
        "An ECR repository (step and serving images).",
        name=arg(required=True, force_new=True),
        # pulumi-aws's default, as storage_class of gcp_storage_bucket
        image_tag_mutability=arg(computed=True, default="MUTABLE", choices=("MUTABLE", "IMMUTABLE")),
        force_delete=arg(type="bool", doc="delete the images too when the repository is destroyed"),
        tags=tags(),
        repository_url=out(),
        registry_id=out(),
        arn=out(),
    ),
    resource_type(
        "aws_sagemaker_model",
        "pulumi_aws.sagemaker:Model",
        "aws:sagemaker/model:Model",
        "A SageMaker model: a serving image plus model artifacts.",
        name=arg(computed=True, force_new=True, doc="generated when unset"),
        execution_role_arn=arg(required=True, force_new=True),
        image=arg("primary_container.image", required=True, force_new=True),
        model_data_url=arg("primary_container.model_data_url", force_new=True, doc="s3:// URL of model.tar.gz"),
        model=arg("primary_container.model_data_source.s3_data_sources.0", type="map", force_new=True, codec=S3_PREFIX,
                  doc="a step output in an s3:// artifact store (model = step.train.outputs.output), served from its "
                      "folder uncompressed; the image must load the materializer's file (model.pkl) from /opt/ml/model"),
        environment=arg("primary_container.environment", type="map", force_new=True),
        tags=tags(),
        arn=out(),
    ),
    resource_type(
        "aws_sagemaker_endpoint_configuration",
        "pulumi_aws.sagemaker:EndpointConfiguration",
        "aws:sagemaker/endpointConfiguration:EndpointConfiguration",
        "How a SageMaker endpoint serves a model (one production variant).",
        name=arg(computed=True, force_new=True, doc="generated when unset"),
        model_name=arg("production_variants.0.model_name", required=True, force_new=True),
        instance_type=arg("production_variants.0.instance_type", force_new=True, doc="e.g. ml.m5.large"),
        initial_instance_count=arg("production_variants.0.initial_instance_count", type="number", force_new=True),
        variant_name=arg("production_variants.0.variant_name", computed=True, force_new=True),
        tags=tags(),
        arn=out(),
    ),
    resource_type(
        "aws_sagemaker_endpoint",
        "pulumi_aws.sagemaker:Endpoint",
        "aws:sagemaker/endpoint:Endpoint",
        "A SageMaker real-time inference endpoint.",
        name=arg(computed=True, force_new=True, doc="generated when unset"),
        endpoint_config_name=arg(required=True),
        tags=tags(),
        arn=out(),
    ),
)

# The provider block's region places every regional resource (no attribute shows it: a resource
# in another region is another resource); IAM is global.
PROVIDER_DEFAULTS = {t: {"region": ""} for t in TYPES if not t.startswith("aws_iam_")}
