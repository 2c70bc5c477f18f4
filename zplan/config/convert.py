"""Giving a value a type, as Terraform converts variable values.

A number written as text (``-var n=3``) becomes a number, a number or bool
becomes text where a string is wanted, an object gets its optional
attributes' defaults and loses the attributes its type does not name, a set
loses its duplicates. A value that cannot be converted raises
``ConversionError`` naming the path inside the value (``var.cfg.layers[1]``).
Null, unknown and symbolic values pass through untouched.
"""

from __future__ import annotations

import copy
from typing import Any

from zplan import diags
from zplan.config.expr import IDENTIFIER
from zplan.config.types import AnyType, Collection, ObjectType, Primitive, TupleType, Type
from zplan.config.values import UNKNOWN, SetValue, article, equal, is_number, is_symbolic, to_text, type_name


class ConversionError(Exception):
    """A value that does not fit its type: where inside the value, and what was required."""

    def __init__(self, path: str, message: str, got: str = "") -> None:
        super().__init__(f"{path}: {message}" + (f", got {got}" if got else ""))
        self.path = path
        self.message = message
        self.got = got  # the offending value, briefly (left out for sensitive values)


def convert(value: Any, type_: Type, path: str) -> Any:
    """``value`` converted to ``type_``; ``path`` names the value in messages (``var.cfg``)."""
    if value is None or value is UNKNOWN or is_symbolic(value) or isinstance(type_, AnyType):
        return value
    if isinstance(type_, Primitive):
        return _PRIMITIVES[type_.name](value, path)
    if isinstance(type_, Collection):
        return _collection(value, type_, path)
    if isinstance(type_, TupleType):
        items = _items(value, path, f"a tuple of {len(type_.elements)} elements")
        if len(items) != len(type_.elements):
            raise ConversionError(path, f"a tuple of {len(type_.elements)} elements is required, got {len(items)}")
        return [convert(item, t, f"{path}[{i}]") for i, (item, t) in enumerate(zip(items, type_.elements))]
    if isinstance(type_, ObjectType):
        return _object(value, type_, path)
    raise TypeError(f"unknown type {type_!r}")


def problem_text(exc: ConversionError, value: Any, type_: Type, sensitive: bool) -> str:
    """What ``exc`` says about ``value``: for a sensitive one, neither the value nor a map key on
    the way to it (``var.m["(sensitive)"]``), where an object's attribute names, from its type, stay."""
    if not sensitive:
        return str(exc)
    from zplan.config.types import attribute_names
    from zplan.secrets import redact, secret_forms

    return f"{redact(exc.path, secret_forms([value], attribute_names(type_)))}: {exc.message}"


def module_input(var: Any, value: Any, module: str, where: Any) -> Any:
    """A module input converted to its variable's type, as Terraform does (``"3"`` to a number,
    an object's optional attributes filled in); a value that does not fit is an error at ``where``."""
    try:
        return convert(value, var.type, f"{module}.var.{var.name}")
    except ConversionError as exc:
        problem = problem_text(exc, value, var.type, var.sensitive)
        raise diags.fail(f'invalid value for module input "{var.name}": {problem}', f'the module\'s variable "{var.name}" has type {var.type}', where) from None


def _string(value: Any, path: str) -> str:
    text = to_text(value)
    if text is None:
        raise _required(path, "a string", value)
    return str(text)  # a plain str, whatever str subclass came in


def _number(value: Any, path: str) -> int | float:
    if is_number(value):
        return whole(value)
    if isinstance(value, str):
        from zplan.config.function_args import parse_number

        number = parse_number(value)
        if number is not None:
            return whole(number)
    raise _required(path, "a number", value)


# Floats up to this size are whole numbers exactly as ints (beyond it a float skips integers).
_EXACT = 2**53


