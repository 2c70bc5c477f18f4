# Training on GCP: the bucket, the metadata database and the pipeline in one plan.
#
#   zplan plan -stack gcp      # works offline: no Pulumi CLI, no credentials needed
#   zplan apply -stack gcp     # needs the Pulumi CLI and GCP credentials (see Providers in the top-level README.md)
#   zplan apply                # the same pipeline on the local stack (the deploy step deploys nothing there)
#
# Every cloud resource has `count = local.on_gcp ? 1 : 0`: on the local stack there are
# none of them, so a local apply never reaches Pulumi; on the gcp stack each is
# resource.TYPE.NAME[0].
#
# pulumi-gcp cannot upload a model to Vertex AI nor deploy one to an endpoint, so the
# endpoint is a resource and the deployment a step (steps/deploy.py, Vertex SDK).

variable "project" {
  default     = "acme-ml"
  description = "GCP project id"
}

variable "region" {
  default = "europe-west1"
}

variable "env" {
  default = "dev"
}

variable "serving_image" {
  default     = "europe-docker.pkg.dev/vertex-ai/prediction/sklearn-cpu.1-3:latest"
  description = "Vertex's prebuilt scikit-learn serving image; its version must load the trained model's pickle"
}

variable "db_password" {
  sensitive   = true
  default     = "change-me"
  description = "Password of the metadata database user (set ZPLAN_VAR_db_password)"
}

locals {
  on_gcp = zplan.stack == "gcp"
}

provider "gcp" {
  project = var.project
  region  = var.region
}

resource "gcp_storage_bucket" "artifacts" {
  count = local.on_gcp ? 1 : 0

  name          = "${var.project}-zplan-${var.env}"
  location      = "EU"
  force_destroy = false
  labels        = { team = "ml", env = var.env }
}

resource "gcp_sql_database_instance" "meta" {
  count = local.on_gcp ? 1 : 0

  name                = "zplan-meta-${var.env}"
  database_version    = "MYSQL_8_0"
  region              = var.region
  tier                = "db-f1-micro"
  deletion_protection = true
  lifecycle {
    prevent_destroy = true
  }
}

resource "gcp_sql_database" "meta" {
  count = local.on_gcp ? 1 : 0

  name     = "zplan"
  instance = resource.gcp_sql_database_instance.meta[0].name
}

resource "gcp_sql_user" "zplan" {
  count = local.on_gcp ? 1 : 0

  name     = "zplan"
  instance = resource.gcp_sql_database_instance.meta[0].name
  password = var.db_password
}

resource "gcp_service_account" "trainer" {
  count = local.on_gcp ? 1 : 0

  account_id   = "zplan-trainer-${var.env}"
  display_name = "zplan training jobs"
}

resource "gcp_project_iam_member" "trainer_storage" {
  count = local.on_gcp ? 1 : 0

  project = var.project
  role    = "roles/storage.objectAdmin"
  member  = "serviceAccount:${resource.gcp_service_account.trainer[0].email}"
}

resource "gcp_artifact_registry_repository" "images" {
  count = local.on_gcp ? 1 : 0

  repository_id = "zplan-${var.env}"
  location      = var.region
  format        = "DOCKER"
}

resource "gcp_vertex_endpoint" "serving" {
  count = local.on_gcp ? 1 : 0

  name         = "wine-classifier-${var.env}"
  display_name = "wine classifier (${var.env})"
  location     = var.region
}

stack "local" {
  orchestrator   = "local"
  artifact_store = "file://.zplan/artifacts"
  metadata_store = "sqlite:///.zplan/metadata.db"
}

stack "gcp" {
  orchestrator = "vertex"
  orchestrator_options = {
    project       = var.project
    location      = var.region
    pipeline_root = "gs://${resource.gcp_storage_bucket.artifacts[0].name}/pipelines"
  }
  artifact_store    = "gs://${resource.gcp_storage_bucket.artifacts[0].name}/artifacts"
  metadata_store    = "mysql://zplan@${resource.gcp_sql_database_instance.meta[0].public_ip_address}:3306/zplan"
  metadata_password = var.db_password
  processing        = "beam:DataflowRunner"
  beam_options = {
    project       = var.project
    region        = var.region
    temp_location = "gs://${resource.gcp_storage_bucket.artifacts[0].name}/beam-tmp"
  }
  container_image = "${var.region}-docker.pkg.dev/${var.project}/zplan-${var.env}/trainer:latest"
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

  # The trained model onto the Vertex endpoint: only on the gcp stack (its artifact store is
  # on Cloud Storage); on the local stack it returns "not deployed: ..." and deploys nothing.
  # Reads the endpoint: reruns when the endpoint is replaced, and when train reruns.
  step "deploy" {
    source = "steps/deploy.py:deploy"
    inputs = { model = step.train.outputs.output }
    params = {
      endpoint     = local.on_gcp ? resource.gcp_vertex_endpoint.serving[0].name : ""
      project      = var.project
      region       = local.on_gcp ? resource.gcp_vertex_endpoint.serving[0].location : var.region
      image        = var.serving_image
      machine_type = "n1-standard-2"
    }
  }
}

output "accuracy" {
  value = step.evaluate.outputs.output
}

output "deployed_model" {
  value = step.deploy.outputs.output
}

output "bucket_url" {
  value = local.on_gcp ? resource.gcp_storage_bucket.artifacts[0].url : null
}
