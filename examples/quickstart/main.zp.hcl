# The zplan quickstart: a small, real ML pipeline on the embedded local stack.
#
#   zplan plan    # what will run, and why
#   zplan apply   # run only what must run; results are cached and recorded
#
# Try: change params.c below (or -var c=0.5) and plan again: only train and
# evaluate rerun. Edit a comment in steps/train.py: nothing reruns.

variable "c" {
  type        = number
  default     = 1.0
  description = "Inverse regularisation strength of the classifier"
}

variable "test_size" {
  default = 0.25
}

locals {
  seed = 42
}

stack "local" {
  orchestrator   = "local"
  artifact_store = "file://.zplan/artifacts"
  metadata_store = "sqlite:///.zplan/metadata.db"
}

# A real resource the pipeline writes its report into; `zplan destroy` removes it.
resource "local_directory" "reports" {
  path          = "reports"
  force_destroy = true
}

pipeline "training" {
  step "load" {
    source = "steps/data.py:load_csv"
    inputs = { csv = "data/wine.csv" }
  }

  step "split" {
    source = "steps/data.py:split"
    inputs = { data = step.load.outputs.output }
    params = { test_size = var.test_size, seed = local.seed }
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
    params = { report_dir = resource.local_directory.reports.path }
  }
}

output "accuracy" {
  value = step.evaluate.outputs.output
}
