# From training to serving in one plan: train a model, serve it with MLServer over the
# Open Inference Protocol (V2), then check the served model against the offline evaluation.
#
#   zplan apply   # first time: also creates the model server's environment (about a minute)
#   curl -s $(zplan output -raw infer_url) -H 'Content-Type: application/json' -d '{"inputs": [...]}'
#
# Try: -var c=0.1 and plan: train, evaluate, the server and the smoke test change, nothing else.

variable "c" {
  type        = number
  default     = 1.0
  description = "Inverse regularisation strength of the classifier"
}

locals {
  seed = 42
}

stack "local" {
  orchestrator   = "local"
  artifact_store = "file://.zplan/artifacts"
  metadata_store = "sqlite:///.zplan/metadata.db"
}

pipeline "training" {
  step "load" {
    source = "steps/data.py:load_csv"
    inputs = { csv = "data/wine.csv" }
  }

  step "split" {
    source = "steps/data.py:split"
    inputs = { data = step.load.outputs.output }
    params = { test_size = 0.25, seed = local.seed }
  }

  step "scale" {
    source = "steps/data.py:scale"
    inputs = { train = step.split.outputs.train, test = step.split.outputs.test }
  }

  step "train" {
    source = "steps/train.py:train"
    inputs = { train = step.scale.outputs.train }
    params = { c = var.c, seed = local.seed }
  }

  step "evaluate" {
    source = "steps/train.py:evaluate"
    inputs = { model = step.train.outputs.output, test = step.scale.outputs.test }
  }

  # Reads the server's URL: reruns after every redeploy.
  step "smoke_test" {
    source = "steps/smoke.py:smoke_test"
    inputs = { test = step.scale.outputs.test, accuracy = step.evaluate.outputs.output }
    params = { url = resource.local_model_server.api.url, model = resource.local_model_server.api.name }
  }
}

# The trained model, served on a free port of 127.0.0.1; a new model is swapped in
# without dropping requests.
resource "local_model_server" "api" {
  model = step.train.outputs.output
}

output "accuracy" {
  value = step.evaluate.outputs.output
}

output "served_accuracy" {
  value = step.smoke_test.outputs.output
}

output "infer_url" {
  value = resource.local_model_server.api.infer_url
}
