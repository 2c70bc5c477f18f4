"""The HCL type of a ZenML parameter, read from its Python annotation for `zplan import-zenml`.

ZenML checks a pipeline's or a step's parameters against their annotations when
the pipeline starts; a typed ``variable`` gives the same check to a plan: ``-var
n=abc`` for ``n: int`` is an error at the variable's line, not a failed step. An
``int`` is a ``number`` (HCL has no integer type) whose validation asks for a whole
one. What HCL cannot say (a class, a union of types) stays ``any``.

ZenML also makes floats of the whole numbers given to a ``float`` parameter (or a
list or mapping of floats): a literal, or a variable's value, is written as floats there.
"""

from __future__ import annotations

import ast

from zplan.config.types import ANY, BOOL, NUMBER, STRING, Collection, TupleType, Type

_PRIMITIVES = {"int": NUMBER, "float": NUMBER, "str": STRING, "bool": BOOL}
_COLLECTIONS = {"list": "list", "List": "list", "Sequence": "list", "tuple": "list", "Tuple": "list",
                "set": "set", "Set": "set", "frozenset": "set", "FrozenSet": "set",
                "dict": "map", "Dict": "map", "Mapping": "map"}


def hcl_type(annotation: ast.expr | None) -> Type:
    """The HCL type constraint of ``annotation``; ``any`` without one, or for one HCL has no type for."""
    node = core(annotation)
    name = _name(node.value if isinstance(node, ast.Subscript) else node) if node is not None else None
    if not isinstance(node, ast.Subscript):
        return _PRIMITIVES.get(name) or (Collection(_COLLECTIONS[name], ANY) if name in _COLLECTIONS else ANY)
    args = _args(node)
    if name == "Literal":
        return _literal(args)
    kind = _COLLECTIONS.get(name)
    if kind == "map":
        key = core(args[0]) if len(args) == 2 else None
        return Collection("map", hcl_type(args[1])) if _name(key) == "str" else ANY  # HCL map keys are strings
    if kind == "list" and name in ("tuple", "Tuple") and args and not _is_ellipsis(args[-1]):
        return TupleType(tuple(hcl_type(a) for a in args))  # Tuple[int, str]: one type per position
    return Collection(kind, hcl_type(args[0])) if kind and args else ANY


def is_int(annotation: ast.expr | None) -> bool:
    """Whether the annotation is ``int`` (or an Optional, Annotated, quoted ``int``): a whole number."""
    return _name(core(annotation)) == "int"


def is_float(annotation: ast.expr | None) -> bool:
    """Whether the annotation is ``float`` (or an Optional, Annotated, quoted ``float``)."""
    return _name(core(annotation)) == "float"


def floats(annotation: ast.expr | None) -> str | None:
    """Where ZenML makes floats of the numbers a parameter is given: "value" for ``float``, "list" for a list of
    floats (``list[float]``, ``Tuple[float, ...]``), "map" for ``dict[str, float]``; None for any other."""
    if is_float(annotation):
        return "value"
    node = core(annotation)
    if not isinstance(node, ast.Subscript):
        return None
    kind, args = _COLLECTIONS.get(_name(node.value)), _args(node)
    if kind == "list" and args and is_float(args[0]) and (len(args) == 1 or len(args) == 2 and _is_ellipsis(args[1])):
        return "list"
    return "map" if kind == "map" and len(args) == 2 and is_float(args[1]) else None


def core(annotation: ast.expr | None) -> ast.expr | None:
    """The annotation without what says nothing of the type: quotes, ``Annotated[T, ...]``, ``Optional[T]``,
    ``Union[T, None]``, ``T | None`` (a null is every variable's value when it is left unset)."""
    node = annotation
    for _ in range(16):  # nested wrappers, e.g. Optional[Annotated["int", ...]]
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            try:
                node = ast.parse(node.value, mode="eval").body
            except SyntaxError:
                return None
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
            node = _one([node.left, node.right])
        elif isinstance(node, ast.Subscript) and _name(node.value) in ("Annotated", "Optional", "Union"):
            args = _args(node)
            node = args[0] if _name(node.value) != "Union" else _one(args)
        else:
            return node
    return None


def _one(options: list[ast.expr]) -> ast.expr | None:
    """The one type of a union besides None; None when there are several."""
    kept = [o for o in options if not (isinstance(o, ast.Constant) and o.value is None or _name(o) in ("None", "NoneType"))]
    return kept[0] if len(kept) == 1 else None


def _literal(values: list[ast.expr]) -> Type:
    """``Literal["a", "b"]`` is a string, ``Literal[1, 2]`` a number: the type all its values share."""
    kinds = {type(v.value) for v in values if isinstance(v, ast.Constant)}
    if len(kinds) != 1 or len(values) != sum(isinstance(v, ast.Constant) for v in values):
        return ANY
    return {str: STRING, int: NUMBER, float: NUMBER, bool: BOOL}.get(kinds.pop(), ANY)


def _args(node: ast.Subscript) -> list[ast.expr]:
    return list(node.slice.elts) if isinstance(node.slice, ast.Tuple) else [node.slice]


def _is_ellipsis(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and node.value is Ellipsis


def _name(node: ast.expr | None) -> str | None:
    """``int``, ``typing.List`` -> ``List``: the name an annotation is written with, without its module."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _with_floats(value: object, kind: str | None) -> object:
    """``value`` with the numbers ``kind`` (of ``floats()``) names as floats (never a bool)."""
    if kind == "value":
        return float(value) if isinstance(value, int) and not isinstance(value, bool) else value
    if kind == "list" and isinstance(value, (list, tuple)):
        return [_with_floats(v, "value") for v in value]
    if kind == "map" and isinstance(value, dict):
        return {k: _with_floats(v, "value") for k, v in value.items()}
    return value


def _as_float(ref: str, kind: str, nullable: bool) -> str:
    """A number variable given to a ``float`` parameter (``kind`` "value"), or a list or map of them, as floats:
    ZenML converts `-var lr=2` (an HCL number, kept whole) to 2.0 when it checks the parameter's annotation."""
    floated = {"value": f"{ref} * 1.0",  # exact: a whole number times 1.0 is that number as a float
               "list": f"[for v in {ref} : v * 1.0]", "map": f"{{ for k, v in {ref} : k => v * 1.0 }}"}[kind]
    return f"{ref} == null ? null : {floated}" if nullable else floated
