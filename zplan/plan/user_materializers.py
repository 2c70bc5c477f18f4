"""The class and version of a materializer registered in the project's own code, read statically.

A plan never imports step code, so a materializer registered there (``@zplan.materializer``)
is not in the planning process's registry. Its class and version are read from the source of the
module an output record names (``materializer_module``), as ``materializer()`` would register it,
so bumping the version reruns the steps whose outputs it wrote, as a built-in's new version does,
and the class's code is fingerprinted as step code is (``zplan.plan.loaders``).
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Callable, Iterable, Iterator

from zplan.plan.code_hash import WHOLE_MODULE, CodeError


def declared_version(project_dir: Path, module: str, name: str) -> str | None:
    """The version ``module`` registers materializer ``name`` with; None when it cannot be read."""
    found = registration(module_file(project_dir, module), module, name)
    return found[1] if found is not None else None


def registration(path: Path | None, module: str, name: str) -> tuple[str, str | None] | None:
    """The class ``module`` (its source file ``path``) registers materializer ``name`` on, and the
    version it declares (None when not a literal); None when no class there can be seen to register it."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8")) if path is not None else None
    except (OSError, SyntaxError, ValueError):
        return None
    if tree is None:
        return None
    classes, found = module_classes(tree), None
    for node, label, deco in _registrations(tree.body, classes, _decorator_names(tree)):  # (top-level: the class is fingerprinted as a top-level definition)
        if registered_name(module, node, deco, classes) == name:  # (the last one: registering a name again replaces it)
            found = label if label.isidentifier() else WHOLE_MODULE, _version(node, deco, classes)
    return found


def registered_in(tree: ast.Module, module: str, rel: str, deciding: Callable[[ast.ClassDef | None], str],
                  body: list[ast.stmt] | None = None) -> tuple[dict[str, str], list[tuple[str, set[str], str]]]:
    """The materializers a module (``module`` by dotted name, ``rel`` its file) registers at import (those a
    function of it registers: ``body``, that function's): name -> "TYPE in FILE" and what ``deciding`` says of the
    class's can_save (``DECIDES``: ``zplan.plan.registration_reach``), a name that is computed given by the class;
    and where each is: (name, the class names of its types, ``FILE:LINE``), for ``ambiguity``."""
    classes = module_classes(tree)
    found, sites = {}, []
    for cls, label, deco in _registrations(_module_level(tree.body if body is None else body), classes, _decorator_names(tree)):
        name = registered_name(module, cls, deco, classes) or f"{module}.{label} (name computed)"
        types = ast.unparse(deco.args[0]) if deco.args else "a type its can_save takes"
        found[name] = f"{types} in {rel}{deciding(cls)}"
        sites.append((name, _type_names(deco), f"{rel}:{deco.lineno}"))
    return found, sites


def _type_names(deco: ast.Call) -> set[str]:
    """``list`` for ``materializer(list)``, ``DataFrame`` for ``(pd.DataFrame, np.ndarray)``'s first...: the classes'
    own names (a library re-exports its classes elsewhere); none for a registration by name, which its can_save decides."""
    given = deco.args[0] if deco.args else None
    nodes = given.elts if isinstance(given, ast.Tuple) else [given] if given is not None else []
    return {n.id if isinstance(n, ast.Name) else n.attr for n in nodes if isinstance(n, (ast.Name, ast.Attribute))}


def ambiguity(sites: list[tuple[str, set[str], str]]) -> CodeError | None:
    """Two modules a step imports registering one name, or for one type: the one imported last would store its outputs,
    so the order of its imports would choose, which no key follows (a sorter of imports may swap them). Refused."""
    for i, (name, types, where) in enumerate(sites):
        for other, other_types, other_where in sites[:i]:
            if where.rpartition(":")[0] == other_where.rpartition(":")[0]:
                continue  # one module: the same registration each time it is imported
            if name == other:
                return CodeError(f"materializer {name} is registered twice, at {other_where} and {where}, and the step's code imports both: "
                                 "the one imported last would replace the other", "give each its own name, or keep one of them")
            shared = sorted(types & other_types)
            if shared:
                return CodeError(f"materializers {other} ({other_where}) and {name} ({where}) are both registered for {shared[0]}, "
                                 "and the step's code imports both: the one imported last would store its outputs, so the order "
                                 "of its imports would decide", f"keep one materializer for {shared[0]} among the modules the step "
                                 "imports (one whose save handles both cases), or register the other for a narrower type")
    return None


DECIDES = " (can_save "  # after "TYPE in FILE": the digest of the class's can_save, which has its say on what it stores


