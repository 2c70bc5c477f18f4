"""Checking a TFX step without importing TFX: at plan, its component, its params, its
module files and the artifact types of its inputs; before apply runs one, that this
Python can run TFX (so a TFX project is planned and validated on any Python).

Plan hands over plain values (what each input is, where each key is written), so
every mistake is reported at its file:line before anything runs.
"""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zplan import diags
from zplan.config.model import StepConfig
from zplan.diags import did_you_mean
from zplan.tfx.specs import COMPONENTS, Component

TFX_PYTHON = (3, 10)  # tfx 1.16 installs on Python 3.10 only


@dataclass(frozen=True)
class GivenInput:
    """One input of a TFX step as written: an upstream step's output, or a project path."""

    written: str  # "step.schema.outputs.schema", or the path
    artifact_type: str | None = None  # the upstream TFX output's type; None for a Python step's output or data
    is_data: bool = False  # a project file or folder
    is_list: bool = False  # several outputs in one input


@dataclass(frozen=True)
class TfxStep:
    """What plan keys a TFX step with: its component, and the project functions TFX will call."""

    component: Component
    functions: tuple[tuple[str, str, str], ...]  # (param, module file, function), hashed like step code


def component_of(step: StepConfig) -> Component:
    component = COMPONENTS.get(step.tfx or "")
    if component is None:
        known = sorted(COMPONENTS)
        raise diags.fail(
            f'step "{step.name}": unknown TFX component "{step.tfx}"',
            f"{did_you_mean(step.tfx or '', known)}zplan runs these TFX components: {', '.join(known)}",
            step.source_range,
        )
    return component


def check_step(step: StepConfig, project_dir: Path, params: dict[str, Any], inputs: dict[str, GivenInput],
               places: dict[str, diags.Range]) -> TfxStep:
    """Every check of a TFX step, cheapest first; raises a diagnostic at the first mistake.
    ``places``: where each param and input name is written."""
    component = component_of(step)
    where = lambda name: places.get(name, step.range)  # noqa: E731
    _check_params(step, component, params, where)
    functions = _module_functions(step, component, project_dir, params, where)
    _check_inputs(step, component, inputs, where)
    return TfxStep(component, functions)


def _check_params(step: StepConfig, component: Component, params: dict[str, Any], where) -> None:
    for name in params:
        if name in component.data_params:
            raise diags.fail(
                f'step "{step.name}": {name} is an input of a zplan step, not a param',
                f'move it to inputs (a project folder or a step output, fingerprinted by content): inputs = {{ {name} = "data/" }}',
                where(name),
            )
        if name not in component.params:
            raise diags.fail(
                f'step "{step.name}": {component.name} has no param "{name}"',
                f"{did_you_mean(name, component.params)}its params are: {', '.join(component.params) or 'none'}",
                where(name),
            )


def check_proto_params(step: StepConfig, component: Component, params: dict[str, Any], places: dict[str, diags.Range],
                       secrets: list[str]) -> None:
    """Proto-typed params (``train_args = { num_steps = 100 }``) parsed as the worker will parse them,
    where tfx is installed (its tfx.proto modules are plain protobuf, quick to import): a misspelt
    field is an error at its line, not a step failing at apply once its upstream steps ran."""
    if not any(params.get(name) is not None for name in component.protos) or importlib.util.find_spec("tfx") is None:
        return
    from google.protobuf import json_format

    from zplan.secrets import redact

    for name, path in component.protos.items():
        value = params.get(name)
        if value is None:
            continue
        module, _, cls = path.rpartition(".")
        try:
            kind = getattr(importlib.import_module(module), cls)
        except (ImportError, AttributeError):  # a tfx that cannot load here: the step's own run names it
            return
        try:
            if not isinstance(value, dict):
                raise json_format.ParseError(f"an object of its fields is required, got {type(value).__name__}")
            json_format.ParseDict(value, kind())
        except json_format.ParseError as exc:
            raise diags.fail(f'step "{step.name}": params.{name} is not a valid {kind.DESCRIPTOR.full_name}',
                             redact(str(exc).splitlines()[0], secrets) + f" (write it as the proto's JSON form: fields of {cls})",
                             places.get(name, step.range)) from None


