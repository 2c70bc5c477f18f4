"""Secrets are known by value: the texts of a sensitive value (a resource's sensitive attribute, a
module's sensitive input or output, the argument of ``sensitive()``) join the project's secrets
list when an evaluation reads it, so state digests them and logs redact them wherever they reach.
Used by ``zplan.config.scope``."""

from __future__ import annotations

from typing import Any, Callable, Iterable

from zplan.config.expr import Expr


def add_secret(secrets: list[str] | None, value: Any, public_keys: Iterable[str] = ()) -> Any:
    """``value``, its texts (its map keys too, but ``public_keys``) added to ``secrets`` (None: not
    tracked, as in a validation)."""
    if secrets is not None:
        from zplan.secrets import secret_forms

        known = set(secrets)
        secrets.extend(form for form in secret_forms([value], public_keys) if form not in known)
    return value


def keep_secret(secrets: list[str] | None, expr: Expr, value: Any, evaluate: Callable[[Expr], tuple[Any, bool]],
                public_keys: Iterable[str] = ()) -> None:
    """``expr``, computed from a sensitive value, evaluated to ``value``: its texts join ``secrets``,
    only those of the parts that read one where ``expr`` is written as an object, a list or a
    template (``{ token = upper(var.pw), n = 3 }``: not 3), and but ``public_keys`` (names the
    configuration or the code spells). ``evaluate`` gives a part's value and whether it read a
    sensitive value."""
    if _is_variable(expr):  # its texts joined when it was read, its object type's attribute names left out
        return
    parts = _parts(expr)
    if parts is None:
        add_secret(secrets, value, public_keys)
        return
    for part in parts:
        part_value, sensitive = evaluate(part)
        if sensitive:
            keep_secret(secrets, part, part_value, evaluate)


def _parts(expr: Expr) -> list[Expr] | None:
    """The expressions an object, list or template is written with (None for any other expression)."""
    from zplan.config.expr import ObjectExpr, TupleExpr
    from zplan.config.templates import TemplateExpr

    if isinstance(expr, ObjectExpr):
        return [e for item in expr.items for e in item if isinstance(e, Expr)]
    if isinstance(expr, TupleExpr):
        return list(expr.items)
    if isinstance(expr, TemplateExpr):
        return [part for part in expr.parts if isinstance(part, Expr)]
    return None


def _is_variable(expr: Expr) -> bool:
    from zplan.config.expr import RefExpr

    return isinstance(expr, RefExpr) and expr.ref.parts[0] == "var"