def _module_level(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """The statements a module runs as it is imported, those under an ``if``, ``try`` or ``with`` included
    (``if torch is not None:`` around a class registering a materializer for its tensors)."""
    for stmt in body:
        yield stmt
        for block in ("body", "orelse", "finalbody") if isinstance(stmt, _BLOCKS) else ():
            yield from _module_level(getattr(stmt, block, []))
        for handler in getattr(stmt, "handlers", []) if isinstance(stmt, _BLOCKS) else ():
            yield from _module_level(handler.body)


_BLOCKS = tuple(getattr(ast, name) for name in ("If", "Try", "TryStar", "With") if hasattr(ast, name))


def _registrations(stmts: Iterable[ast.stmt], classes: dict[str, ast.ClassDef], names: set[str]) -> Iterator[tuple[ast.ClassDef | None, str, ast.Call]]:
    """(class, what the module calls it, its ``materializer(...)`` call) for each class of ``stmts`` the module registers
    as it runs: decorated, or given to the decorator afterwards (``zplan.materializer(list)(Lines)``, the same
    registration), then maybe imported (the class None: its own attributes cannot be read here); ``names``: what
    the module calls the decorator (``_decorator_names``)."""
    for stmt in stmts:
        if isinstance(stmt, ast.ClassDef):
            yield from ((stmt, stmt.name, deco) for deco in stmt.decorator_list if isinstance(deco, ast.Call) and _is_decorator(deco.func, names))
        call = stmt.value if isinstance(stmt, (ast.Expr, ast.Assign)) else None
        if (isinstance(call, ast.Call) and isinstance(call.func, ast.Call) and _is_decorator(call.func.func, names)
                and len(call.args) == 1 and isinstance(call.args[0], (ast.Name, ast.Attribute))):
            given = call.args[0]
            yield classes.get(given.id) if isinstance(given, ast.Name) else None, ast.unparse(given), call.func


_DECORATOR_MODULES = ("zplan", "zplan.artifacts", "zplan.artifacts.materializers")  # where ``materializer`` is imported from


def _decorator_names(tree: ast.Module) -> set[str]:
    """The names a module calls ``materializer`` by: its own, one it is imported as
    (``from zplan import materializer as register``) or assigned to (``register = zplan.materializer``)."""
    names = {"materializer"}
    for stmt in _module_level(tree.body):
        if isinstance(stmt, ast.ImportFrom) and not stmt.level and stmt.module in _DECORATOR_MODULES:
            names.update(alias.asname for alias in stmt.names if alias.name == "materializer" and alias.asname)
        elif isinstance(stmt, ast.Assign) and isinstance(stmt.value, (ast.Name, ast.Attribute)) and _is_decorator(stmt.value, names):
            names.update(target.id for target in stmt.targets if isinstance(target, ast.Name))
    return names


def _is_decorator(node: ast.expr, names: set[str]) -> bool:
    """``materializer`` (by a name of ``names``) or ``zplan.materializer`` (by any name of the module: ``z.materializer``)."""
    return isinstance(node, ast.Name) and node.id in names or isinstance(node, ast.Attribute) and node.attr == "materializer"


def module_classes(tree: ast.Module) -> dict[str, ast.ClassDef]:
    """The classes a module defines at its top level, by name (the last definition of a name wins, as when it runs)."""
    return {node.name: node for node in tree.body if isinstance(node, ast.ClassDef)}


def module_file(project_dir: Path, module: str) -> Path | None:
    """The project's file of ``module``; None when the module is not the project's."""
    base = project_dir.joinpath(*module.split("."))
    return next((p for p in (base.with_suffix(".py"), base / "__init__.py") if p.is_file()), None)


_UNREAD = object()  # written, but not as a literal: the version cannot be told without running the code


def registered_name(module: str, cls: ast.ClassDef | None, deco: ast.Call, classes: dict[str, ast.ClassDef] | None = None) -> str | None:
    """The name ``materializer()`` registers the class under: its ``name=``, the string it is
    given instead of a type, the class's ``name`` (``classes``: the module's, its bases among them), else its qualified name
    (None when not known here: computed, or the attribute of a class from elsewhere)."""
    given = _keyword(deco, "name")
    if given is None and deco.args and isinstance(deco.args[0], ast.Constant) and isinstance(deco.args[0].value, str):
        given = deco.args[0].value
    if given is None:
        given = _attribute(cls, "name", classes or {}) if cls is not None else _UNREAD
    if given is _UNREAD:
        return None
    return str(given) if given else f"{module}.{cls.name}"


def _version(cls: ast.ClassDef | None, deco: ast.Call, classes: dict[str, ast.ClassDef]) -> str | None:
    value = _keyword(deco, "version")
    if value is None:
        value = _attribute(cls, "version", classes) if cls is not None else _UNREAD
    return None if value is _UNREAD else str(value or "1")


def _keyword(call: ast.Call, name: str):
    """The literal value of keyword ``name`` (``_UNREAD`` when not a literal; None when absent)."""
    return next((_literal(kw.value) for kw in call.keywords if kw.arg == name), None)


def _attribute(cls: ast.ClassDef, name: str, classes: dict[str, ast.ClassDef], seen: frozenset[str] = frozenset()):
    """The literal value of the class attribute ``name`` (``_UNREAD``, None as ``_keyword``), inherited
    from a base of the same module (``classes``) too; ``_UNREAD`` when a base from elsewhere may set it."""
    for stmt in cls.body:
        targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target] if isinstance(stmt, ast.AnnAssign) else []
        if any(isinstance(t, ast.Name) and t.id == name for t in targets) and stmt.value is not None:
            return _literal(stmt.value)
    for base in cls.bases:
        if isinstance(base, ast.Name) and base.id == "object":
            continue
        if not (isinstance(base, ast.Name) and base.id in classes) or base.id in seen:
            return _UNREAD  # its value is known only by running the code
        value = _attribute(classes[base.id], name, classes, seen | {cls.name})
        if value is not None:
            return value
    return None


def _literal(node: ast.expr):
    try:
        value = ast.literal_eval(node)
    except ValueError:
        return _UNREAD
    return value if isinstance(value, (str, int, float)) else _UNREAD
