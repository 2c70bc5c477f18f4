# Inputs of the sklearn-training module.

variable "data" {
  type        = string
  description = "The training data: a CSV file (or a folder of CSV files with the same columns), one row per example"
}

variable "target" {
  type        = string
  default     = "target"
  description = "Name of the label column"
}

variable "test_size" {
  type        = number
  default     = 0.2
  description = "Share of the rows held out for the evaluation"
}

variable "seed" {
  type        = number
  default     = 42
  description = "Seed of the split and of the estimator"
}

variable "stratify" {
  type        = bool
  default     = true
  description = "Keep the label's class proportions in both parts of the split (classification)"
}

variable "estimator" {
  type        = string
  default     = "logistic_regression"
  description = "logistic_regression, random_forest, gradient_boosting, svc, ridge, linear_regression, or a class path such as sklearn.ensemble.ExtraTreesClassifier"
}

variable "hyperparameters" {
  type        = map
  default     = {}
  description = "Keyword arguments of the estimator, e.g. { C = 0.5, max_iter = 1000 }"
}

variable "scale" {
  type        = bool
  default     = true
  description = "Standardise the features before the estimator (the model is then a scaler + estimator pipeline)"
}

variable "metric" {
  type        = string
  default     = "accuracy"
  description = "scikit-learn scorer name the model is evaluated with on the held-out rows: accuracy, f1_macro, roc_auc, r2, neg_mean_absolute_error..."
}
