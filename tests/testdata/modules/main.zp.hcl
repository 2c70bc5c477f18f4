# A module used twice through for_each, and once on its own.

variable "regions" {
  type    = map
  default = { eu = 0.5, us = 2.0 }
}

stack "local" {
  orchestrator   = "local"
  artifact_store = "file://.zplan/artifacts"
  metadata_store = "sqlite:///.zplan/metadata.db"
}

module "region" {
  for_each = var.regions
  source   = "./modules/train"
  name     = each.key
  c        = each.value
}

module "single" {
  source = "./modules/train"
  name   = "single"
}

resource "local_directory" "shards" {
  count = 2
  path  = "out/shard-${count.index}"
}

output "scores" {
  value = { for k, m in module.region : k => m.score }
}

output "single_score" {
  value = module.single.score
}

output "reports" {
  value = [for m in values(module.region) : m.report]
}

output "shards" {
  value = resource.local_directory.shards[*].path
}
