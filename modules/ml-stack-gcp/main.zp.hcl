# A ready zplan stack on GCP: a bucket for the artifacts, a Cloud SQL MySQL database for
# ML Metadata and the state, a service account the pipelines run as, and an Artifact
# Registry repository for step and serving images. See README.md.

locals {
  prefix = "${var.name}-${var.env}"
  labels = merge(var.labels, { env = var.env, managed_by = "zplan" })
}

resource "gcp_storage_bucket" "artifacts" {
  name                        = "${var.project}-${local.prefix}"
  project                     = var.project
  location                    = var.bucket_location
  uniform_bucket_level_access = true
  force_destroy               = var.force_destroy
  labels                      = local.labels
}

resource "gcp_sql_database_instance" "metadata" {
  name                = "${local.prefix}-meta"
  project             = var.project
  region              = var.region
  database_version    = var.db_version
  tier                = var.db_tier
  deletion_protection = var.deletion_protection
}

resource "gcp_sql_database" "metadata" {
  name     = "zplan"
  project  = var.project
  instance = resource.gcp_sql_database_instance.metadata.name
}

resource "gcp_sql_user" "zplan" {
  name     = "zplan"
  project  = var.project
  instance = resource.gcp_sql_database_instance.metadata.name
  password = var.db_password
}

resource "gcp_service_account" "runner" {
  account_id   = "${local.prefix}-runner"
  project      = var.project
  display_name = "zplan pipelines (${var.env})"
}

# What the pipelines need: read and write artifacts, reach the metadata database, push and
# pull images.
resource "gcp_project_iam_member" "runner_storage" {
  project = var.project
  role    = "roles/storage.objectAdmin"
  member  = resource.gcp_service_account.runner.member
}

resource "gcp_project_iam_member" "runner_sql" {
  project = var.project
  role    = "roles/cloudsql.client"
  member  = resource.gcp_service_account.runner.member
}

resource "gcp_project_iam_member" "runner_registry" {
  project = var.project
  role    = "roles/artifactregistry.writer"
  member  = resource.gcp_service_account.runner.member
}

resource "gcp_artifact_registry_repository" "images" {
  repository_id = local.prefix
  project       = var.project
  location      = var.region
  format        = "DOCKER"
  description   = "zplan step and serving images (${var.env})"
  labels        = local.labels
}
