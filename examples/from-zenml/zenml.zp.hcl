# Converted from pipelines/training.py:training by `zplan import-zenml`.

variable "random_state" {
  type    = number
  default = 17

  validation {
    condition     = floor(var.random_state) == var.random_state
    error_message = "random_state must be a whole number: it is an int"
  }
}

variable "test_size" {
  type    = number
  default = 0.2
}

variable "model_type" {
  type    = string
  default = "sgd"
}

variable "min_train_accuracy" {
  type    = number
  default = 0.8
}

variable "min_test_accuracy" {
  type    = number
  default = 0.8
}

variable "target" {
  type    = string
  default = "target"
}

pipeline "training" {
  step "data_loader" {
    source = "steps/data_loader.py:data_loader"
    params = { random_state = var.random_state, target = var.target }
  }

  step "data_splitter" {
    source = "steps/data_splitter.py:data_splitter"
    inputs = { dataset = step.data_loader.outputs.dataset }
    params = { test_size = var.test_size * 1.0 }
  }

  step "data_preprocessor" {
    source = "steps/data_preprocessor.py:data_preprocessor"
    inputs = { dataset_trn = step.data_splitter.outputs.raw_dataset_trn, dataset_tst = step.data_splitter.outputs.raw_dataset_tst }
    params = { target = var.target }
  }

  step "model_trainer" {
    source = "steps/model_trainer.py:model_trainer"
    inputs = { dataset_trn = step.data_preprocessor.outputs.dataset_trn }
    params = { model_type = var.model_type, target = var.target }
  }

  step "model_evaluator" {
    source = "steps/model_evaluator.py:model_evaluator"
    inputs = { model = step.model_trainer.outputs.sklearn_classifier, dataset_trn = step.data_preprocessor.outputs.dataset_trn, dataset_tst = step.data_preprocessor.outputs.dataset_tst }
    params = { min_train_accuracy = var.min_train_accuracy * 1.0, min_test_accuracy = var.min_test_accuracy * 1.0, target = var.target }
  }
}
