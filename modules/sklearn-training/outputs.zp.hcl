# Outputs: the trained model and its score, and the two parts of the split.

output "model" {
  description = "The trained scikit-learn model (a step output: give it to a local_model_server or another step)"
  value       = step.train.outputs.output
}

output "metric" {
  description = "The model's score on the held-out rows, by var.metric"
  value       = step.evaluate.outputs.output
}

output "train_set" {
  description = "The rows the model was trained on (a pandas DataFrame)"
  value       = step.split.outputs.train
}

output "test_set" {
  description = "The held-out rows the metric was computed on (a pandas DataFrame)"
  value       = step.split.outputs.test
}
