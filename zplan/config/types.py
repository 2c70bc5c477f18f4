"""Type constraints of variables, as Terraform writes them: ``list(string)``, ``object({...})``, ...

A constraint is read from the expression the parser built for ``type = ...``
(``list(string)`` is a call, ``string`` a bare reference), never evaluated.
The old bare ``list`` and ``map`` mean ``list(any)`` and ``map(any)``, as in
Terraform; a quoted ``"string"`` is accepted too. ``convert`` gives values
these types.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from zplan import diags
from zplan.config.expr import Call, Expr, Literal, ObjectExpr, RefExpr, TupleExpr


class Type:
    """A type constraint; ``str()`` writes it back the way it is written in HCL."""


@dataclass(frozen=True)
class Primitive(Type):
    """``string``, ``number`` or ``bool``."""

    name: str  # string | number | bool

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class AnyType(Type):
    """``any``: every value is accepted as it is."""

    def __str__(self) -> str:
        return "any"


@dataclass(frozen=True)
class Collection(Type):
    """``list(T)``, ``set(T)`` or ``map(T)``."""

    kind: str  # list | set | map
    element: Type

    def __str__(self) -> str:
        return f"{self.kind}({self.element})"


@dataclass(frozen=True)
class TupleType(Type):
    """``tuple([T, ...])``."""

    elements: tuple[Type, ...]

    def __str__(self) -> str:
        return f"tuple([{', '.join(str(e) for e in self.elements)}])"


@dataclass(frozen=True)
class Attribute:
    """One attribute of an ``object({...})`` type, optional or not."""

    type: Type
    optional: bool = False
    default: Any = None  # for an optional attribute left out (None: null)

    def __str__(self) -> str:
        if not self.optional:
            return str(self.type)
        return f"optional({self.type})" if self.default is None else f"optional({self.type}, {_show(self.default)})"


@dataclass(frozen=True)
class ObjectType(Type):
    """``object({ name = T, ... })``."""

    attributes: tuple[tuple[str, Attribute], ...]  # in declaration order

    def __str__(self) -> str:
        return "object({ " + ", ".join(f"{name} = {attr}" for name, attr in self.attributes) + " })" if self.attributes else "object({})"


def attribute_names(type_: Type) -> set[str]:
    """The attribute names every ``object({...})`` inside ``type_`` declares: written in the
    configuration, so no secret, where a map's keys are data."""
    if isinstance(type_, ObjectType):
        return {name for name, _ in type_.attributes}.union(*(attribute_names(a.type) for _, a in type_.attributes))
    if isinstance(type_, Collection):
        return attribute_names(type_.element)
    if isinstance(type_, TupleType):
        return set().union(*(attribute_names(t) for t in type_.elements))
    return set()


STRING, NUMBER, BOOL, ANY = Primitive("string"), Primitive("number"), Primitive("bool"), AnyType()
# the bare names; also the attribute types a provider schema declares (zplan.provider.TYPES)
KEYWORDS: dict[str, Type] = {"string": STRING, "number": NUMBER, "bool": BOOL, "any": ANY,
                             "list": Collection("list", ANY), "map": Collection("map", ANY)}
USAGE = "string, number, bool, any, list(T), set(T), map(T), tuple([T, ...]) or object({ name = T, other = optional(T, default) })"


def parse_type(expr: Expr) -> Type:
    """The type constraint ``expr`` spells; a mistake is a diagnostic at its line."""
    if isinstance(expr, RefExpr) and len(expr.ref.parts) == 1 and expr.ref.parts[0] in KEYWORDS:
        return KEYWORDS[str(expr.ref.parts[0])]
    if isinstance(expr, Literal) and isinstance(expr.value, str):
        # the quoted form of Terraform 0.11 (type = "string"), refused as Terraform refuses it now
        if expr.value in KEYWORDS:
            raise _bad(expr, f"{expr.source()} is in quotes", f"remove the quotes: {expr.value}")
        raise _bad(expr, f"{expr.source()} is not a type", f"a type is written without quotes, as {USAGE}")
    if isinstance(expr, Call) and not expr.expand_last:
        return _constructor(expr)
    raise _bad(expr, f'"{expr.source()}" is not a type')


def _constructor(call: Call) -> Type:
    name, args = call.name, call.args
    if name in ("list", "set", "map"):
        _arity(call, 1)
        return Collection(name, parse_type(args[0]))
    if name == "tuple":
        _arity(call, 1)
        if not isinstance(args[0], TupleExpr):
            raise _bad(args[0], "tuple() takes a list of element types", "e.g. tuple([string, number])")
        return TupleType(tuple(parse_type(item) for item in args[0].items))
    if name == "object":
        _arity(call, 1)
        return _object(args[0])
    if name == "optional":
        raise _bad(call, "optional() is allowed only for an attribute inside object({ ... })")
    raise _bad(call, f'unknown type constructor "{name}"')


def _object(expr: Expr) -> ObjectType:
    if not isinstance(expr, ObjectExpr):
        raise _bad(expr, "object() takes the attribute types in braces", "e.g. object({ name = string, size = optional(number, 1) })")
    attributes: dict[str, Attribute] = {}
    for key, value in expr.items:
        name = key if isinstance(key, str) else key.static_value() if isinstance(key, Literal) else None
        if not isinstance(name, str):
            raise _bad(value, "an object type's attribute names must be plain names")
        attributes[name] = _attribute(value)
    return ObjectType(tuple(attributes.items()))


def _attribute(expr: Expr) -> Attribute:
    if not (isinstance(expr, Call) and expr.name == "optional"):
        return Attribute(parse_type(expr))
    if not 1 <= len(expr.args) <= 2:
        raise _bad(expr, "optional() takes a type and, optionally, a default value", "e.g. optional(number, 3)")
    type_ = parse_type(expr.args[0])
    if len(expr.args) == 1:
        return Attribute(type_, optional=True)
    from zplan.config.convert import ConversionError, convert  # convert builds on these types

    default = expr.args[1].static_value()
    try:
        default = convert(default, type_, "default")
    except ConversionError as exc:
        raise _bad(expr.args[1], f"the default does not fit the type {type_}: {exc}") from None
    return Attribute(type_, optional=True, default=default)


def _arity(call: Call, count: int) -> None:
    if len(call.args) != count:
        raise _bad(call, f"{call.name}() takes {count} argument, got {len(call.args)}")


def _bad(expr: Expr, summary: str, detail: str = "") -> diags.DiagnosticError:
    return diags.fail(f"invalid type: {summary}", detail or f"write a type as {USAGE}", expr.range)


def _show(value: Any) -> str:
    import json

    return json.dumps(value, sort_keys=True)
