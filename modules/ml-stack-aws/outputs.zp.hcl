# Outputs: the values a stack block takes, and the names of what was created.

output "artifact_store" {
  description = "stack artifact_store: the artifacts folder of the bucket"
  value       = "s3://${resource.aws_s3_bucket.artifacts.bucket}/artifacts"
}

output "metadata_store" {
  description = "stack metadata_store: the RDS database, as user@host:port/database"
  value       = "mysql://${resource.aws_db_instance.metadata.username}@${resource.aws_db_instance.metadata.address}:${resource.aws_db_instance.metadata.port}/${resource.aws_db_instance.metadata.db_name}"
}

output "metadata_password" {
  description = "stack metadata_password: the database user's password"
  value       = var.db_password
  sensitive   = true
}

output "image_repository" {
  description = "Where step and serving images are pushed: ACCOUNT.dkr.ecr.REGION.amazonaws.com/REPOSITORY"
  value       = resource.aws_ecr_repository.images.repository_url
}

output "role_arn" {
  description = "ARN of the role pipelines and SageMaker endpoints run as (execution_role_arn)"
  value       = resource.aws_iam_role.runner.arn
}

output "bucket" {
  description = "Name of the artifact bucket"
  value       = resource.aws_s3_bucket.artifacts.bucket
}
