"""The TFX standard components a step may name, as plain data (no TFX import).

Plan reads this table to check a TFX step (its component, params and input
artifact types) in milliseconds; TFX itself is imported only by the worker that
runs the component. tests/tfx checks the table against TFX's own component
specs, so a TFX upgrade that changes one fails there, not at a user's apply.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Component:
    name: str  # "StatisticsGen"
    class_path: str  # TFX's class, also the ML Metadata execution type name
    inputs: dict[str, tuple[str, bool]]  # input -> (artifact type, required)
    outputs: dict[str, str]  # output -> artifact type
    params: tuple[str, ...]  # keyword arguments of the component's constructor that a step passes as params
    code: dict[str, str] = field(default_factory=dict)  # param naming a module file -> the function TFX calls in it
    data_params: tuple[str, ...] = ()  # params that are inputs of the step instead: a folder of data
    hooks: dict[str, tuple[str, ...]] = field(default_factory=dict)  # module file param -> functions TFX calls if defined
    protos: dict[str, str] = field(default_factory=dict)  # proto-typed param -> its message class in tfx.proto (cheap to import)
    objects: dict[str, str] = field(default_factory=dict)  # param TFX takes as an object -> its class, made from keyword arguments

    @property
    def module(self) -> str:
        return self.class_path.rpartition(".")[0]

    @property
    def class_name(self) -> str:
        return self.class_path.rpartition(".")[2]


_EXCLUDE = ("exclude_splits",)

COMPONENTS: dict[str, Component] = {c.name: c for c in (
    Component(
        "CsvExampleGen", "tfx.components.example_gen.csv_example_gen.component.CsvExampleGen",
        inputs={}, outputs={"examples": "Examples"},
        params=("input_config", "output_config", "range_config"), data_params=("input_base",),
        protos={"input_config": "tfx.proto.example_gen_pb2.Input", "output_config": "tfx.proto.example_gen_pb2.Output",
                "range_config": "tfx.proto.range_config_pb2.RangeConfig"},
    ),
    Component(
        "StatisticsGen", "tfx.components.statistics_gen.component.StatisticsGen",
        inputs={"examples": ("Examples", True), "schema": ("Schema", False)},
        outputs={"statistics": "ExampleStatistics"}, params=("stats_options", *_EXCLUDE),
        objects={"stats_options": "tensorflow_data_validation.StatsOptions"},
    ),
    Component(
        "SchemaGen", "tfx.components.schema_gen.component.SchemaGen",
        inputs={"statistics": ("ExampleStatistics", True)},
        outputs={"schema": "Schema"}, params=("infer_feature_shape", *_EXCLUDE),
    ),
    Component(
        "ExampleValidator", "tfx.components.example_validator.component.ExampleValidator",
        inputs={"statistics": ("ExampleStatistics", True), "schema": ("Schema", True)},
        outputs={"anomalies": "ExampleAnomalies"}, params=("custom_validation_config", *_EXCLUDE),
    ),
    Component(
        "Transform", "tfx.components.transform.component.Transform",
        inputs={"examples": ("Examples", True), "schema": ("Schema", True), "analyzer_cache": ("TransformCache", False)},
        outputs={
            "transform_graph": "TransformGraph", "transformed_examples": "Examples",
            "updated_analyzer_cache": "TransformCache", "pre_transform_schema": "Schema",
            "pre_transform_stats": "ExampleStatistics", "post_transform_schema": "Schema",
            "post_transform_stats": "ExampleStatistics", "post_transform_anomalies": "ExampleAnomalies",
        },
        params=("module_file", "splits_config", "materialize", "disable_analyzer_cache", "force_tf_compat_v1",
                "custom_config", "disable_statistics"),
        code={"module_file": "preprocessing_fn"}, hooks={"module_file": ("stats_options_updater_fn",)},
        protos={"splits_config": "tfx.proto.transform_pb2.SplitsConfig"},
    ),
    Component(
        "Trainer", "tfx.components.trainer.component.Trainer",
        inputs={"examples": ("Examples", True), "transform_graph": ("TransformGraph", False), "schema": ("Schema", False),
                "base_model": ("Model", False), "hyperparameters": ("HyperParameters", False)},
        outputs={"model": "Model", "model_run": "ModelRun"},
        params=("module_file", "train_args", "eval_args", "custom_config"),
        code={"module_file": "run_fn"},
        protos={"train_args": "tfx.proto.trainer_pb2.TrainArgs", "eval_args": "tfx.proto.trainer_pb2.EvalArgs"},
    ),
    Component(
        "Evaluator", "tfx.components.evaluator.component.Evaluator",
        inputs={"examples": ("Examples", True), "model": ("Model", False), "baseline_model": ("Model", False),
                "schema": ("Schema", False)},
        outputs={"evaluation": "ModelEvaluation", "blessing": "ModelBlessing"},
        params=("eval_config", "feature_slicing_spec", "fairness_indicator_thresholds", "example_splits"),
        protos={"feature_slicing_spec": "tfx.proto.evaluator_pb2.FeatureSlicingSpec"},  # (eval_config's TFMA imports TensorFlow)
    ),
    Component(
        "Pusher", "tfx.components.pusher.component.Pusher",
        inputs={"model": ("Model", False), "model_blessing": ("ModelBlessing", False), "infra_blessing": ("InfraBlessing", False)},
        outputs={"pushed_model": "PushedModel"}, params=("push_destination", "custom_config"),
        protos={"push_destination": "tfx.proto.pusher_pb2.PushDestination"},
    ),
)}


