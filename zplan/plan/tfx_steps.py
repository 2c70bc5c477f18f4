"""The code fingerprint of a TFX step: its component, and the project functions TFX calls
(``preprocessing_fn`` of Transform's module file, ``run_fn`` of Trainer's, and an optional
hook such as ``stats_options_updater_fn`` where the module file defines one), hashed like
a Python step's code, so editing one reruns that component and what reads its outputs.

``zplan.tfx`` (imported only for a project that has a TFX step) checks the rest.
"""

from __future__ import annotations

from typing import Any

from zplan import diags
from zplan.config.model import Config, StepConfig
from zplan.hashing import hash_value
from zplan.plan import model as m
from zplan.plan.code_hash import WHOLE_MODULE, CodeError, CodeIndex, CodeInfo
from zplan.plan.signatures import given_keywords

TFX_KEY_VERSION = 1  # bump when the way a TFX step runs changes its results
LIBRARIES = ("tfx", "tensorflow")  # their installed versions key every TFX step


def tfx_code_info(step: StepConfig, scope, code: CodeIndex, params: dict[str, Any], inputs: dict[str, m.StepInput]) -> CodeInfo:
    from zplan.tfx.planning import check_proto_params, check_step

    config = scope.config
    _check_orchestrator(step, scope)
    places = given_keywords(step, params, inputs)
    given = {name: _given(config, spec) for name, spec in inputs.items()}
    checked = check_step(step, config.project_dir, params, given, places)
    check_proto_params(step, checked.component, params, places, scope.secrets or [])
    parts: dict[str, str] = {}
    modules, hashes = list(LIBRARIES), []
    for param, rel, function in checked.functions:
        try:
            info = code.info(rel, function)
        except CodeError as exc:
            raise diags.fail(f'step "{step.name}": {exc.summary}', exc.detail, places.get(param, step.range)) from None
        parts.update(info.parts)
        modules += info.modules
        hashes.append(info.hash)
    for rel, function in _hooks(step, checked.component, code, params, places):
        info = _hook_info(code, rel, function)
        parts.update(info.parts)
        modules += info.modules
        hashes.append([function, info.hash])  # (a step without hooks keeps the key it had)
    digest = hash_value(["tfx", TFX_KEY_VERSION, checked.component.class_path, hashes])
    return CodeInfo(hash=digest, outputs=list(checked.component.outputs), parts=parts, modules=sorted(set(modules)))


def _hooks(step: StepConfig, component, code: CodeIndex, params: dict[str, Any], places) -> list[tuple[str, str]]:
    """The optional functions TFX calls from a module file that defines them (Transform's
    ``stats_options_updater_fn``): (module file, function) for each one defined."""
    found = []
    for param, functions in component.hooks.items():
        rel = params[param]
        try:
            defined = code.definition(rel, WHOLE_MODULE).parts
        except CodeError as exc:
            raise diags.fail(f'step "{step.name}": {exc.summary}', exc.detail, places.get(param, step.range)) from None
        found += [(rel, f) for f in functions if f"{rel}:{f}" in defined]
    return found


def _hook_info(code: CodeIndex, rel: str, function: str) -> CodeInfo:
    """A hook's fingerprint; one bound some other way than ``def`` (``fn = make_fn()``) is keyed by its whole module."""
    try:
        return code.info(rel, function)
    except CodeError:
        return code.definition(rel, WHOLE_MODULE)


def _check_orchestrator(step: StepConfig, scope) -> None:
    """A TFX step runs in this machine's workers: a Kubeflow or Vertex task does not run one yet, and
    apply would only find out after it provisioned the resources (or submit a pipeline that fails)."""
    from zplan.stack.flavors import is_remote

    stack = scope.config.stacks.get(scope.stack)
    expr = stack.settings.get("orchestrator") if stack is not None else None
    orchestrator = scope.eval(expr) if expr is not None else None
    if isinstance(orchestrator, str) and is_remote({"orchestrator": orchestrator}):
        raise diags.fail(
            f'step "{step.name}" runs the TFX component {step.tfx}, which the {orchestrator} orchestrator does not run yet',
            f'TFX steps run in local workers: apply this pipeline with a stack whose orchestrator is "local" '
            f'(zplan apply -stack NAME), or make the step a Python function (source = "FILE.py:FUNCTION")',
            step.source_range,
        )


def _given(config: Config, spec: m.StepInput):
    from zplan.tfx.planning import GivenInput
    from zplan.tfx.specs import COMPONENTS

    if isinstance(spec, m.DataInput):
        return GivenInput(spec.path, is_data=True)
    if isinstance(spec, m.ListInput):
        return GivenInput(", ".join(_written(i) for i in spec.items), is_list=True)
    upstream = config.step(spec.step)
    component = COMPONENTS.get(upstream.tfx) if upstream is not None and upstream.tfx else None
    return GivenInput(_written(spec), artifact_type=component.outputs.get(spec.output) if component else None)


def _written(spec: m.StepOutputInput) -> str:
    return f"step.{spec.step.rsplit('.', 1)[1]}.outputs.{spec.output}"
