# The TFX penguin pipeline, planned and cached by zplan: a Python step makes the data,
# eight TFX standard components process it, and a Python step reads the Evaluator's verdict.
#
#   zplan plan                  # what will run, and why
#   zplan apply -auto-approve   # about two minutes the first time
#   (edit preprocessing_fn in penguin_utils.py)
#   zplan plan                  # Transform, Trainer, Evaluator, Pusher and the report rerun; nothing upstream
#
# TFX 1.16 needs Python 3.10 with the tfx extra: pip install 'zplan[tfx]'.

variable "rows" {
  type        = number
  default     = 300
  description = "How many penguins to generate"
}

stack "local" {
  orchestrator   = "local"
  artifact_store = "file://.zplan/artifacts"
  metadata_store = "sqlite:///.zplan/metadata.db"
  processing     = "beam:DirectRunner"
}

pipeline "penguin" {
  step "data" {
    source = "steps/data.py:penguins"
    params = { rows = var.rows, seed = 7 }
  }

  step "examples" {
    tfx    = "CsvExampleGen"
    inputs = { input_base = step.data.outputs.output }
  }

  step "statistics" {
    tfx    = "StatisticsGen"
    inputs = { examples = step.examples.outputs.examples }
  }

  step "schema" {
    tfx    = "SchemaGen"
    inputs = { statistics = step.statistics.outputs.statistics }
  }

  step "validate" {
    tfx    = "ExampleValidator"
    inputs = { statistics = step.statistics.outputs.statistics, schema = step.schema.outputs.schema }
  }

  step "transform" {
    tfx    = "Transform"
    inputs = { examples = step.examples.outputs.examples, schema = step.schema.outputs.schema }
    params = { module_file = "penguin_utils.py" }
  }

  step "train" {
    tfx = "Trainer"
    inputs = { examples = step.transform.outputs.transformed_examples,
      transform_graph = step.transform.outputs.transform_graph,
      schema = step.schema.outputs.schema }
    params = { module_file = "penguin_utils.py", train_args = { num_steps = 60 }, eval_args = { num_steps = 5 } }
  }

  step "evaluate" {
    tfx    = "Evaluator"
    inputs = { examples = step.examples.outputs.examples, model = step.train.outputs.model }
    params = {
      eval_config = {
        model_specs   = [{ signature_name = "serving_default", label_key = "species" }]
        slicing_specs = [{}]
        metrics_specs = [{ metrics = [{ class_name = "SparseCategoricalAccuracy",
          threshold = { value_threshold = { lower_bound = 0.6 } } }] }]
      }
    }
  }

  step "push" {
    tfx    = "Pusher"
    inputs = { model = step.train.outputs.model, model_blessing = step.evaluate.outputs.blessing }
    params = { push_destination = { filesystem = { base_directory = "serving_model" } } }
  }

  step "report" {
    source = "steps/report.py:report"
    inputs = { blessing = step.evaluate.outputs.blessing, pushed = step.push.outputs.pushed_model }
  }
}

output "report" {
  value = step.report.outputs.output
}
