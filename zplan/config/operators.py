"""Operator nodes: ``-x``, ``!x``, ``a + b`` and the other binary operators, ``c ? a : b``, ``for``.

Same contract as ``zplan.config.expr``: each node lists its references and
evaluates itself with HCL's rules, ``UNKNOWN`` spreading through.
"""

from __future__ import annotations

import math
from decimal import Decimal, InvalidOperation
from typing import Any

from zplan.config.expr import Expr, Ref, _Ctx, object_key
from zplan.config.values import DECIMALS, FINITE_RULE, SENSITIVE_VALUE, UNKNOWN, article, contains_unknown, decimal, equal, find_symbolic, for_pairs, is_finite, is_number, truth, type_name


class Unary(Expr):
    __slots__ = ("op", "operand")

    def __init__(self, op: str, operand: Expr) -> None:
        self.op = op
        self.operand = operand

    def _refs(self, bound: frozenset, out: list[Ref]) -> None:
        self.operand._refs(bound, out)

    def _eval(self, ctx: _Ctx) -> Any:
        value = self.operand._eval(ctx)
        if value is UNKNOWN:
            return UNKNOWN
        if self.op == "-":
            value = _numeric(value)
            if not is_number(value):
                raise self._fail(f"cannot negate {article(type_name(value))}", f'"-" needs a number, in {self.source()}')
            return -value
        value = truth(value)
        if not isinstance(value, bool):
            raise self._fail(f"cannot apply ! to {article(type_name(value))}", f'"!" needs true or false, in {self.source()}')
        return not value


_OP_VERBS = {"+": "add", "-": "subtract", "*": "multiply", "/": "divide", "%": "take the remainder of"}


class Binary(Expr):
    __slots__ = ("op", "left", "right")

    def __init__(self, op: str, left: Expr, right: Expr) -> None:
        self.op = op
        self.left = left
        self.right = right

    def _spine(self) -> tuple[Expr, list["Binary"]]:
        """``1 + 2 + 3`` nests to the left: its first operand and the operations, innermost first.

        Walking that spine in a loop keeps a 1,000-term sum from recursing 1,000 deep.
        """
        ops: list[Binary] = []
        node: Expr = self
        while isinstance(node, Binary):
            ops.append(node)
            node = node.left
        ops.reverse()
        return node, ops

    def _refs(self, bound: frozenset, out: list[Ref]) -> None:
        first, ops = self._spine()
        first._refs(bound, out)
        for op in ops:
            op.right._refs(bound, out)

    def _eval(self, ctx: _Ctx) -> Any:
        first, ops = self._spine()
        value = first._eval(ctx)
        for op in ops:
            value = op._apply(ctx, value)
        return value

    def _apply(self, ctx: _Ctx, a: Any) -> Any:
        """This operation on the value ``a`` of its left operand."""
        if self.op in ("&&", "||"):
            return self._logical(ctx, a)
        b = self.right._eval(ctx)
        if self.op in ("==", "!="):
            if contains_unknown(a) or contains_unknown(b):
                return UNKNOWN
            self._no_symbolic(a, b)
            return equal(a, b) == (self.op == "==")
        if a is UNKNOWN or b is UNKNOWN:
            return UNKNOWN
        a, b = _numeric(a), _numeric(b)
        if not (is_number(a) and is_number(b)):
            self._no_symbolic(a, b)
            verb = _OP_VERBS.get(self.op)
            what = f"cannot {verb} {type_name(a)} and {type_name(b)}" if verb else f"cannot compare {type_name(a)} and {type_name(b)} with {self.op}"
            raise self._fail(what, f'"{self.op}" needs two numbers, in {self.source()}')
        result = self._arithmetic(a, b)
        if is_number(result) and not is_finite(result):  # Infinity would reach the plan, then fail apply
            raise self._fail(f"the result of {self.source()} is too large", f"{FINITE_RULE}")
        return result

    def _arithmetic(self, a: int | float, b: int | float) -> Any:
        op = self.op
        if op in ("/", "%") and b == 0:
            raise self._fail("division by zero", f"in {self.source()}")
        if op in _OP_VERBS and (isinstance(a, float) or isinstance(b, float)) and math.isfinite(a) and math.isfinite(b):
            return float(_decimal_arithmetic(op, decimal(a), decimal(b)))
        if op == "+":
            return a + b
        if op == "-":
            return a - b
        if op == "*":
            return a * b
        if op == "/":
            if isinstance(a, int) and isinstance(b, int) and a % b == 0:
                return a // b
            return a / b
        if op == "%":
            # HCL's remainder takes the sign of the dividend, like Go (Python's % does not)
            return math.fmod(a, b) if isinstance(a, float) or isinstance(b, float) else _int_rem(a, b)
        return {"<": a < b, ">": a > b, "<=": a <= b, ">=": a >= b}[op]

    def _logical(self, ctx: _Ctx, left: Any) -> Any:
        stop = self.op == "||"  # the value that decides the result on its own
        a = self._bool(self.left, left)
        if a is stop:
            return stop
        b = self._bool(self.right, self.right._eval(ctx))
        if b is stop:
            return stop
        return UNKNOWN if UNKNOWN in (a, b) else (not stop)

    def _bool(self, node: Expr, value: Any) -> Any:
        value = truth(value)
        if value is UNKNOWN or isinstance(value, bool):
            return value
        raise node._fail(f'"{self.op}" needs true or false, got {type_name(value)}', f"in {self.source()}")

    def _no_symbolic(self, *values: Any) -> None:
        for value in values:
            found = find_symbolic(value)
            if found is not None:
                raise self._fail(
                    f'"{self.op}" cannot use {found}: its value is known only when it runs',
                    f"in {self.source()}",
                )


