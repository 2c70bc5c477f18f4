# A four-step pipeline on the embedded local stack, standard library only.

variable "c" {
  type    = number
  default = 1.0
}

stack "local" {
  orchestrator   = "local"
  artifact_store = "file://.zplan/artifacts"
  metadata_store = "sqlite:///.zplan/metadata.db"
}

pipeline "numbers" {
  step "load" {
    source = "steps/data.py:load"
    inputs = { raw = "data/numbers.txt" }
  }

  step "scale" {
    source = "steps/data.py:scale"
    inputs = { values = step.load.outputs.output }
    params = { c = var.c }
  }

  step "total" {
    source = "steps/stats.py:total"
    inputs = { values = step.scale.outputs.output }
  }

  step "count" {
    source = "steps/stats.py:count"
    inputs = { values = step.load.outputs.output }
  }
}

output "total" {
  value = step.total.outputs.output
}

output "count" {
  value = step.count.outputs.output
}
