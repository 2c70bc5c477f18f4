"""Running one TFX component inside a zplan worker (this module imports TFX).

What TFX's own in-process launcher does, minus its orchestration: build the
component from the step's params (so TFX fills its defaults and checks types),
turn its exec properties into the form executors read (the same round trip
through ``pipeline_pb2.Value`` the launcher makes), give each output a fresh
folder, call the executor's ``Do``. No TFX driver cache and no ML Metadata access
happens here: zplan's cache decided that this step runs, and the applier records
the execution with TFX's types (``zplan.tfx.lineage``).
"""

from __future__ import annotations

import importlib
import os
import shutil
import sys
from pathlib import Path
from typing import Any, Callable

from zplan.tfx.artifact import TfxArtifact
from zplan.tfx.specs import COMPONENTS, Component

# Keras 2 (tf_keras) is what TFX 1.16's Transform, Trainer and Evaluator are built for.
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def component_function(name: str) -> Callable[..., dict[str, TfxArtifact]]:
    """A callable the worker treats like a step function: params and loaded inputs in,
    one ``TfxArtifact`` per output out."""
    component = COMPONENTS[name]
    cls = getattr(importlib.import_module(component.module), component.class_name)

    def run(**kwargs: Any) -> dict[str, TfxArtifact]:
        return run_component(component, cls, kwargs)

    run.__zplan_outputs__ = list(component.outputs)
    return run


def run_component(component: Component, cls: type, kwargs: dict[str, Any]) -> dict[str, TfxArtifact]:
    from zplan import runtime

    ctx = runtime.current()
    work = Path(ctx.scratch_dir if ctx else os.getcwd()) / "tfx"
    project_dir = Path(ctx.project_dir if ctx else os.getcwd())
    if str(project_dir) not in sys.path:
        sys.path.insert(0, str(project_dir))  # a module file may import the project's other modules
    inputs = {k: v for k, v in kwargs.items() if k in component.inputs}
    params = {k: v for k, v in kwargs.items() if k not in component.inputs}
    for name in component.data_params:
        params[name] = str(_data_folder(name, params[name], work))
    for param in component.code:
        if isinstance(params.get(param), str):
            params[param] = str((project_dir / params[param]).resolve())
    node = _build(component, cls, params, inputs)
    exec_properties = _exec_properties(node)
    input_dict = {name: [_to_tfx(name, value, component)] for name, value in inputs.items()}
    output_dict = _outputs(node, work / "outputs")
    if component.data_params:  # what ExampleGen's driver adds: span, version, input fingerprint
        _resolve_example_gen(exec_properties, output_dict)
    executor = _executor(node, work, ctx.stack if ctx else {})
    executor.Do(input_dict, output_dict, exec_properties)
    return {name: _from_tfx(artifacts[0]) for name, artifacts in output_dict.items()}


def _build(component: Component, cls: type, params: dict[str, Any], inputs: dict[str, Any]):
    """The TFX component object, its input channels typed as the spec says."""
    from tfx import types as tfx_types
    from tfx.types import standard_artifacts

    spec = cls.SPEC_CLASS
    kwargs = {name: tfx_types.Channel(type=getattr(standard_artifacts, component.inputs[name][0])) for name in inputs}
    for name, value in params.items():
        parameter = spec.PARAMETERS.get(name)
        if name in component.objects and isinstance(value, dict):
            kwargs[name] = _object_param(name, component.objects[name], value)
        else:
            kwargs[name] = _proto_param(name, parameter.type, value) if parameter is not None else value
    return cls(**kwargs)


def _object_param(name: str, path: str, value: dict) -> Any:
    """A params object for a parameter TFX takes as an object (``stats_options = { num_top_values = 5 }``)
    -> that object, made with the params object's keys as its keyword arguments."""
    module, _, cls = path.rpartition(".")
    try:
        return getattr(importlib.import_module(module), cls)(**value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"params.{name} is not a valid {cls}: {exc}") from None


def _proto_param(name: str, kind: Any, value: Any) -> Any:
    """A params object for a proto-typed parameter (``train_args = { num_steps = 100 }``) -> the proto."""
    from google.protobuf import json_format, message

    if isinstance(kind, type) and issubclass(kind, message.Message) and isinstance(value, dict):
        try:
            return json_format.ParseDict(value, kind())
        except json_format.ParseError as exc:
            raise ValueError(f"params.{name} is not a valid {kind.DESCRIPTOR.full_name}: {exc}") from None
    return value


