# Dev and prod from one definition: the shipped training module and the shipped GCP stack
# module, once per environment (for_each over local.environments).
#
#   zplan plan                  # local stack: dev's and prod's pipelines side by side
#   zplan apply                 # trains and scores both on this machine
#   zplan plan -stack gcp-dev   # offline: both environments' GCP infrastructure, and the pipelines
#                               # on dev's bucket and database (apply needs the Pulumi CLI and GCP)
#
# Cloud infrastructure exists only on the gcp-* stacks (for_each is empty elsewhere), so a
# local plan or apply never reaches Pulumi. Each gcp-* stack records its runs in its own
# environment's bucket and database, read from that module instance's outputs.

variable "project" {
  default     = "acme-ml"
  description = "GCP project id"
}

variable "db_password" {
  type        = string
  sensitive   = true
  default     = "change-me"
  description = "Password of the metadata database users (set ZPLAN_VAR_db_password)"
}

locals {
  environments = {
    dev = {
      estimator       = "logistic_regression"
      hyperparameters = { C = 1.0, max_iter = 1000 }
      db_tier         = "db-f1-micro"
    }
    prod = {
      estimator       = "random_forest"
      hyperparameters = { n_estimators = 200, max_depth = 8 }
      db_tier         = "db-custom-2-7680"
    }
  }
  on_gcp = startswith(zplan.stack, "gcp-")
}

module "training" {
  for_each = local.environments

  source          = "../../modules/sklearn-training"
  data            = "data/wine.csv"
  estimator       = each.value.estimator
  hyperparameters = each.value.hyperparameters
}

module "cloud" {
  for_each = local.on_gcp ? local.environments : {}

  source      = "../../modules/ml-stack-gcp"
  project     = var.project
  env         = each.key
  db_tier     = each.value.db_tier
  db_password = var.db_password
}

stack "local" {
  orchestrator   = "local"
  artifact_store = "file://.zplan/artifacts"
  metadata_store = "sqlite:///.zplan/metadata.db"
}

stack "gcp-dev" {
  orchestrator      = "local"
  artifact_store    = module.cloud["dev"].artifact_store
  metadata_store    = module.cloud["dev"].metadata_store
  metadata_password = var.db_password
}

stack "gcp-prod" {
  orchestrator      = "local"
  artifact_store    = module.cloud["prod"].artifact_store
  metadata_store    = module.cloud["prod"].metadata_store
  metadata_password = var.db_password
}

output "scores" {
  description = "Each environment's held-out accuracy"
  value       = { for env, m in module.training : env => m.metric }
}
