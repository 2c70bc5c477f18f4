# Training on AWS and serving the trained model on SageMaker, in one plan: the bucket that
# holds the artifacts, the metadata database, the pipeline, then a SageMaker model made of
# the train step's output, its endpoint configuration and the endpoint.
#
#   zplan plan      # works offline: no Pulumi CLI, no credentials needed
#   zplan apply     # needs the Pulumi CLI, AWS credentials and the serving image (see README.md)

variable "name" {
  default     = "acme-ml"
  description = "Prefix of the bucket and database names"
}

variable "region" {
  default = "eu-west-1"
}

variable "env" {
  default = "dev"
}

variable "db_password" {
  sensitive   = true
  default     = "change-me"
  description = "Password of the metadata database user (set ZPLAN_VAR_db_password)"
}

variable "serving_tag" {
  default     = "1"
  description = "Tag of the serving image pushed to the serving repository (serving/Dockerfile)"
}

provider "aws" {
  region = var.region
}

resource "aws_s3_bucket" "artifacts" {
  bucket        = "${var.name}-zplan-${var.env}"
  force_destroy = false
  tags          = { team = "ml", env = var.env }
}

resource "aws_db_instance" "meta" {
  identifier          = "zplan-meta-${var.env}"
  instance_class      = "db.t3.micro"
  allocated_storage   = 20
  db_name             = "zplan"
  username            = "zplan"
  password            = var.db_password
  publicly_accessible = true
  lifecycle {
    prevent_destroy = true
  }
}

# The role SageMaker assumes to pull the serving image and read the model from the bucket.
resource "aws_iam_role" "sagemaker" {
  name = "zplan-sagemaker-${var.env}"
  assume_role_policy = {
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Action    = "sts:AssumeRole"
      Principal = { Service = "sagemaker.amazonaws.com" }
    }]
  }
}

resource "aws_iam_role_policy_attachment" "sagemaker" {
  role       = resource.aws_iam_role.sagemaker.name
  policy_arn = "arn:aws:iam::aws:policy/AmazonSageMakerFullAccess"
}

resource "aws_iam_role_policy_attachment" "read_artifacts" {
  role       = resource.aws_iam_role.sagemaker.name
  policy_arn = "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"
}

resource "aws_ecr_repository" "serving" {
  name = "zplan-serving-${var.env}"
}

# Steps run on this machine; their artifacts and metadata live in the cloud, where
# SageMaker can read the trained model.
stack "aws" {
  orchestrator      = "local"
  artifact_store    = "s3://${resource.aws_s3_bucket.artifacts.bucket}/artifacts"
  metadata_store    = "mysql://zplan@${resource.aws_db_instance.meta.address}:3306/zplan"
  metadata_password = var.db_password
}

pipeline "training" {
  step "generate" {
    source = "steps/pipeline.py:generate"
    params = { rows = 5000, seed = 7 }
  }

  step "train" {
    source = "steps/pipeline.py:train"
    inputs = { data = step.generate.outputs.output }
    params = { c = 0.5 }
  }

  step "evaluate" {
    source = "steps/pipeline.py:evaluate"
    inputs = { model = step.train.outputs.output, data = step.generate.outputs.output }
  }
}

# The trained model as SageMaker serves it: the train step's artifact folder in the bucket
# (uncompressed, mounted at /opt/ml/model) and the image of serving/Dockerfile, which loads
# model.pkl from there. A new model (train reruns) replaces the SageMaker model, and with
# it the endpoint configuration, each created before the old one goes; the endpoint is then
# updated to the new configuration.
resource "aws_sagemaker_model" "classifier" {
  execution_role_arn = resource.aws_iam_role.sagemaker.arn
  image              = "${resource.aws_ecr_repository.serving.repository_url}:${var.serving_tag}"
  model              = step.train.outputs.output
  depends_on         = [resource.aws_iam_role_policy_attachment.sagemaker, resource.aws_iam_role_policy_attachment.read_artifacts]
  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_sagemaker_endpoint_configuration" "classifier" {
  model_name             = resource.aws_sagemaker_model.classifier.name
  instance_type          = "ml.m5.large"
  initial_instance_count = 1
  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_sagemaker_endpoint" "classifier" {
  name                 = "classifier-${var.env}"
  endpoint_config_name = resource.aws_sagemaker_endpoint_configuration.classifier.name
}

output "accuracy" {
  value = step.evaluate.outputs.output
}

output "endpoint_name" {
  value = resource.aws_sagemaker_endpoint.classifier.name
}
