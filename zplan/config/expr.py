"""HCL expressions as a small tree that can list its references and evaluate itself.

This module holds the base, literals, collections, references and calls;
``operators`` and ``templates`` hold the other nodes. The parser
(``zplan.config.hcl``) builds them; callers only use the
``Expr`` methods: ``references()`` to learn what an expression depends on,
``evaluate(resolve)`` to compute it, ``static_value()`` for constants and
``source()`` for messages.

A reference is resolved by its *traversal prefix*, the longest chain of static
attribute names and literal indices after a root name (``var.cfg["a"]`` ->
``("var", "cfg", "a")``): the resolver returns the value of that whole chain, so
it can answer ``step.load.outputs.data`` with a marker object instead of data.
Values follow Terraform (see ``values``): ``UNKNOWN`` (known only after apply)
spreads through every operation, and a string template holding a symbolic
marker becomes a ``Template`` so the caller can still see which references
were inside it. An error about an operand computed from a sensitive value
(``zplan.config.context``) says "(sensitive value)" instead of quoting it.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass
from typing import Any, Callable

from zplan.diags import DiagnosticError, Range, did_you_mean, fail
from zplan.pickled import tuple_state
from zplan.config.context import Marks, _Ctx  # noqa: F401  (the nodes' modules take them from here)
from zplan.config.values import (
    SENSITIVE_VALUE,
    UNKNOWN,
    article,
    is_number,
    to_text,
    type_name,
)


IDENTIFIER = re.compile(r"[^\W\d][\w-]*")

# -- references -------------------------------------------------------------------------


@tuple_state
@dataclass(frozen=True)
class Ref:
    """A reference by its traversal prefix: ``var.x`` -> ("var", "x"), ``a[0]`` -> ("a", 0)."""

    parts: tuple[str | int, ...]
    range: Range

    def __str__(self) -> str:
        text = str(self.parts[0])
        for part in self.parts[1:]:
            if isinstance(part, int):
                text += f"[{part}]"
            elif IDENTIFIER.fullmatch(part):
                text += f".{part}"
            else:
                text += f'["{part}"]'
        return text


Resolver = Callable[[Ref], Any]


def _no_references(ref: Ref) -> Any:
    raise fail(
        f'"{ref}" cannot be used here',
        "this value must be a constant: variables, locals, steps and resources are not available here",
        ref.range,
    )


class StaticError(DiagnosticError):
    """A mistake in the configuration itself (an undeclared name, an unknown function),
    which ``try()`` and ``can()`` do not hide, as in Terraform."""


def static_fail(summary: str, detail: str = "", range: Range | None = None) -> StaticError:
    return StaticError(fail(summary, detail, range).diagnostics)


# -- nodes ------------------------------------------------------------------------------


class Source:
    """The text expressions came from, shared by every node of one file."""

    __slots__ = ("filename", "text", "_newlines")

    def __init__(self, filename: str, text: str) -> None:
        self.filename = filename
        self.text = text
        self._newlines: list[int] | None = None

    def position(self, offset: int) -> tuple[int, int]:
        """1-based (line, column) of a character offset."""
        if self._newlines is None:
            self._newlines = [m.start() for m in re.finditer("\n", self.text)]
        line = bisect_right(self._newlines, offset - 1)
        line_start = self._newlines[line - 1] + 1 if line else 0
        return line + 1, offset - line_start + 1

    def range(self, offset: int) -> Range:
        return Range(self.filename, *self.position(offset))


class Expr:
    """An expression node; the parser records which slice of the source it spans."""

    __slots__ = ("_src", "_start", "_end")

    def __init_subclass__(cls) -> None:  # each node pickled as a tuple: the parse cache's trees load in half the time
        tuple_state(cls)

    @property
    def range(self) -> Range:
        return self._src.range(self._start)

    def source(self) -> str:
        return self._src.text[self._start : self._end]

    def references(self) -> list[Ref]:
        found: list[Ref] = []
        self._refs(frozenset(), found)
        return found

    def evaluate(self, resolve: Resolver, reads: set | None = None, marks: Marks | None = None, folder: str | None = None) -> Any:
        """The value; ``reads`` (when given) collects the paths of files functions read, ``marks``
        is what the resolver sets when it answers with a sensitive value, and ``folder`` is
        ``path.module`` there (functions that read files take a path built from it)."""
        try:
            return self._eval(_Ctx(resolve, {}, {}, reads, marks, folder=folder))
        except RecursionError:
            # The parser bounds nesting; a value can still be deep (jsondecode of a deep document).
            raise self._fail("nested too deeply", "this value nests lists or objects too deeply to compute") from None

    def static_value(self) -> Any:
        return self.evaluate(_no_references)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.source()!r} at {self.range}>"

    # subclasses implement these two
    def _refs(self, bound: frozenset, out: list[Ref]) -> None:
        pass

    def _eval(self, ctx: _Ctx) -> Any:
        raise NotImplementedError

    def _fail(self, summary: str, detail: str = "") -> DiagnosticError:
        return fail(summary, detail or f"in {self.source()}", self.range)


class Literal(Expr):
    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def _eval(self, ctx: _Ctx) -> Any:
        return self.value


class Paren(Expr):
    """``(expr)``: the value of ``expr``; it ends a reference prefix, so ``(a).b`` indexes a's value."""

    __slots__ = ("inner",)

    def __init__(self, inner: Expr) -> None:
        self.inner = inner

    def _refs(self, bound: frozenset, out: list[Ref]) -> None:
        self.inner._refs(bound, out)

    def _eval(self, ctx: _Ctx) -> Any:
        return self.inner._eval(ctx)


