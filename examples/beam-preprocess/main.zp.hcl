# Preprocessing with Apache Beam, cached and planned like any other step.
#
#   zplan plan                      # what will run, and why
#   zplan apply -auto-approve       # generate -> preprocess (Beam) -> summarise (pandas)
#   zplan apply -var rows=25000000  # about 1 GB of events
#
# The Beam step runs on the stack's processing engine. Switching the stack to
# Dataflow (see the commented stack below) does not rerun anything: the runner
# is not part of a step's cache key, and Beam steps write the same bytes
# wherever they run.

variable "rows" {
  type        = number
  default     = 20000
  description = "How many events to generate"
}

variable "beam_mode" {
  default     = "multi_processing"
  description = "DirectRunner mode: multi_processing (one worker per core) or in_memory"
}

stack "local" {
  orchestrator   = "local"
  artifact_store = "file://.zplan/artifacts"
  metadata_store = "sqlite:///.zplan/metadata.db"
  processing     = "beam:DirectRunner"
  beam_options   = { direct_running_mode = var.beam_mode }
}

# stack "gcp" {
#   orchestrator         = "vertex"
#   orchestrator_options = { project = "my-project", location = "europe-west1", pipeline_root = "gs://my-bucket/pipelines" }
#   container_image      = "europe-west1-docker.pkg.dev/my-project/zplan/beam-preprocess:1"   # zplan build-image
#   artifact_store = "gs://my-bucket/zplan"
#   metadata_store = "mysql://zplan@10.0.0.5/zplan"
#   processing     = "beam:DataflowRunner"
#   beam_options   = { project = "my-project", region = "europe-west1",
#                      temp_location = "gs://my-bucket/beam-tmp", max_num_workers = 20 }
# }

pipeline "events" {
  step "generate" {
    source = "steps.py:generate"
    params = { rows = var.rows, seed = 7 }
  }

  step "preprocess" {
    source = "steps.py:preprocess"
    inputs = { events = step.generate.outputs.output }
    params = { min_amount = 1.0 }
  }

  step "summarise" {
    source = "steps.py:summarise"
    inputs = { clean = step.preprocess.outputs.output }
  }
}

output "summary" {
  value = step.summarise.outputs.output
}
