# Inputs of the ml-stack-gcp module.

variable "project" {
  type        = string
  description = "GCP project id the stack is created in"
}

variable "region" {
  type        = string
  default     = "europe-west1"
  description = "Region of the database, the registry and the pipelines"
}

variable "env" {
  type        = string
  default     = "dev"
  description = "Environment name, part of every resource name (dev, staging, prod...)"
}

variable "name" {
  type        = string
  default     = "zplan"
  description = "Prefix of the resource names"
}

variable "bucket_location" {
  type        = string
  default     = "EU"
  description = "Location of the artifact bucket (EU, US, or a region)"
}

variable "db_tier" {
  type        = string
  default     = "db-f1-micro"
  description = "Machine type of the Cloud SQL instance"
}

variable "db_version" {
  type        = string
  default     = "MYSQL_8_0"
  description = "Cloud SQL MySQL version of the metadata store"
}

variable "db_password" {
  type        = string
  sensitive   = true
  description = "Password of the metadata database user"
}

variable "deletion_protection" {
  type        = bool
  default     = true
  description = "Refuse to destroy the metadata database (turn off only for throwaway environments)"
}

variable "force_destroy" {
  type        = bool
  default     = false
  description = "Let destroy delete the bucket with the artifacts in it"
}

variable "labels" {
  type        = map
  default     = {}
  description = "Labels added to the bucket and the registry (env is always set)"
}