class TupleExpr(Expr):
    __slots__ = ("items",)

    def __init__(self, items: list[Expr]) -> None:
        self.items = items

    def _refs(self, bound: frozenset, out: list[Ref]) -> None:
        for item in self.items:
            item._refs(bound, out)

    def _eval(self, ctx: _Ctx) -> Any:
        return [item._eval(ctx) for item in self.items]


class ObjectExpr(Expr):
    """``{ key = value }``; a bare identifier key is a literal string, anything else is evaluated."""

    __slots__ = ("items",)

    def __init__(self, items: list[tuple[str | Expr, Expr]]) -> None:
        self.items = items

    def _refs(self, bound: frozenset, out: list[Ref]) -> None:
        for key, value in self.items:
            if isinstance(key, Expr):
                key._refs(bound, out)
            value._refs(bound, out)

    def _eval(self, ctx: _Ctx) -> Any:
        result: dict[str, Any] = {}
        for key, value in self.items:
            name = key if isinstance(key, str) else object_key(key, key._eval(ctx))
            if name is UNKNOWN:
                return UNKNOWN
            result[name] = value._eval(ctx)  # a repeated key keeps the last value, as in HCL
        return result


def object_key(node: Expr, key: Any) -> Any:
    if key is UNKNOWN:
        return UNKNOWN
    text = to_text(key)
    if text is None:
        raise node._fail(f"an object key must be a string, got {type_name(key)}")
    return text


class RefExpr(Expr):
    """A reference: resolved by the caller, or by a for-expression variable."""

    __slots__ = ("ref",)

    def __init__(self, ref: Ref) -> None:
        self.ref = ref

    def _refs(self, bound: frozenset, out: list[Ref]) -> None:
        if self.ref.parts[0] not in bound:
            out.append(self.ref)

    def _eval(self, ctx: _Ctx) -> Any:
        parts = self.ref.parts
        if parts[0] in ctx.locals:
            sensitive = parts[0] in ctx.hidden
            ctx.marks.read |= sensitive
            value = ctx.locals[parts[0]]
            for part in parts[1:]:
                value = traverse(self, value, part, sensitive)
            return value
        key = id(self)
        if key not in ctx.cache:  # the answer and its mark: read again, it is still sensitive
            ctx.cache[key] = self._resolved(ctx)
        value, sensitive = ctx.cache[key]
        ctx.marks.read |= sensitive
        return value

    def _resolved(self, ctx: _Ctx) -> tuple[Any, bool]:
        marks = ctx.marks  # (as ``ctx.marked``, without its call: a reference of every step instance comes here)
        outer, marks.read = marks.read, False
        try:
            return ctx.resolve(self.ref), marks.read
        except KeyError:
            raise static_fail(f'unknown reference "{self.ref}"', "check the name", self.ref.range) from None
        finally:
            marks.read = outer or marks.read


