# Two tiny steps; the stacks are written next to this file by each test.

variable "factor" {
  type    = number
  default = 3
}

pipeline "tiny" {
  step "load" {
    source = "steps/tiny.py:load"
    inputs = { raw = "data/numbers.txt" }
  }

  step "total" {
    source = "steps/tiny.py:total"
    inputs = { values = step.load.outputs.output }
    params = { factor = var.factor }
  }
}

output "total" {
  value = step.total.outputs.output
}
