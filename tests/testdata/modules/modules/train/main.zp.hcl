# A reusable training module: a folder for its results and a two-step pipeline.

variable "name" {
  type = string
}

variable "c" {
  type    = number
  default = 1.0
}

variable "data" {
  type    = string
  default = "data/numbers.txt"
}

locals {
  folder = "out/${var.name}"
}

resource "local_directory" "results" {
  path = local.folder
}

pipeline "fit" {
  step "load" {
    source = "steps/train.py:load"
    inputs = { raw = var.data }
  }

  step "train" {
    source = "steps/train.py:train"
    inputs = { values = step.load.outputs.output }
    params = { c = var.c, folder = resource.local_directory.results.path }
  }
}

module "report" {
  source = "./modules/report"
  folder = resource.local_directory.results.path
  label  = var.name
}

output "score" {
  value = step.train.outputs.output
}

output "folder" {
  value = resource.local_directory.results.id
}

output "report" {
  value = module.report.path
}
