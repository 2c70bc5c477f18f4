# Outputs: where the model is served, and what the smoke test got back.

output "url" {
  description = "Base URL of the server (http://127.0.0.1:PORT)"
  value       = resource.local_model_server.server.url
}

output "infer_url" {
  description = "The predict endpoint: POST an Open Inference Protocol (V2) request here"
  value       = resource.local_model_server.server.infer_url
}

output "model_digest" {
  description = "Digest of the artifact being served"
  value       = resource.local_model_server.server.model_digest
}

output "predictions" {
  description = "What the served model predicted for var.sample in the last smoke test"
  value       = step.smoke_test.outputs.output
}