def traverse(node: Expr, value: Any, key: Any, sensitive: bool = False) -> Any:
    """``value[key]`` / ``value.key`` with HCL's rules and clear errors; ``sensitive`` when
    the value or the key was computed from a sensitive value: errors then show neither."""
    if value is UNKNOWN or key is UNKNOWN:
        return UNKNOWN
    if isinstance(value, dict):
        name = key if type(key) is str else to_text(key) if not isinstance(key, bool) else None
        if name is None:
            raise node._fail(f"an object key must be a string, got {type_name(key)}")
        if name not in value:
            if sensitive:
                raise node._fail(f"no key {SENSITIVE_VALUE} in this object", f"in {node.source()}; the key or the object is sensitive, so neither is shown")
            known = ", ".join(sorted(value)) or "none"
            raise node._fail(f'no key "{name}" in this object', f"in {node.source()}; its keys are: {known}")
        return value[name]
    if isinstance(value, (list, tuple)):
        return _list_item(node, value, key, sensitive)
    if value is None:
        raise node._fail(f"cannot index a null value with {_show_key(key, sensitive)}", f"{node.source()} is null here")
    raise node._fail(f"cannot index {article(type_name(value))} with {_show_key(key, sensitive)}", f"in {node.source()}")


_NUMBER_TEXT = re.compile(r"-?[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")


def list_index(key: Any) -> int | None:
    """The list index ``key`` names, or None. As in Terraform, a string that spells a whole number
    converts: ``xs[each.key]`` where the keys are "0", "1", ..."""
    if isinstance(key, str) and _NUMBER_TEXT.fullmatch(key):
        key = float(key)
    if not is_number(key) or (isinstance(key, float) and not key.is_integer()):
        return None
    return int(key)


def element(value: Any, key: Any) -> Any:
    """``value[key]`` as HCL reads a reference's static steps (``var.cfg.a``, ``local.xs[0]``):
    an object by its key (a number as its text), a list by its index; LookupError when there is
    no such element. A string, a number or a bool has none (Python would index a string)."""
    if isinstance(value, dict):
        if not (isinstance(key, str) or is_number(key)):
            raise LookupError(key)
        return value[key if isinstance(key, str) else to_text(key)]
    if isinstance(value, (list, tuple)):
        index = list_index(key)
        if index is None or not 0 <= index < len(value):
            raise LookupError(key)
        return value[index]
    raise LookupError(key)


def _list_item(node: Expr, items: list | tuple, key: Any, sensitive: bool) -> Any:
    index = list_index(key)
    if index is None:
        raise node._fail(f"a list index must be a whole number, got {_show_key(key, sensitive)}")
    if not 0 <= index < len(items):
        if sensitive:  # the index or the length would tell something of the secret
            raise node._fail(f"index {SENSITIVE_VALUE} out of range for this list", f"in {node.source()}")
        raise node._fail(f"index {index} out of range for a list of {len(items)} element(s)", f"in {node.source()}")
    return items[index]


def _show_key(key: Any, sensitive: bool = False) -> str:
    if sensitive:
        return SENSITIVE_VALUE
    return f'"{key}"' if isinstance(key, str) else (to_text(key) or type_name(key))


class GetAttr(Expr):
    """``x.name`` where ``x`` is not itself a reference prefix (e.g. a call result)."""

    __slots__ = ("obj", "name")

    def __init__(self, obj: Expr, name: str | int) -> None:
        self.obj = obj
        self.name = name

    def _refs(self, bound: frozenset, out: list[Ref]) -> None:
        self.obj._refs(bound, out)

    def _eval(self, ctx: _Ctx) -> Any:
        value, sensitive = ctx.marked(self.obj)
        return traverse(self, value, self.name, sensitive)


