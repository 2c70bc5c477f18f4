"""What a piece of step code uses from outside itself, read from its AST with Python's scope rules.

A module-level name counts as used only where Python would look it up in the
module: a parameter, a local assignment, a comprehension variable or a nested
function that shadows it is not a use. A use is a chain of names, so
``helpers.h(x)`` is ``("helpers", ("h",))`` and ``a.b.f()`` is ``("a", ("b", "f"))``;
its root is a module-level name, or the ``ImportRef`` of an import made inside
the function itself.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Iterator, Union


@dataclass(frozen=True)
class ImportRef:
    module: str  # dotted name as written; "" for `from . import x`
    attr: str | None  # `from module import attr`; None for `import module`
    level: int = 0  # leading dots of a relative import


Use = tuple[Union[str, ImportRef], tuple[str, ...]]
IMPORT_BY_NAME = "<import by name>"  # the root of a use of `importlib.import_module(name)` with a computed name
_IMPORTERS = frozenset({"import_module", "__import__"})  # `importlib.import_module`, its `from` import, the builtin

_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)
_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)


@dataclass
class ModuleBindings:
    """The names a module binds at its top level, and the statements that bind them."""

    defs: dict[str, list[ast.stmt]] = field(default_factory=dict)  # name -> statements that bind or mutate it
    imports: dict[str, list[ImportRef]] = field(default_factory=dict)  # name -> the module-level imports binding it (`if`/`else`: each)
    stars: list[ImportRef] = field(default_factory=list)  # `from m import *`
    effects: list[ast.stmt] = field(default_factory=list)  # module-level code that binds nothing (calls)

    @classmethod
    def of(cls, tree: ast.Module) -> "ModuleBindings":
        out = cls()
        for stmt in tree.body:
            out._add(stmt)
        return out

    def _add(self, stmt: ast.stmt) -> None:
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            self._add_import(stmt)
            return
        if _is_docstring(stmt) or is_main_guard(stmt):
            return
        names = _bound_names([stmt])
        for node in same_scope([stmt]):  # imports inside `if`/`try` at module level
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                self._add_import(node)
        if not names and (base := _mutated_name(stmt)) in self.defs:
            names = {base}  # `TABLE["x"] = 1` after `TABLE = {}`: part of what TABLE holds
        if not names:
            self.effects.append(stmt)
        for name in sorted(names):
            self.defs.setdefault(name, []).append(stmt)

    def _add_import(self, node: ast.Import | ast.ImportFrom) -> None:
        if isinstance(node, ast.ImportFrom) and any(a.name == "*" for a in node.names):
            self.stars.append(ImportRef(node.module or "", None, node.level))
        add_imports(self.imports, node)


def add_imports(imports: dict[str, list[ImportRef]], node: ast.Import | ast.ImportFrom) -> None:
    """Add what ``node`` binds: a name imported in both branches of an ``if`` or a ``try`` keeps both."""
    for name, ref in import_bindings(node).items():
        refs = imports.setdefault(name, [])
        if ref not in refs:
            refs.append(ref)


def import_bindings(node: ast.Import | ast.ImportFrom) -> dict[str, ImportRef]:
    """Local name -> what it names, for one import statement."""
    out: dict[str, ImportRef] = {}
    for alias in node.names:
        if isinstance(node, ast.ImportFrom):
            if alias.name != "*":
                out[alias.asname or alias.name] = ImportRef(node.module or "", alias.name, node.level)
        elif alias.asname:
            out[alias.asname] = ImportRef(alias.name, None)
        else:  # `import a.b.c` binds `a`; `a.b.c.f` is then followed through the chain
            top = alias.name.split(".")[0]
            out[top] = ImportRef(top, None)
    return out


def uses_of(stmt: ast.stmt) -> set[Use]:
    """Every module-level name (or in-function import) a top-level statement reads."""
    visitor = _Uses()
    visitor.visit_in(stmt, [_Scope("module")])
    return visitor.uses


def normalise(stmts: list[ast.stmt]) -> str:
    """Source without comments, docstrings or layout: what the code does, not how it looks."""
    tree = ast.parse("\n".join(ast.unparse(s) for s in stmts))
    for n in ast.walk(tree):
        if isinstance(n, (*_FUNCTIONS, ast.ClassDef, ast.Module)) and n.body and _is_docstring(n.body[0]):
            n.body = n.body[1:] or [ast.Pass()]
    return ast.unparse(tree)


# -- scopes -------------------------------------------------------------------------------------


@dataclass
class _Scope:
    kind: str  # module | function | class | comprehension
    bound: set[str] = field(default_factory=set)
    imports: dict[str, list[ImportRef]] = field(default_factory=dict)
    declared_global: set[str] = field(default_factory=set)


class _Uses:
    def __init__(self) -> None:
        self.uses: set[Use] = set()

    def visit_in(self, node: ast.AST, scopes: list[_Scope]) -> None:
        if isinstance(node, (*_FUNCTIONS, ast.Lambda)):
            self._function(node, scopes)
        elif isinstance(node, ast.ClassDef):
            for n in [*node.decorator_list, *node.bases, *node.keywords]:
                self.visit_in(n, scopes)
            inner = _scope_of("class", node.body)
            for stmt in node.body:
                self.visit_in(stmt, [*scopes, inner])
        elif isinstance(node, _COMPREHENSIONS):
            self._comprehension(node, scopes)
        elif isinstance(node, ast.Call) and _imported_by_name(node):
            self.uses.add(_imported_by_name(node))
            for child in ast.iter_child_nodes(node):
                self.visit_in(child, scopes)
        elif isinstance(node, ast.Attribute):
            self._chain(node, scopes)
        elif isinstance(node, ast.Name):
            if not isinstance(node.ctx, ast.Store):
                self._record(node.id, (), scopes)
        else:
            for child in ast.iter_child_nodes(node):
                self.visit_in(child, scopes)

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda, scopes: list[_Scope]) -> None:
        args = node.args
        outer: list[ast.AST] = [*args.defaults, *(d for d in args.kw_defaults if d is not None)]
        if not isinstance(node, ast.Lambda):
            outer += [*node.decorator_list, *(a.annotation for a in _all_args(args) if a.annotation)]
            outer += [node.returns] if node.returns else []
        for n in outer:
            self.visit_in(n, scopes)
        body = node.body if isinstance(node.body, list) else [node.body]
        inner = _scope_of("function", body)
        inner.bound |= {a.arg for a in _all_args(args)}
        for stmt in body:
            self.visit_in(stmt, [*scopes, inner])

    def _comprehension(self, node: ast.AST, scopes: list[_Scope]) -> None:
        generators: list[ast.comprehension] = node.generators  # type: ignore[attr-defined]
        self.visit_in(generators[0].iter, scopes)  # evaluated in the enclosing scope
        inner = _Scope("comprehension", {n.id for g in generators for n in ast.walk(g.target) if isinstance(n, ast.Name)})
        inside = [*scopes, inner]
        for i, g in enumerate(generators):
            for n in ([g.iter] if i else []) + g.ifs:
                self.visit_in(n, inside)
        for part in ("elt", "key", "value"):
            if (n := getattr(node, part, None)) is not None:
                self.visit_in(n, inside)

    def _chain(self, node: ast.Attribute, scopes: list[_Scope]) -> None:
        attrs: list[str] = []
        base: ast.AST = node
        while isinstance(base, ast.Attribute):
            attrs.append(base.attr)
            base = base.value
        if isinstance(base, ast.Name):
            self._record(base.id, tuple(reversed(attrs)), scopes)
        else:  # f().x, a[0].y: the base is an expression of its own
            self.visit_in(base, scopes)

    def _record(self, name: str, attrs: tuple[str, ...], scopes: list[_Scope]) -> None:
        innermost = scopes[-1]
        for scope in reversed(scopes):
            if scope.kind == "module" or name in scope.declared_global:
                break
            if scope.kind == "class" and scope is not innermost:
                continue  # methods do not see names bound in their class body
            if name in scope.bound:
                for ref in scope.imports.get(name, ()):
                    self.uses.add((ref, attrs))
                return
        self.uses.add((name, attrs))


def _imported_by_name(call: ast.Call) -> Use | None:
    """A module imported at run time by its name: the module, when the name is written out;
    any module at all (``IMPORT_BY_NAME``) when it is computed."""
    func = call.func
    name = func.attr if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "importlib" \
        else func.id if isinstance(func, ast.Name) else None
    if name not in _IMPORTERS or not call.args:
        return None
    first = call.args[0]
    if isinstance(first, ast.Constant) and isinstance(first.value, str):
        dotted = first.value
        return ImportRef(dotted.lstrip("."), None, len(dotted) - len(dotted.lstrip("."))), ()
    return IMPORT_BY_NAME, ()


def _scope_of(kind: str, body: list[ast.stmt]) -> _Scope:
    scope = _Scope(kind, _bound_names(body))
    for node in same_scope(body):
        if isinstance(node, ast.Global):
            scope.declared_global |= set(node.names)
        elif isinstance(node, ast.Nonlocal):  # bound in an enclosing function, not here
            scope.bound -= set(node.names)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            add_imports(scope.imports, node)
    scope.bound -= scope.declared_global
    return scope


def _bound_names(body: list[ast.stmt]) -> set[str]:
    names: set[str] = set()
    for node in same_scope(body):
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            names.add(node.id)
        elif isinstance(node, (*_FUNCTIONS, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names if a.name != "*"}
        elif isinstance(node, ast.ExceptHandler) and node.name:
            names.add(node.name)
        elif isinstance(node, (ast.MatchAs, ast.MatchStar)) and node.name:
            names.add(node.name)
        elif isinstance(node, ast.MatchMapping) and node.rest:
            names.add(node.rest)
    return names


def same_scope(nodes: list[ast.stmt]) -> Iterator[ast.AST]:
    """Nodes evaluated in the scope of ``nodes``: not inside nested functions, classes or comprehensions."""
    stack: list[ast.AST] = list(reversed(nodes))
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, (*_FUNCTIONS, ast.Lambda)):
            args = node.args
            children = [*args.defaults, *(d for d in args.kw_defaults if d is not None)]
            if not isinstance(node, ast.Lambda):
                children += node.decorator_list
        elif isinstance(node, ast.ClassDef):
            children = [*node.decorator_list, *node.bases, *node.keywords]
        elif isinstance(node, _COMPREHENSIONS):
            children = [node.generators[0].iter]  # type: ignore[attr-defined]
        else:
            children = list(ast.iter_child_nodes(node))
        stack.extend(reversed(children))


def _all_args(args: ast.arguments) -> list[ast.arg]:
    return [*args.posonlyargs, *args.args, *args.kwonlyargs, *filter(None, [args.vararg, args.kwarg])]


def _mutated_name(stmt: ast.stmt) -> str | None:
    """`TABLE["x"] = 1`, `TABLE.update(...)`, `REGISTRY.append(f)`: the module-level name they change."""
    if isinstance(stmt, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
        targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
        node: ast.AST = targets[0]
    elif isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
        node = stmt.value.func
        if isinstance(node, ast.Name):
            return None  # a bare call: module-level code with effects of its own
    else:
        return None
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _is_docstring(stmt: ast.stmt) -> bool:
    return isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant) and isinstance(stmt.value.value, str)


def is_main_guard(stmt: ast.stmt) -> bool:
    """`if __name__ == "__main__":` runs only as a script, never when a step imports the module."""
    test = getattr(stmt, "test", None)
    return (
        isinstance(stmt, ast.If)
        and isinstance(test, ast.Compare)
        and isinstance(test.left, ast.Name)
        and test.left.id == "__name__"
        and any(isinstance(c, ast.Constant) and c.value == "__main__" for c in test.comparators)
    )
