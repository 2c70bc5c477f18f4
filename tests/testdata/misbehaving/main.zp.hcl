# Steps that misbehave: crash their process, hang, start children. Chosen with var.mode.

variable "mode" {
  type    = string
  default = "exit"
}

variable "slow_seconds" {
  type    = number
  default = 2
}

stack "local" {
  orchestrator   = "local"
  artifact_store = "file://.zplan/artifacts"
  metadata_store = "sqlite:///.zplan/metadata.db"
  step_timeout   = "30s"
}

pipeline "p" {
  step "fast" {
    source = "steps/steps.py:fast"
  }

  step "slow" {
    source = "steps/steps.py:slow"
    params = { seconds = var.slow_seconds }
  }

  step "bad" {
    source  = "steps/steps.py:misbehave"
    inputs  = { after = step.fast.outputs.output }
    params  = { mode = var.mode }
    timeout = "2s"
  }

  step "after_bad" {
    source = "steps/steps.py:fast"
    inputs = { x = step.bad.outputs.output }
  }
}

output "slow" {
  value = step.slow.outputs.output
}