def _module_functions(step: StepConfig, component: Component, project_dir: Path, params: dict[str, Any], where):
    """The project functions TFX will call (``preprocessing_fn`` in Transform's module file)."""
    functions = []
    for param, function in component.code.items():
        rel = params.get(param)
        if rel is None:
            raise diags.fail(
                f'step "{step.name}": {component.name} needs params.{param}',
                f'the project file defining {function}: params = {{ {param} = "{function.split("_")[0]}.py" }}',
                step.params.range if step.params is not None else step.range,
            )
        if not isinstance(rel, str) or not rel.endswith(".py"):
            raise diags.fail(f'step "{step.name}": params.{param} must name a .py file of the project', f"got {rel!r}", where(param))
        if not (project_dir / rel).is_file():
            raise diags.fail(
                f'step "{step.name}": module file {rel} does not exist',
                f"params.{param} is a path relative to the project folder, to the file that defines {function}",
                where(param),
            )
        functions.append((param, rel, function))
    return tuple(functions)


def _check_inputs(step: StepConfig, component: Component, inputs: dict[str, GivenInput], where) -> None:
    accepted = [*component.inputs, *component.data_params]
    for name, given in inputs.items():
        if name not in accepted:
            raise diags.fail(
                f'step "{step.name}": {component.name} has no input "{name}"',
                f"{did_you_mean(name, accepted)}its inputs are: {', '.join(accepted) or 'none'}",
                where(name),
            )
        if given.is_list:
            raise diags.fail(f'step "{step.name}": input "{name}" takes one artifact', f"got a list: {given.written}", where(name))
        if name in component.data_params:
            if given.artifact_type is not None:
                raise diags.fail(
                    f'step "{step.name}": input "{name}" of {component.name} needs data files, not a {given.artifact_type} artifact',
                    "give a project folder or the output of a Python step (a folder or file of CSV, or a DataFrame)",
                    where(name),
                )
            continue
        expected = component.inputs[name][0]
        if given.is_data:
            raise diags.fail(
                f'step "{step.name}": input "{name}" of {component.name} needs an {expected} artifact, not a project path',
                f"got {given.written!r}; connect the output of a step that makes {expected} (e.g. step.NAME.outputs.OUTPUT)",
                where(name),
            )
        if given.artifact_type is not None and given.artifact_type != expected:
            raise diags.fail(
                f'step "{step.name}": input "{name}" of {component.name} needs {_a(expected)} artifact, '
                f"but {given.written} is {_a(given.artifact_type)}",
                f"connect an output of type {expected} instead",
                where(name),
            )
    for name in component.data_params:
        if name not in inputs:
            raise diags.fail(f'step "{step.name}": {component.name} needs input "{name}"', f'e.g. inputs = {{ {name} = "data/" }}', step.range)
    for name, (expected, required) in component.inputs.items():
        if required and name not in inputs:
            raise diags.fail(
                f'step "{step.name}": {component.name} needs input "{name}" ({_a(expected)} artifact)',
                f"e.g. inputs = {{ {name} = step.NAME.outputs.OUTPUT }}",
                step.inputs.range if step.inputs is not None else step.range,
            )


def check_runtime(step: StepConfig) -> None:
    """TFX runs only where zplan[tfx] could be installed: Python 3.10 with the tfx package."""
    version = ".".join(map(str, sys.version_info[:3]))
    if sys.version_info[:2] != TFX_PYTHON:
        raise diags.fail(
            f'step "{step.name}" runs the TFX component {step.tfx}, which needs Python 3.10 (this is Python {version})',
            "tfx 1.16 installs on Python 3.10 only: run zplan from a Python 3.10 environment with the tfx extra "
            "(pip install 'zplan[tfx]'; scripts/tfx-lane builds one)",
            step.source_range,
        )
    if importlib.util.find_spec("tfx") is None:
        raise diags.fail(
            f'step "{step.name}" runs the TFX component {step.tfx}, but tfx is not installed',
            "install the extra in this Python 3.10 environment: pip install 'zplan[tfx]'",
            step.source_range,
        )


def _a(type_name: str) -> str:
    return f"{'an' if type_name[0] in 'AEIOU' else 'a'} {type_name}"
