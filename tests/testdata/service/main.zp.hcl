# A service that takes a moment to become healthy (SERVE_DELAY), and a folder.

variable "port" {
  type = number
}

stack "local" {
  orchestrator   = "local"
  artifact_store = "file://.zplan/artifacts"
  metadata_store = "sqlite:///.zplan/metadata.db"
}

resource "local_process" "web" {
  command        = ["python3", "serve.py", "{port}"]
  port           = var.port
  health_check   = "http://127.0.0.1:{port}/"
  health_timeout = 60
}

resource "local_directory" "data" {
  path          = "data"
  force_destroy = true
}
