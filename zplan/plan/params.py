"""A step's params as the planner checks them: plain JSON values, and where a value comes from a params file."""

from __future__ import annotations

from typing import Any

from zplan import diags
from zplan.config.expr import Expr, ObjectExpr
from zplan.config.scope import Scope
from zplan.config.model import StepConfig
from zplan.config.values import UNKNOWN, find_symbolic
from zplan.hashing import canonical_json
from zplan.secrets import holds_secret
from zplan.state.checks import not_finite_path

_SCALARS = (str, int, bool, type(None))


def step_params(step: StepConfig, scope: Scope) -> dict[str, Any]:
    """The step's params evaluated, or an error at their line: an object of plain, finite values."""
    if step.params is None:
        return {}
    value = scope.eval(step.params, where=step.where)
    if not isinstance(value, dict):
        raise diags.fail(f'step "{step.name}": params must be an object', "e.g. params = { c = 1.0 }", step.params.range)
    if scope.was_sensitive(step.params):  # a param computed from a secret (upper(var.token)) is one too
        # the names are the function's keyword arguments, which its code spells (merge(local.base, { key = var.key }))
        scope.keep_secret(step.params, value, lambda expr: scope.eval_marked(expr, where=step.where), value)
        refuse_secret_names(step, "params", step.params, value, scope)
    if plain(value):  # the usual case: JSON-ready and finite, nothing to report
        return value
    symbolic = find_symbolic(value)  # a step output come through each.value or a module output
    if symbolic is not None:
        raise diags.fail(f'step "{step.name}": params cannot hold a step output ({symbolic})',
                         "params are plain values known when planning: pass it in inputs (inputs = { x = ... })", step.params.range)
    try:
        canonical_json(without_unknown(value))
    except TypeError as exc:
        raise diags.fail(f'step "{step.name}": params must be plain values', str(exc), step.params.range) from None
    nan = not_finite_path(value, "params")
    if nan:
        raise diags.fail(f'step "{step.name}": {nan} is NaN or infinite', "state and cache keys are JSON, which cannot hold it: pass a number", step.params.range)
    return value


def refuse_secret_names(step: StepConfig, what: str, expr: Expr, value: dict, scope: Scope) -> None:
    """An error at ``expr`` when the names of ``what`` (params or inputs: the step's keyword arguments,
    named in plans and state) come from a sensitive value, as for_each refuses one."""
    if _names_hold_secret(expr, value, scope.secrets or []) or _names_from_secret(expr, step, scope):
        hint = "pass the map as one param (params = { m = var.m })" if what == "params" else 'name each input (inputs = { data = var.paths["train"] })'
        raise diags.fail(f'step "{step.name}": the names of {what} cannot come from a sensitive value',
                         f"they are the step's keyword arguments, named in plans and state: {hint}", expr.range)


def _names_hold_secret(expr: Expr, value: dict, secrets: list[str]) -> bool:
    """Whether the names of ``value`` hold a secret: only those not written as names in an object
    (``{ n = var.train.n }`` names its param "n", a key of the sensitive var.train or not)."""
    written = {key for key, _ in expr.items if isinstance(key, str)} if isinstance(expr, ObjectExpr) else set()
    return holds_secret([name for name in value if name not in written], secrets)


def _names_from_secret(expr: Expr, step: StepConfig, scope: Scope) -> bool:
    """Whether ``expr`` is a ``for`` expression over a sensitive collection (``{ for k, v in var.m : upper(k) => v }``):
    its names are made from the secret, whatever texts they come out as."""
    from zplan.config.operators import ForExpr

    return isinstance(expr, ForExpr) and scope.eval_marked(expr.collection, pipeline=step.pipeline, where=step.where)[1]


def plain(value: Any) -> bool:
    """Whether ``value`` holds only strings, whole numbers, finite floats, booleans, nulls and
    lists and string-keyed objects of them: what canonical JSON writes without a question and
    ``not_finite_path`` passes (anything else goes through them, for their errors)."""
    kind = type(value)
    if kind in _SCALARS:
        return True
    if kind is float:
        return value - value == 0  # not NaN nor an infinity
    if kind is dict:
        return all(type(k) is str and plain(v) for k, v in value.items())
    if kind is list:
        return all(plain(v) for v in value)
    return False


def without_unknown(value: Any) -> Any:
    if value is UNKNOWN:
        return None
    if isinstance(value, dict):
        return {k: without_unknown(v) for k, v in value.items()}
    if isinstance(value, list):
        return [without_unknown(v) for v in value]
    return value


def param_sources(step: StepConfig, scope: Scope, candidates: dict) -> dict[str, str]:
    """``{ n_est = var.train.n_est }`` with train from -var-file params.yaml: {"n_est": "params.yaml:train.n_est"}.
    ``candidates`` keeps, per params expression (shared by a for_each step's instances), its
    items that may read a params file."""
    refs = candidates.get(step.params)
    if refs is None:
        refs = candidates[step.params] = _params_refs(step.params)
    found = {}
    for key, ref in refs:
        source = scope.params_source(ref)
        if source:
            found[key] = source
    return found


def _params_refs(params) -> list:
    """``(key, ref)`` of the items ``{ key = var.a.b }`` or ``{ key = local.a.b }``: only they can name a params file."""
    from zplan.config.expr import ObjectExpr, RefExpr

    if not isinstance(params, ObjectExpr):
        return []
    return [(key, value.ref) for key, value in params.items
            if isinstance(key, str) and isinstance(value, RefExpr) and value.ref.parts[0] in ("var", "local") and len(value.ref.parts) >= 3]
