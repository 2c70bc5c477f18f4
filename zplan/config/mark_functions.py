"""``sensitive`` and ``nonsensitive``: functions that set or lift the sensitivity mark.

As ``try`` and ``can`` they are called with the call node and the evaluation under
way, since the mark belongs to the evaluation (``zplan.config.context``), not to the
value. ``sensitive(x)`` marks what is computed from it, as reading a sensitive
variable does, and its texts join the project's secrets, so ``x`` is hidden wherever
it flows (plans, state, step logs) as a sensitive variable's value is.
``nonsensitive(x)`` lifts the mark (an output of it needs no ``sensitive = true``, a
step given it has plain outputs): meant for a value that tells nothing of the secret,
such as a hash or a length. As in newer Terraform releases, a value that is not
sensitive is returned as it is.
"""

from __future__ import annotations

from typing import Any

from zplan.config.expr import Call, _Ctx, static_fail
from zplan.config.function_args import register
from zplan.config.values import UNKNOWN


@register("sensitive(value)", 1, lazy=True)
def _sensitive(call: Call, ctx: _Ctx) -> Any:
    if ctx.marks.keep is None:  # a constant (a default, a vars file): nothing would carry the mark, it would be shown
        raise static_fail("sensitive() cannot be used here", "this value is a constant, which is not tracked: declare the variable "
                          "sensitive = true instead, or call sensitive() where the value is used", call.range)
    value = _only_argument(call, ctx)
    ctx.marks.read = True
    if value is not UNKNOWN:
        ctx.marks.keep(value)
    return value


@register("nonsensitive(value)", 1, lazy=True)
def _nonsensitive(call: Call, ctx: _Ctx) -> Any:
    outer = ctx.marks.read
    try:
        return _only_argument(call, ctx)
    finally:
        ctx.marks.read = outer  # what the argument read is not read by the call


def _only_argument(call: Call, ctx: _Ctx) -> Any:
    if call.expand_last:
        raise call._fail(f"{call.name}(): its argument cannot be expanded with ...", f"usage: {call.name}(value); in {call.source()}")
    if len(call.args) != 1:
        raise call._fail(f"{call.name}(): expected 1 argument, got {len(call.args)}", f"usage: {call.name}(value); in {call.source()}")
    return call.args[0]._eval(ctx)
