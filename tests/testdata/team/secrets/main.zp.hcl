# A secret used three ways: as a step param, as a resource's sensitive content,
# and as a sensitive output. The stack is written next to this file by the test.

variable "pw" {
  type      = string
  sensitive = true
}

variable "fail" {
  type    = bool
  default = false
}

variable "token_file" {
  type        = string
  description = "where local_file writes the secret (outside the project folder)"
}

resource "local_file" "token" {
  path              = var.token_file
  sensitive_content = "token=${var.pw}\n"
}

pipeline "vault" {
  step "fingerprint" {
    source = "steps/vault.py:fingerprint"
    params = { secret = var.pw, label = "pw", fail = var.fail }
  }
}

output "pw_sha256" {
  value = step.fingerprint.outputs.output
}

output "pw" {
  value     = var.pw
  sensitive = true
}