class Index(Expr):
    __slots__ = ("obj", "key")

    def __init__(self, obj: Expr, key: Expr) -> None:
        self.obj = obj
        self.key = key

    def _refs(self, bound: frozenset, out: list[Ref]) -> None:
        self.obj._refs(bound, out)
        self.key._refs(bound, out)

    def _eval(self, ctx: _Ctx) -> Any:
        value, hidden_value = ctx.marked(self.obj)
        key, hidden_key = ctx.marked(self.key)
        return traverse(self, value, key, hidden_value or hidden_key)


SPLAT_ITEM = "\x00item"  # a for-local name no identifier can spell


class Splat(Expr):
    """``xs[*].name``: ``body`` is evaluated once per element with the element bound to SPLAT_ITEM."""

    __slots__ = ("obj", "body")

    def __init__(self, obj: Expr, body: Expr) -> None:
        self.obj = obj
        self.body = body

    def _refs(self, bound: frozenset, out: list[Ref]) -> None:
        self.obj._refs(bound, out)
        self.body._refs(bound | {SPLAT_ITEM}, out)

    def _eval(self, ctx: _Ctx) -> Any:
        value, sensitive = ctx.marked(self.obj)
        if value is UNKNOWN:
            return UNKNOWN
        if getattr(value, "__zplan_instances__", False):  # step.train[*]: every instance of a for_each block
            value = list(value.values())
        items = [] if value is None else value if isinstance(value, (list, tuple)) else [value]
        # one context for every element, its item rebound in turn (a sweep's gather splats
        # 20,000 instances): nothing keeps a context once the body's value is computed
        inner = ctx.with_locals({SPLAT_ITEM: None}, sensitive)
        bound, body = inner.locals, self.body
        out = []
        for item in items:
            bound[SPLAT_ITEM] = item
            out.append(body._eval(inner))
        return out


class Call(Expr):
    __slots__ = ("name", "args", "expand_last")

    def __init__(self, name: str, args: list[Expr], expand_last: bool) -> None:
        self.name, self.args, self.expand_last = name, args, expand_last

    def _refs(self, bound: frozenset, out: list[Ref]) -> None:
        for arg in self.args:
            arg._refs(bound, out)

    def _eval(self, ctx: _Ctx) -> Any:
        from zplan.config import functions  # on first use: most configurations call none, and plans stay fast

        func = functions.FUNCTIONS.get(self.name)
        if func is None:
            hint = did_you_mean(self.name, functions.FUNCTIONS)
            raise static_fail(f'unknown function "{self.name}"', f"{hint}available functions: {', '.join(sorted(functions.FUNCTIONS))}", self.range)
        if func.lazy:  # try() and can() evaluate their own arguments, catching errors
            return func.impl(self, ctx)
        evaluated = [ctx.marked(arg) for arg in self.args]
        args = [value for value, _ in evaluated]
        hidden = [arg for arg, (_, sensitive) in zip(self.args, evaluated) if sensitive]
        if self.expand_last and args:
            last = args.pop()
            if last is UNKNOWN:
                return UNKNOWN
            if not isinstance(last, (list, tuple)):
                raise self.args[-1]._fail(f"only a list can be expanded with ..., got {type_name(last)}")
            args.extend(last)
        try:
            site = functions.CallSite(self._src.filename, self.range, ctx.reads, bool(hidden), ctx.marks, ctx.folder) if func.site else None
            return func.call(args, site)
        except functions.FunctionError as exc:
            if hidden and exc.quotes_values:
                raise self._hidden_fail(func, hidden) from None
            raise self._fail(f"{self.name}(): {exc}", f"usage: {func.usage}; in {self.source()}") from None

    def _hidden_fail(self, func: Any, hidden: list[Expr]) -> DiagnosticError:
        """The error of a call with sensitive arguments: its own message could quote them."""
        names = ", ".join(arg.source() for arg in hidden)
        return self._fail(f"{self.name}(): cannot use {names} here {SENSITIVE_VALUE}",
                          f"the reason is left out, as it would show a sensitive value: check the value of {names}; "
                          f"usage: {func.usage}; in {self.source()}")
