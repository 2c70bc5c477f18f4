# A ready zplan stack on AWS: an S3 bucket for the artifacts, an RDS MySQL database for
# ML Metadata and the state, an IAM role the pipelines and endpoints run as, and an ECR
# repository for step and serving images. See README.md.

locals {
  prefix = "${var.name}-${var.env}"
  tags   = merge(var.tags, { env = var.env, managed_by = "zplan" })
}

resource "aws_s3_bucket" "artifacts" {
  bucket        = "${local.prefix}-artifacts"
  force_destroy = var.force_destroy
  tags          = local.tags
}

resource "aws_db_instance" "metadata" {
  identifier          = "${local.prefix}-meta"
  engine              = "mysql"
  instance_class      = var.db_instance_class
  allocated_storage   = var.db_allocated_storage
  db_name             = "zplan"
  username            = "zplan"
  password            = var.db_password
  publicly_accessible = var.db_publicly_accessible
  skip_final_snapshot = var.force_destroy
  tags                = local.tags
}

resource "aws_iam_role" "runner" {
  name = "${local.prefix}-runner"
  assume_role_policy = {
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Action    = "sts:AssumeRole"
      Principal = { Service = var.trusted_services }
    }]
  }
  tags = local.tags
}

# What the pipelines need: read and write artifacts, push and pull images.
resource "aws_iam_role_policy_attachment" "runner_s3" {
  role       = resource.aws_iam_role.runner.name
  policy_arn = "arn:aws:iam::aws:policy/AmazonS3FullAccess"
}

resource "aws_iam_role_policy_attachment" "runner_ecr" {
  role       = resource.aws_iam_role.runner.name
  policy_arn = "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPowerUser"
}

resource "aws_ecr_repository" "images" {
  name         = local.prefix
  force_delete = var.force_destroy
  tags         = local.tags
}
