# A secret used every way there is: as step params (a string and a number), in resources'
# sensitive and plain attributes, in a service's command line and environment, and in
# outputs built from it. The stack is written next to this file by the test.

variable "pw" {
  type      = string
  sensitive = true
}

variable "pin" {
  type      = number
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

variable "python" {
  type        = string
  description = "the interpreter that runs the service"
}

locals {
  db_url = "postgres://app:${var.pw}@db/x"
}

resource "local_file" "token" {
  path              = var.token_file
  sensitive_content = "token=${var.pw}\n"
}

# Plain attributes (by the provider's schema) computed from the secret: sealed all the same.
resource "local_file" "dsn" {
  path    = "${var.token_file}.dsn"
  content = "${local.db_url} pin=${var.pin}\n"
}

resource "local_sqlite_database" "app" {
  path     = "${var.token_file}.db"
  init_sql = "CREATE TABLE IF NOT EXISTS config (k TEXT); -- seeded with ${upper(var.pw)}"
}

# A service given the secret on its command line and in its environment, which reports
# whether it inherited any of zplan's own secrets.
resource "local_process" "svc" {
  command = [var.python, "-c", "import os, sys, time; print('service up; inherited:', sorted(k for k in os.environ if k.startswith(('ZPLAN_VAR_', 'ZPLAN_STATE_KEY'))), flush=True); time.sleep(600)", var.pw]
  env     = { TOKEN = var.pw }
}

pipeline "vault" {
  step "fingerprint" {
    source = "steps/vault.py:fingerprint"
    params = { secret = var.pw, pin = var.pin, label = "pw", fail = var.fail }
  }

  # prints the secret (its log must not keep it) and returns it (its own, deliberate output)
  step "echo" {
    source = "steps/vault.py:echo"
    params = { secret = var.pw, pin = var.pin }
  }
}

output "pw_sha256" {
  value = step.fingerprint.outputs.output
}

output "pw" {
  value     = var.pw
  sensitive = true
}

output "db_url" {
  value     = local.db_url
  sensitive = true
}

output "echoed" {
  value     = step.echo.outputs.output
  sensitive = true
}

output "pin" {
  value     = var.pin
  sensitive = true
}
