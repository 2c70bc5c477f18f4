# A sweep: one train step per grid point, each cached on its own, and one step taking all their scores.

variable "grid" {
  type    = map
  default = { "c=0.1" = 0.1, "c=0.5" = 0.5, "c=0.9" = 0.9 }
}

stack "local" {
  orchestrator   = "local"
  artifact_store = "file://.zplan/artifacts"
  metadata_store = "sqlite:///.zplan/metadata.db"
}

pipeline "sweep" {
  step "load" {
    source = "steps/sweep.py:load"
    inputs = { raw = "data/numbers.txt" }
  }

  step "train" {
    for_each = var.grid
    source   = "steps/sweep.py:train"
    inputs   = { values = step.load.outputs.output }
    params   = { c = each.value }
  }

  step "select_best" {
    source = "steps/sweep.py:select_best"
    inputs = { scores = step.train[*].outputs.output }
  }
}

output "best" {
  value = step.select_best.outputs.output
}
