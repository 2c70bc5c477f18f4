# Outputs: the values a stack block takes, and the names of what was created.

output "artifact_store" {
  description = "stack artifact_store: the artifacts folder of the bucket"
  value       = "gs://${resource.gcp_storage_bucket.artifacts.name}/artifacts"
}

output "metadata_store" {
  description = "stack metadata_store: the Cloud SQL database, as user@public address"
  value       = "mysql://${resource.gcp_sql_user.zplan.name}@${resource.gcp_sql_database_instance.metadata.public_ip_address}:3306/${resource.gcp_sql_database.metadata.name}"
}

output "metadata_password" {
  description = "stack metadata_password: the database user's password"
  value       = var.db_password
  sensitive   = true
}

output "orchestrator_options" {
  description = "stack orchestrator_options for orchestrator = \"vertex\""
  value = {
    project       = var.project
    location      = var.region
    pipeline_root = "gs://${resource.gcp_storage_bucket.artifacts.name}/pipelines"
  }
}

output "beam_options" {
  description = "stack beam_options for processing = \"beam:DataflowRunner\""
  value = {
    project       = var.project
    region        = var.region
    temp_location = "gs://${resource.gcp_storage_bucket.artifacts.name}/beam-tmp"
  }
}

output "image_repository" {
  description = "Where step and serving images are pushed: REGION-docker.pkg.dev/PROJECT/REPOSITORY"
  value       = "${var.region}-docker.pkg.dev/${var.project}/${resource.gcp_artifact_registry_repository.images.repository_id}"
}

output "service_account" {
  description = "Email of the service account the pipelines run as"
  value       = resource.gcp_service_account.runner.email
}

output "bucket" {
  description = "Name of the artifact bucket"
  value       = resource.gcp_storage_bucket.artifacts.name
}

output "sql_connection_name" {
  description = "project:region:instance, for the Cloud SQL connector"
  value       = resource.gcp_sql_database_instance.metadata.connection_name
}
