# Inputs of the local-serving module.

# A step output reference; given with -var, the map it becomes: { uri, digest, materializer, path }.
variable "model" {
  type        = any
  description = "The model artifact to serve: a step output (step.train.outputs.output, module.training.model) stored by the sklearn.pickle materializer in a local (file://) artifact store"
}

variable "sample" {
  type        = list
  description = "Feature rows the smoke test sends to the predict endpoint, e.g. [[0.1, 2.3, 4.5], [1.0, 0.0, 2.2]]"
}

variable "expected" {
  type        = list
  default     = null
  description = "The predictions the smoke test must get back for var.sample (null: any answer of the right length passes)"
}

variable "name" {
  type        = string
  default     = "model"
  description = "The model's name on the server: /v2/models/NAME/infer"
}

variable "port" {
  type        = number
  default     = null
  description = "Port on 127.0.0.1 (null: a free one)"
}

variable "runtime" {
  type        = string
  default     = "sklearn"
  description = "MLServer runtime that loads the model"
}

variable "health_timeout" {
  type        = number
  default     = 120
  description = "Seconds to wait for the model to be ready after a start or a swap"
}
