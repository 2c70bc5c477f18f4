"""Step calls checked against the step function's signature, statically.

zplan calls a step as ``fn(**params, **inputs)``. The parameter list is read
from the AST the code fingerprint already parsed (``read_signature``) and cached
with it, so a no-change plan parses nothing more; ``check_call`` then names a
missing required argument or an unknown keyword with the HCL file:line and the
function's file:line, before anything runs.
"""

from __future__ import annotations

import ast
from typing import Any

from zplan import diags
from zplan.config.expr import ObjectExpr
from zplan.config.model import StepConfig

# Decorators known to keep the function's parameters (``beam_step(pipeline=True)`` supplies the first).
# Any other decorator may change them, so such a step is not checked.
_KEEPS_SIGNATURE = frozenset({"step", "beam_step"})


def read_signature(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> dict[str, Any] | None:
    """The JSON-able parameter list of ``fn``; None when a decorator may change it."""
    skip_first = False
    for deco in fn.decorator_list:
        name = callee_name(deco.func if isinstance(deco, ast.Call) else deco)
        if name not in _KEEPS_SIGNATURE:
            return None
        if name == "beam_step" and isinstance(deco, ast.Call):
            skip_first = any(kw.arg == "pipeline" and isinstance(kw.value, ast.Constant) and kw.value.value is True for kw in deco.keywords)
    args = fn.args
    positional = [*args.posonlyargs, *args.args]
    first_default = len(positional) - len(args.defaults)
    params = [[a.arg, "positional_only" if a in args.posonlyargs else "any", i < first_default] for i, a in enumerate(positional)]
    params += [[a.arg, "keyword_only", default is None] for a, default in zip(args.kwonlyargs, args.kw_defaults)]
    if skip_first and params:
        params = params[1:]  # the Beam pipeline, passed by zplan
    return {"line": fn.lineno, "params": params, "any_keyword": args.kwarg is not None}


def check_call(step: StepConfig, signature: dict[str, Any] | None, params: dict[str, Any], inputs: dict[str, Any]) -> list[diags.Diagnostic]:
    """What is wrong with calling the step function with ``params`` and ``inputs`` as keywords."""
    if signature is None:
        return []
    passed = params.keys() | inputs.keys()
    if all(kind != "positional_only" for _, kind, _ in signature["params"]):
        required = {name for name, _, needed in signature["params"] if needed}
        if required <= passed and (signature["any_keyword"] or passed <= {name for name, _, _ in signature["params"]}):
            return []  # the usual case, decided without working out where anything is written
    given = given_keywords(step, params, inputs)
    function = f"{step.function} ({step.file}:{signature['line']})"
    names = [name for name, _, _ in signature["params"]]
    keyword_names = [name for name, kind, _ in signature["params"] if kind != "positional_only"]
    found: list[diags.Diagnostic] = []
    for name, kind, required in signature["params"]:
        if kind == "positional_only" and (required or name in given):
            found.append(diags.error(
                f'step "{step.name}": parameter "{name}" of {function} is positional-only, and zplan passes arguments by name',
                "remove the / from its parameter list", given.get(name, step.source_range),
            ))
        elif required and name not in given:
            found.append(diags.error(
                f'step "{step.name}": {function} needs "{name}", which neither params nor inputs give',
                f'add {name} to the step\'s params or inputs, or give it a default in the function', step.range,
            ))
    if not signature["any_keyword"]:
        for name, where in given.items():
            if name not in names:
                hint = diags.did_you_mean(name, keyword_names)
                found.append(diags.error(
                    f'step "{step.name}": {function} has no parameter "{name}"',
                    f"{hint}it takes: {', '.join(keyword_names) or 'no arguments'}", where,
                ))
    return found


def given_keywords(step: StepConfig, params: dict[str, Any], inputs: dict[str, Any]) -> dict[str, diags.Range]:
    """Each keyword the step passes, with the HCL place that names it."""
    places: dict[str, diags.Range] = {}
    for expr, values in ((step.params, params), (step.inputs, inputs)):
        written = _key_places(expr)
        for name in values:
            places[name] = written.get(name) or (expr.range if expr is not None else step.range)
    return places


def _key_places(expr: Any) -> dict[str, diags.Range]:
    """``{ name = value }`` -> name -> where it is written (the value's place for a bare name)."""
    places: dict[str, diags.Range] = {}
    for key, value in expr.items if isinstance(expr, ObjectExpr) else []:
        if isinstance(key, str):
            places[key] = value.range
    return places


def callee_name(node: ast.AST) -> str:
    """``step`` for ``step`` and ``zplan.step``: the name a decorator or base class is called by."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return ""
