# Converted from dvc.yaml by `zplan import-dvc`.

pipeline "dvc" {
  step "prepare" {
    command = "python src/prepare.py data/data.tsv"
    deps    = ["data/data.tsv", "src/prepare.py"]
    params  = ["prepare.seed", "prepare.split"]
    outs    = ["data/prepared"]
  }

  step "featurize" {
    command = "python src/featurization.py data/prepared data/features"
    inputs  = { prepared = step.prepare.outs["data/prepared"] }
    deps    = ["src/featurization.py"]
    params  = ["featurize.max_features"]
    outs    = ["data/features"]
  }

  step "train" {
    command = "python src/train.py data/features model.json"
    inputs  = { features = step.featurize.outs["data/features"] }
    deps    = ["src/train.py"]
    params  = ["train.smoothing"]
    outs    = ["model.json"]
  }

  step "evaluate" {
    command = "python src/evaluate.py model.json data/features"
    inputs  = { features = step.featurize.outs["data/features"], model_json = step.train.outs["model.json"] }
    deps    = ["src/evaluate.py"]
    metrics = ["eval/metrics.json"]
  }
}

output "evaluate_metrics" {
  value = step.evaluate.outs["eval/metrics.json"]
}
