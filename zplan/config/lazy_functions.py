"""``try`` and ``can``: functions that evaluate their own arguments, catching errors.

They are called with the call node and the evaluation under way instead of
argument values, as Terraform evaluates them: ``try(var.cfg.name, "none")``
returns the first argument that evaluates without an error, ``can(expr)``
whether ``expr`` does. Mistakes in the configuration itself (an undeclared
variable, an unknown function: ``StaticError``) are not hidden. An argument
known only after apply makes the result known only after apply too, since
whether it would fail cannot be told yet.
"""

from __future__ import annotations

from typing import Any

from zplan.config.expr import Call, StaticError, _Ctx
from zplan.config.function_args import register
from zplan.config.values import UNKNOWN, contains_unknown
from zplan.diags import DiagnosticError


@register("try(expression, fallback, ...)", 1, None, lazy=True)
def _try(call: Call, ctx: _Ctx) -> Any:
    if not call.args:
        raise call._fail("try(): expected at least 1 argument, got 0", "usage: try(expression, fallback, ...)")
    problems = []
    for arg in call.args:
        try:
            value = arg._eval(ctx)
        except StaticError:
            raise
        except DiagnosticError as exc:
            problems.extend(d.summary for d in exc.diagnostics)
            continue
        return UNKNOWN if contains_unknown(value) else value
    raise call._fail(
        "try(): no argument could be evaluated",
        "the errors were: " + "; ".join(problems) + f"; in {call.source()} (add a fallback value as the last argument)",
    )


@register("can(expression)", 1, lazy=True)
def _can(call: Call, ctx: _Ctx) -> Any:
    if len(call.args) != 1:
        raise call._fail(f"can(): expected 1 argument, got {len(call.args)}", "usage: can(expression)")
    try:
        value = call.args[0]._eval(ctx)
    except StaticError:
        raise
    except DiagnosticError:
        return False
    return UNKNOWN if contains_unknown(value) else True
