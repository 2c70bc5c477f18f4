"""What a step function declares about itself, read from its source without importing it: the
names of its outputs (``@step(outputs=...)``, a NamedTuple, ZenML's ``Annotated`` names) and
whether they are sensitive (``@step(sensitive_outputs=...)``)."""

from __future__ import annotations

import ast

from zplan.plan.signatures import callee_name


def declared_outputs(defs: dict, fn: ast.FunctionDef | ast.AsyncFunctionDef) -> list[str] | None:
    """Output names from ``@step(outputs=[...])`` / ``outputs={...}`` or a NamedTuple return type
    (``defs``: the module's definitions by name, where the NamedTuple is looked up)."""
    for deco in fn.decorator_list:
        if isinstance(deco, ast.Call) and callee_name(deco.func) == "step":
            for kw in deco.keywords:
                if kw.arg == "outputs":
                    try:
                        value = ast.literal_eval(kw.value)
                    except ValueError:
                        return None
                    if isinstance(value, str):
                        return [value]
                    return list(value)
    ann = fn.returns
    if isinstance(ann, ast.Constant) and isinstance(ann.value, str):  # a quoted annotation
        try:
            ann = ast.parse(ann.value, mode="eval").body
        except SyntaxError:
            return None
    if isinstance(ann, ast.Name):
        cls = defs.get(ann.id, [None])[-1]
        if isinstance(cls, ast.ClassDef) and any(callee_name(b) == "NamedTuple" for b in cls.bases):
            return [s.target.id for s in cls.body if isinstance(s, ast.AnnAssign) and isinstance(s.target, ast.Name)]
    return _annotated_outputs(ann, fn)


def _annotated_outputs(ann: ast.expr | None, fn: ast.FunctionDef | ast.AsyncFunctionDef) -> list[str] | None:
    """ZenML's way: ``Annotated[T, "name"]`` names one output, ``Tuple[Annotated[...], ...]`` several; in a
    ``Tuple[...]`` of a function returning a tuple (``return a, b``), an element without a name is ``output_N``."""
    if not isinstance(ann, ast.Subscript):
        return None
    kind = callee_name(ann.value)
    if kind == "Annotated":
        return [name] if (name := _annotated_name(ann)) else None
    if kind in ("Tuple", "tuple") and isinstance(ann.slice, ast.Tuple):
        names = [_annotated_name(e) if isinstance(e, ast.Subscript) and callee_name(e.value) == "Annotated" else None for e in ann.slice.elts]
        if names and all(names):
            return names
        elements = ann.slice.elts
        if len(elements) > 1 and not (isinstance(elements[-1], ast.Constant) and elements[-1].value is Ellipsis) and _returns_tuple(fn):
            named = [name or f"output_{i}" for i, name in enumerate(names)]
            return named if len(set(named)) == len(named) else None
    return None


def _returns_tuple(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """Whether ``fn`` itself (not a function nested in it) has a ``return a, b``: ZenML's test for several outputs."""
    nodes = list(fn.body)
    while nodes:
        node = nodes.pop()
        if isinstance(node, ast.Return) and isinstance(node.value, ast.Tuple) and len(node.value.elts) > 1:
            return True
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            nodes.extend(ast.iter_child_nodes(node))
    return False


def _annotated_name(ann: ast.Subscript) -> str | None:
    """The output name among an ``Annotated`` subscript's metadata: its first string, or ZenML's
    ``ArtifactConfig(name="...")``."""
    extras = ann.slice.elts[1:] if isinstance(ann.slice, ast.Tuple) else []
    for extra in extras:
        if isinstance(extra, ast.Call) and callee_name(extra.func) == "ArtifactConfig":
            extra = next((kw.value for kw in extra.keywords if kw.arg == "name"), None)
        if isinstance(extra, ast.Constant) and isinstance(extra.value, str) and extra.value.isidentifier():
            return extra.value
    return None


def declared_sensitivity(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> bool | None:
    """``@step(sensitive_outputs=True|False)``, read without importing the module."""
    for deco in fn.decorator_list:
        if isinstance(deco, ast.Call) and callee_name(deco.func) == "step":
            for kw in deco.keywords:
                if kw.arg == "sensitive_outputs" and isinstance(kw.value, ast.Constant) and isinstance(kw.value.value, bool):
                    return kw.value.value
    return None