def _numeric(value: Any) -> Any:
    """A string that spells a number, as that number: Terraform converts the operands of arithmetic
    and comparisons (an untyped variable set with -var n=3 holds the text "3"); anything else as it is."""
    if isinstance(value, str):
        from zplan.config.function_args import parse_number  # here: only text operands need it

        number = parse_number(value)
        if number is not None:
            return number
    return value


def _decimal_arithmetic(op: str, a: Decimal, b: Decimal) -> Decimal | float:
    if op == "+":
        return DECIMALS.add(a, b)
    if op == "-":
        return DECIMALS.subtract(a, b)
    if op == "*":
        return DECIMALS.multiply(a, b)
    if op == "/":
        return DECIMALS.divide(a, b)
    try:
        return DECIMALS.remainder(a, b)  # "%": the sign of the dividend, like Go's
    except InvalidOperation:  # a quotient with more digits than the context holds: the float one is as good
        return math.fmod(float(a), float(b))


def _int_rem(a: int, b: int) -> int:
    r = abs(a) % abs(b)
    return -r if a < 0 else r


class Conditional(Expr):
    __slots__ = ("cond", "then", "otherwise")

    def __init__(self, cond: Expr, then: Expr, otherwise: Expr) -> None:
        self.cond = cond
        self.then = then
        self.otherwise = otherwise

    def _refs(self, bound: frozenset, out: list[Ref]) -> None:
        self.cond._refs(bound, out)
        self.then._refs(bound, out)
        self.otherwise._refs(bound, out)

    def _eval(self, ctx: _Ctx) -> Any:
        cond = truth(self.cond._eval(ctx))
        if cond is UNKNOWN:
            return UNKNOWN
        if not isinstance(cond, bool):
            raise self.cond._fail(f"the condition must be true or false, got {type_name(cond)}", f"in {self.source()}")
        return (self.then if cond else self.otherwise)._eval(ctx)


class ForExpr(Expr):
    """``[for v in xs : f(v) if c]`` and ``{for k, v in m : k => v... if c}``."""

    __slots__ = ("key_var", "value_var", "collection", "key", "value", "cond", "group")

    def __init__(
        self,
        key_var: str | None,
        value_var: str,
        collection: Expr,
        key: Expr | None,
        value: Expr,
        cond: Expr | None,
        group: bool,
    ) -> None:
        self.key_var = key_var
        self.value_var = value_var
        self.collection = collection
        self.key = key  # None for the list form
        self.value = value
        self.cond = cond
        self.group = group

    def _refs(self, bound: frozenset, out: list[Ref]) -> None:
        self.collection._refs(bound, out)
        inner = bound | {self.value_var} | ({self.key_var} if self.key_var else set())
        for node in (self.key, self.value, self.cond):
            if node is not None:
                node._refs(inner, out)

    def _eval(self, ctx: _Ctx) -> Any:
        collection, sensitive = ctx.marked(self.collection)
        if collection is UNKNOWN:
            return UNKNOWN
        pairs = for_pairs(collection)
        if pairs is None:
            raise self.collection._fail(f"a for expression needs a list or an object, got {type_name(collection)}")
        result: Any = [] if self.key is None else {}
        for k, v in pairs:
            names = {self.value_var: v, **({self.key_var: k} if self.key_var else {})}
            inner = ctx.with_locals(names, sensitive)
            if self.cond is not None:
                keep = truth(self.cond._eval(inner))
                if keep is UNKNOWN:
                    return UNKNOWN
                if not isinstance(keep, bool):
                    raise self.cond._fail(f"the for expression's if condition must be true or false, got {type_name(keep)}")
                if not keep:
                    continue
            if self.key is None:
                result.append(self.value._eval(inner))
            elif self._add(result, inner) is UNKNOWN:
                return UNKNOWN
        return result

    def _add(self, result: dict, ctx: _Ctx) -> Any:
        key, sensitive = ctx.marked(self.key)
        name = object_key(self.key, key)
        if name is UNKNOWN:
            return UNKNOWN
        value = self.value._eval(ctx)
        if self.group:
            result.setdefault(name, []).append(value)
        elif name in result:
            shown = SENSITIVE_VALUE if sensitive else f'"{name}"'
            raise self.key._fail(
                f"duplicate key {shown} in for expression",
                "add ... after the value to group the values of equal keys into lists",
            )
        else:
            result[name] = value
        return None
