# Inputs of the ml-stack-aws module.

variable "name" {
  type        = string
  default     = "zplan"
  description = "Prefix of the resource names (the bucket name must be globally unique: include your organisation)"
}

variable "env" {
  type        = string
  default     = "dev"
  description = "Environment name, part of every resource name (dev, staging, prod...)"
}

variable "db_password" {
  type        = string
  sensitive   = true
  description = "Password of the metadata database user"
}

variable "db_instance_class" {
  type        = string
  default     = "db.t3.micro"
  description = "RDS instance class of the metadata database"
}

variable "db_allocated_storage" {
  type        = number
  default     = 20
  description = "Storage of the metadata database, GiB"
}

variable "db_publicly_accessible" {
  type        = bool
  default     = false
  description = "Give the database a public address (needed when steps run outside the VPC, e.g. on a laptop)"
}

variable "force_destroy" {
  type        = bool
  default     = false
  description = "Let destroy delete the bucket and the registry with their contents, and the database without a final snapshot"
}

variable "trusted_services" {
  type        = list
  default     = ["sagemaker.amazonaws.com", "ec2.amazonaws.com"]
  description = "AWS services that may assume the pipelines' role"
}

variable "tags" {
  type        = map
  default     = {}
  description = "Tags added to every resource (env is always set)"
}