def _exec_properties(node) -> dict[str, Any]:
    """Exec properties as an executor receives them from TFX's launcher."""
    from tfx.orchestration import data_types_utils
    from tfx.proto.orchestration import pipeline_pb2

    values = {}
    for key, value in node.exec_properties.items():
        if value is None:
            continue
        values[key] = data_types_utils.set_parameter_value(pipeline_pb2.Value(), value)
    return data_types_utils.build_parsed_value_dict(values)


def _outputs(node, root: Path) -> dict[str, list]:
    """A fresh artifact per output, tagged with the TFX version as TFX's launcher tags them
    (tools reading them back from ML Metadata choose the ``Split-train`` layout by it)."""
    from tfx.orchestration.portable import outputs_utils

    output_dict = {}
    for name, channel in node.outputs.items():
        artifact = channel.type()
        artifact.uri = str(root / name / "data")
        Path(artifact.uri).mkdir(parents=True, exist_ok=True)
        output_dict[name] = [artifact]
    outputs_utils.tag_output_artifacts_with_version(output_dict)
    return output_dict


def _resolve_example_gen(exec_properties: dict[str, Any], output_dict: dict[str, list]) -> None:
    from tfx.components.example_gen import driver

    resolved = driver.FileBasedDriver(None).resolve_exec_properties(exec_properties, None, None)
    for artifact in output_dict["examples"]:
        driver.update_output_artifact(resolved, artifact.mlmd_artifact)


def _executor(node, work: Path, stack: dict):
    from tfx.dsl.components.base import base_beam_executor

    cls = node.executor_spec.executor_class
    common = dict(tmp_dir=str(work / "tmp") + os.sep, unique_id="1", stateful_working_dir=str(work / "state"))
    if issubclass(cls, base_beam_executor.BaseBeamExecutor):
        return cls(base_beam_executor.BaseBeamExecutor.Context(beam_pipeline_args=beam_args(stack), **common))
    return cls(cls.Context(**common))


def beam_args(stack: dict) -> list[str]:
    """The stack's Beam runner and options as TFX's ``beam_pipeline_args``."""
    processing = str(stack.get("processing") or "beam:DirectRunner")
    runner = processing.split(":", 1)[1] if processing.startswith("beam:") else "DirectRunner"
    args = [f"--runner={runner}"]
    if runner == "DirectRunner":
        args += ["--direct_running_mode=in_memory", "--direct_num_workers=1"]
    args += [f"--{k}={v}" for k, v in sorted(dict(stack.get("beam_options") or {}).items())]
    return args


def _data_folder(name: str, value: Any, work: Path) -> Path:
    """A folder of data files for ExampleGen's ``input_base``: a project folder or file
    (snapshotted by zplan), a Python step's file or folder, or a DataFrame written as CSV."""
    folder = work / "inputs" / name
    folder.mkdir(parents=True, exist_ok=True)
    if hasattr(value, "to_csv"):
        value.to_csv(folder / "data.csv", index=False)
        return folder
    path = Path(value)
    if path.is_dir():
        return path
    if path.is_file():
        shutil.copy2(path, folder / path.name)
        return folder
    raise TypeError(f"input {name} must be a folder or file of data, or a DataFrame; got {type(value).__name__}")


def _to_tfx(name: str, value: Any, component: Component):
    """A stored ``TfxArtifact`` as the TFX artifact object the executor reads."""
    from google.protobuf import json_format
    from ml_metadata.proto import metadata_store_pb2 as pb
    from tfx.types import artifact_utils

    expected = component.inputs[name][0]
    if not isinstance(value, TfxArtifact):
        raise TypeError(f"input {name} of {component.name} needs a TFX {expected} artifact, got {type(value).__name__}")
    if value.type_name != expected:
        raise TypeError(f"input {name} of {component.name} needs a TFX {expected} artifact, got a {value.type_name}")
    artifact_type = json_format.ParseDict(value.mlmd_type, pb.ArtifactType())
    artifact = json_format.ParseDict(value.mlmd_artifact, pb.Artifact())
    artifact.uri = str(value.path)
    return artifact_utils.deserialize_artifact(artifact_type, artifact)


def _from_tfx(artifact) -> TfxArtifact:
    from google.protobuf import json_format
    from ml_metadata.proto import metadata_store_pb2 as pb

    mlmd = pb.Artifact()
    mlmd.CopyFrom(artifact.mlmd_artifact)
    for field in ("id", "uri", "type_id", "create_time_since_epoch", "last_update_time_since_epoch"):
        mlmd.ClearField(field)  # the store gives the uri; ML Metadata the rest
    return TfxArtifact(
        type_name=artifact.type_name,
        path=Path(artifact.uri),
        mlmd_type=json_format.MessageToDict(artifact.artifact_type),
        mlmd_artifact=json_format.MessageToDict(mlmd),
    )
