# A model server around any model artifact, and a smoke test that calls its predict
# endpoint after every deployment. The step code is in local_serving/smoke.py. See README.md.

resource "local_model_server" "server" {
  model          = var.model
  name           = var.name
  port           = var.port
  runtime        = var.runtime
  health_timeout = var.health_timeout
}

pipeline "serving" {
  # Reads the server: reruns after every redeploy (a new model, a new port).
  step "smoke_test" {
    source = "local_serving/smoke.py:smoke_test"
    params = {
      url      = resource.local_model_server.server.url
      model    = resource.local_model_server.server.name
      digest   = resource.local_model_server.server.model_digest
      rows     = var.sample
      expected = var.expected
    }
  }
}
