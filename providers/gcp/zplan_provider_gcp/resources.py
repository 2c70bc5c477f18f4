"""gcp resource types and their pulumi-gcp counterparts (plain data, no Pulumi import).

Attribute names follow Terraform's google provider; force_new marks what the
cloud cannot change in place, so ``zplan plan`` can say "must be replaced".
"""

from __future__ import annotations

from zplan_pulumi import arg, out, resource_type, table

STORAGE_CLASSES = ("STANDARD", "MULTI_REGIONAL", "REGIONAL", "NEARLINE", "COLDLINE", "ARCHIVE")
REPOSITORY_FORMATS = ("DOCKER", "MAVEN", "NPM", "PYTHON", "APT", "YUM", "GO", "KFP", "GENERIC")

TYPES = table(
    resource_type(
        "gcp_storage_bucket",
        "pulumi_gcp.storage:Bucket",
        "gcp:storage/bucket:Bucket",
        "A Cloud Storage bucket (artifact stores, datasets).",
        name=arg(required=True, force_new=True, doc="globally unique bucket name"),
        location=arg(required=True, force_new=True, doc="e.g. EU, US, europe-west1"),
        project=arg(computed=True, force_new=True, doc="defaults to the provider's project"),
        # pulumi-gcp's default: one no longer set goes back to it (computed: a bucket recorded
        # without it compares with the class the cloud gave it)
        storage_class=arg(computed=True, default="STANDARD", choices=STORAGE_CLASSES),
        versioning=arg("versioning.enabled", type="bool", doc="keep old object versions"),
        labels=arg(type="map"),
        force_destroy=arg(type="bool", doc="delete the objects too when the bucket is destroyed"),
        uniform_bucket_level_access=arg(type="bool", computed=True),
        url=out(doc="gs:// URL"),
        self_link=out(),
    ),
    resource_type(
        "gcp_sql_database_instance",
        "pulumi_gcp.sql:DatabaseInstance",
        "gcp:sql/databaseInstance:DatabaseInstance",
        "A Cloud SQL instance (e.g. MySQL for the metadata store).",
        name=arg(computed=True, force_new=True, doc="generated when unset"),
        # Cloud SQL upgrades the major version in place, keeping the data (pulumi-gcp updates it)
        database_version=arg(required=True, doc="e.g. MYSQL_8_0, POSTGRES_15; a newer one upgrades in place"),
        region=arg(computed=True, force_new=True, doc="defaults to the provider's region"),
        project=arg(computed=True, force_new=True),
        tier=arg("settings.tier", required=True, doc="machine type, e.g. db-f1-micro"),
        # pulumi-gcp's default, as storage_class of gcp_storage_bucket: the plan shows the protection
        deletion_protection=arg(type="bool", computed=True, default=True, doc="refuse to destroy while true"),
        connection_name=out(doc="project:region:instance, for the Cloud SQL connector"),
        public_ip_address=out(),
        private_ip_address=out(),
        self_link=out(),
    ),
    resource_type(
        "gcp_sql_database",
        "pulumi_gcp.sql:Database",
        "gcp:sql/database:Database",
        "A database inside a Cloud SQL instance.",
        name=arg(required=True, force_new=True),
        instance=arg(required=True, force_new=True, doc="the instance's name"),
        project=arg(computed=True, force_new=True),
        charset=arg(computed=True),
        collation=arg(computed=True),
        self_link=out(),
    ),
    resource_type(
        "gcp_sql_user",
        "pulumi_gcp.sql:User",
        "gcp:sql/user:User",
        "A user of a Cloud SQL instance.",
        name=arg(required=True, force_new=True),
        instance=arg(required=True, force_new=True),
        project=arg(computed=True, force_new=True),
        host=arg(force_new=True, doc="MySQL only: the host the user connects from"),
        password=arg(sensitive=True),
    ),
    resource_type(
        "gcp_service_account",
        "pulumi_gcp.serviceaccount:Account",
        "gcp:serviceaccount/account:Account",
        "A service account for pipeline runs.",
        account_id=arg(required=True, force_new=True, doc="6-30 characters, the part before @"),
        display_name=arg(),
        description=arg(),
        project=arg(computed=True, force_new=True),
        email=out(),
        member=out(doc="serviceAccount:EMAIL, ready for IAM bindings"),
        unique_id=out(),
    ),
    resource_type(
        "gcp_project_iam_member",
        "pulumi_gcp.projects:IAMMember",
        "gcp:projects/iAMMember:IAMMember",
        "Grants one role to one member on a project (non-authoritative).",
        project=arg(required=True, force_new=True),
        role=arg(required=True, force_new=True, doc="e.g. roles/storage.objectAdmin"),
        member=arg(required=True, force_new=True, doc="e.g. serviceAccount:EMAIL"),
        etag=out(),
    ),
    resource_type(
        "gcp_artifact_registry_repository",
        "pulumi_gcp.artifactregistry:Repository",
        "gcp:artifactregistry/repository:Repository",
        "An Artifact Registry repository (step and serving images).",
        repository_id=arg(required=True, force_new=True),
        location=arg(computed=True, force_new=True, doc="defaults to the provider's region"),
        format=arg(required=True, force_new=True, choices=REPOSITORY_FORMATS),
        project=arg(computed=True, force_new=True),
        description=arg(),
        labels=arg(type="map"),
        name=out(),
        registry_uri=out(doc="e.g. europe-west1-docker.pkg.dev/PROJECT/REPO"),
    ),
    resource_type(
        "gcp_vertex_endpoint",
        "pulumi_gcp.vertex:AiEndpoint",
        "gcp:vertex/aiEndpoint:AiEndpoint",
        "A Vertex AI endpoint that serves deployed models.",
        name=arg(required=True, force_new=True, doc="numeric-friendly endpoint id"),
        display_name=arg(required=True),
        location=arg(required=True, force_new=True),
        region=arg(computed=True, force_new=True),
        project=arg(computed=True, force_new=True),
        description=arg(),
        labels=arg(type="map"),
        create_time=out(),
    ),
)

# The provider block's project and region, which pulumi-gcp gives a resource that leaves the
# attribute unset (the artifact registry's location is the region): a change moves the resource.
PROVIDER_DEFAULTS = {
    "gcp_storage_bucket": {"project": "project"},
    "gcp_sql_database_instance": {"project": "project", "region": "region"},
    "gcp_sql_database": {"project": "project"},
    "gcp_sql_user": {"project": "project"},
    "gcp_service_account": {"project": "project"},
    "gcp_artifact_registry_repository": {"project": "project", "region": "location"},
    "gcp_vertex_endpoint": {"project": "project", "region": "region"},
}
