"""The gcp provider through the shared provider suite: every type declared under
Pulumi's unit-test mocks (the Pulumi type token, the exact inputs the engine would
receive with wire names, nested objects and secrets, and the outputs read back under
zplan attribute names) and its schema flags."""

from __future__ import annotations

import pytest

from zplan.testing import SchemaFlags
from zplan_provider_gcp import GcpProvider

from zplan_pulumi import testing

# importing pulumi_gcp warns about one of its own misspelled function names
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

SECRET_SIG = "4dabf18193072939515e22adb298388d"

# type -> (zplan attributes, inputs the engine must receive, canned cloud outputs, expected read-back)
CASES = {
    "gcp_storage_bucket": (
        {"name": "acme-ml-dev", "location": "EU", "storage_class": "STANDARD", "versioning": True,
         "labels": {"team": "ml"}, "force_destroy": True, "uniform_bucket_level_access": True},
        {"name": "acme-ml-dev", "location": "EU", "storageClass": "STANDARD", "versioning": {"enabled": True},
         "labels": {"team": "ml"}, "forceDestroy": True, "uniformBucketLevelAccess": True},
        {"url": "gs://acme-ml-dev", "selfLink": "https://www.googleapis.com/storage/v1/b/acme-ml-dev",
         "project": "acme"},
        {"url": "gs://acme-ml-dev", "self_link": "https://www.googleapis.com/storage/v1/b/acme-ml-dev",
         "project": "acme", "versioning": True, "storage_class": "STANDARD"},
    ),
    "gcp_sql_database_instance": (
        {"database_version": "MYSQL_8_0", "region": "europe-west1", "tier": "db-f1-micro",
         "deletion_protection": False},
        {"databaseVersion": "MYSQL_8_0", "region": "europe-west1", "settings": {"tier": "db-f1-micro"},
         "deletionProtection": False},
        {"name": "meta-4f2a", "connectionName": "acme:europe-west1:meta-4f2a", "publicIpAddress": "34.1.2.3",
         "privateIpAddress": "10.0.0.3", "selfLink": "https://sqladmin/meta-4f2a"},
        {"name": "meta-4f2a", "connection_name": "acme:europe-west1:meta-4f2a", "public_ip_address": "34.1.2.3",
         "private_ip_address": "10.0.0.3", "tier": "db-f1-micro"},
    ),
    "gcp_sql_database": (
        {"name": "metadata", "instance": "meta-4f2a", "charset": "utf8mb4"},
        {"name": "metadata", "instance": "meta-4f2a", "charset": "utf8mb4"},
        {"selfLink": "https://sqladmin/meta-4f2a/databases/metadata", "collation": "utf8mb4_general_ci"},
        {"self_link": "https://sqladmin/meta-4f2a/databases/metadata", "collation": "utf8mb4_general_ci"},
    ),
    "gcp_sql_user": (
        {"name": "zplan", "instance": "meta-4f2a", "host": "%", "password": "s3cret"},
        {"name": "zplan", "instance": "meta-4f2a", "host": "%",
         "password": {SECRET_SIG: "1b47061264138c4ac30d75fd1eb44270", "value": "s3cret"}},
        {"project": "acme"},
        {"name": "zplan", "project": "acme"},
    ),
    "gcp_service_account": (
        {"account_id": "zplan-runner", "display_name": "zplan runner"},
        {"accountId": "zplan-runner", "displayName": "zplan runner"},
        {"email": "zplan-runner@acme.iam.gserviceaccount.com",
         "member": "serviceAccount:zplan-runner@acme.iam.gserviceaccount.com", "uniqueId": "10452"},
        {"email": "zplan-runner@acme.iam.gserviceaccount.com",
         "member": "serviceAccount:zplan-runner@acme.iam.gserviceaccount.com", "unique_id": "10452"},
    ),
    "gcp_project_iam_member": (
        {"project": "acme", "role": "roles/storage.objectAdmin",
         "member": "serviceAccount:zplan-runner@acme.iam.gserviceaccount.com"},
        {"project": "acme", "role": "roles/storage.objectAdmin",
         "member": "serviceAccount:zplan-runner@acme.iam.gserviceaccount.com"},
        {"etag": "BwYx"},
        {"etag": "BwYx", "role": "roles/storage.objectAdmin"},
    ),
    "gcp_artifact_registry_repository": (
        {"repository_id": "steps", "location": "europe-west1", "format": "DOCKER", "description": "step images"},
        {"repositoryId": "steps", "location": "europe-west1", "format": "DOCKER", "description": "step images"},
        {"name": "projects/acme/locations/europe-west1/repositories/steps",
         "registryUri": "europe-west1-docker.pkg.dev/acme/steps"},
        {"name": "projects/acme/locations/europe-west1/repositories/steps",
         "registry_uri": "europe-west1-docker.pkg.dev/acme/steps"},
    ),
    "gcp_vertex_endpoint": (
        {"name": "4242", "display_name": "iris", "location": "europe-west1", "region": "europe-west1"},
        {"name": "4242", "displayName": "iris", "location": "europe-west1", "region": "europe-west1"},
        {"createTime": "2026-01-02T03:04:05Z"},
        {"create_time": "2026-01-02T03:04:05Z", "display_name": "iris"},
    ),
}


FLAGS = {
    "gcp_storage_bucket": SchemaFlags(
        required={"name", "location"}, force_new={"name", "location", "project"}, computed_only={"id", "url", "self_link"},
    ),
    "gcp_sql_database_instance": SchemaFlags(
        required={"database_version", "tier"}, force_new={"name", "region", "project"},
        computed_only={"id", "connection_name", "public_ip_address", "private_ip_address", "self_link"},
    ),
    "gcp_sql_database": SchemaFlags(
        required={"name", "instance"}, force_new={"name", "instance", "project"}, computed_only={"id", "self_link"},
    ),
    "gcp_sql_user": SchemaFlags(
        required={"name", "instance"}, force_new={"name", "instance", "project", "host"}, computed_only={"id"},
        sensitive={"password"},
    ),
    "gcp_service_account": SchemaFlags(
        required={"account_id"}, force_new={"account_id", "project"}, computed_only={"id", "email", "member", "unique_id"},
    ),
    "gcp_project_iam_member": SchemaFlags(
        required={"project", "role", "member"}, force_new={"project", "role", "member"}, computed_only={"id", "etag"},
    ),
    "gcp_artifact_registry_repository": SchemaFlags(
        required={"repository_id", "format"}, force_new={"repository_id", "location", "format", "project"},
        computed_only={"id", "name", "registry_uri"},
    ),
    "gcp_vertex_endpoint": SchemaFlags(
        required={"name", "display_name", "location"}, force_new={"name", "location", "region", "project"},
        computed_only={"id", "create_time"},
    ),
}


class TestGcpProvider(testing.PulumiConformance):
    provider_class = GcpProvider
    flags = FLAGS
    declarations = CASES
    replace_example = ("gcp_storage_bucket", {"name": "acme-ml", "location": "EU"})