def whole(number: int | float) -> int | float:
    """A number as one spelling: a whole float as the int (``2.0`` as ``2``).

    Terraform has one number type, where 2 and 2.0 are the same value; a step, in Python, could
    compute something else from an int than from a float. So a typed number becomes one of the
    two before it is keyed and before a step receives it: ``-var lr=2`` and ``-var lr=2.0`` plan
    alike and the step gets 2 both times."""
    if isinstance(number, float) and number.is_integer() and -_EXACT <= number <= _EXACT:
        return int(number)
    return number


def _bool(value: Any, path: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value in ("true", "false", "1", "0"):  # the text Terraform reads, as tobool()
        return value in ("true", "1")
    if isinstance(value, str) and value.lower() in ("true", "false"):  # (in the part of the message a secret's leaves out)
        raise ConversionError(path, "a bool is required", f'{_describe(value)}; to convert from text, use lowercase "{value.lower()}"')
    raise _required(path, "a bool", value)


_PRIMITIVES = {"string": _string, "number": _number, "bool": _bool}


def _collection(value: Any, type_: Collection, path: str) -> Any:
    if type_.kind == "map":
        if not isinstance(value, dict):
            raise _required(path, "a map", value)
        return {key: convert(item, type_.element, f"{path}{step(key)}") for key, item in value.items()}
    items = _items(value, path, article(type_.kind))
    converted = [convert(item, type_.element, f"{path}[{i}]") for i, item in enumerate(items)]
    return to_set(converted, path) if type_.kind == "set" else converted


def _object(value: Any, type_: ObjectType, path: str) -> dict:
    if not isinstance(value, dict):
        raise _required(path, "an object", value)
    result: dict[str, Any] = {}
    for name, attr in type_.attributes:
        given = value.get(name)
        if given is None and attr.optional:
            result[name] = copy.deepcopy(attr.default)  # (converted to its type when the type was read)
        elif name not in value:
            raise ConversionError(path, f'attribute "{name}" is required')
        else:
            result[name] = convert(given, attr.type, f"{path}{step(name)}")
    return result


def _items(value: Any, path: str, wanted: str) -> list:
    if not isinstance(value, (list, tuple)):
        raise _required(path, wanted, value)
    return list(value)


def _required(path: str, wanted: str, value: Any) -> ConversionError:
    return ConversionError(path, f"{wanted} is required", _describe(value))


def _describe(value: Any) -> str:
    if isinstance(value, str):
        return f'"{value}"' if len(value) <= 40 else f'"{value[:37]}..."'
    return type_name(value) if not (is_number(value) or isinstance(value, bool)) else f"{type_name(value)} {to_text(value)}"


def step(key: Any) -> str:
    """One step of a path: ``.name`` for a plain name, ``["key"]`` otherwise."""
    return f".{key}" if isinstance(key, str) and IDENTIFIER.fullmatch(key) else f'["{key}"]'


# -- sets and maps of one element type --------------------------------------------------------


def to_set(items: list, path: str = "") -> SetValue:
    """``items`` without duplicates; primitives of mixed types become text, as Terraform
    unifies them; strings sort as text and numbers by value (other elements keep their order).
    ``path`` names the set in an error (``var.tags``)."""
    items = unify(items, path)
    kept: list = []
    for item in items:
        if not any(equal(item, k) for k in kept):
            kept.append(item)
    if kept and all(isinstance(k, str) for k in kept):
        kept.sort()
    elif kept and all(is_number(k) for k in kept):
        kept.sort()
    elif kept and all(isinstance(k, bool) for k in kept):
        kept.sort()
    return SetValue(kept)


def unify(items: list, path: str = "") -> list:
    """Elements of one type: text when strings, numbers and bools are mixed; an error (about ``path``)
    when primitives and collections are mixed."""
    kinds = {_kind(item) for item in items if item is not None}
    if len(kinds) <= 1:
        return list(items)
    if kinds <= {"string", "number", "bool"}:
        return [None if item is None else to_text(item) for item in items]
    raise ConversionError(path, f"all elements must have the same type, got {', '.join(sorted(kinds))}")


def _kind(value: Any) -> str:
    name = type_name(value)
    return "list" if name == "set" else name
