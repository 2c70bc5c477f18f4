# A reusable scikit-learn training pipeline: split the data, train an estimator, evaluate it
# on the held-out rows. The step code is in sklearn_training/steps.py. See README.md.

pipeline "training" {
  step "split" {
    source = "sklearn_training/steps.py:split"
    inputs = { data = var.data }
    params = { target = var.target, test_size = var.test_size, seed = var.seed, stratify = var.stratify }
  }

  step "train" {
    source = "sklearn_training/steps.py:train"
    inputs = { train = step.split.outputs.train }
    params = {
      target          = var.target
      estimator       = var.estimator
      hyperparameters = var.hyperparameters
      scale           = var.scale
      seed            = var.seed
    }
  }

  step "evaluate" {
    source = "sklearn_training/steps.py:evaluate"
    inputs = { model = step.train.outputs.output, test = step.split.outputs.test }
    params = { target = var.target, metric = var.metric }
  }
}
