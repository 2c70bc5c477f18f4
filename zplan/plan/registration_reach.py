"""What a module a step imports registers as materializers, followed past that module (``zplan.plan.code_reach``):
a function of another module its top-level code calls to register them (``common.register_all()``), and the
``can_save`` deciding what a class stores, inherited from a base of another module or calling helpers there.

Only names written out are followed (a function or class a module defines or imports by name, or an attribute of a
module it imports: ``common.register_all``); what is computed at run time is not.
"""

from __future__ import annotations

import ast
import json
from typing import TYPE_CHECKING

from zplan.hashing import hash_text
from zplan.plan.code_hash import MODULE_CODE, CodeError
from zplan.plan.code_scope import is_main_guard, normalise
from zplan.plan.user_materializers import DECIDES

if TYPE_CHECKING:
    from zplan.plan.code_reach import _Module, _Reach

_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)


def definition(reach: "_Reach", module: "_Module", expr: ast.expr, kinds: tuple) -> tuple["_Module", ast.stmt] | None:
    """The top-level definition (of ``kinds``) of the project's code that ``expr`` names in ``module``: a name it
    defines or imports (``from steps.base import Refusing``), or an attribute of a module it imports (``common.f``)."""
    b = module.bindings
    if isinstance(expr, ast.Name):
        if expr.id in b.defs:
            return _last(module, b.defs[expr.id], kinds)
        for ref in b.imports.get(expr.id, ()):
            target = reach.index.find_module(module.path, ref.module, ref.level)
            found = _in(reach, target, ref.attr, kinds) if target is not None and ref.attr else None
            if found is not None:
                return found
    elif isinstance(expr, ast.Attribute) and isinstance(expr.value, ast.Name):
        for ref in b.imports.get(expr.value.id, ()):
            target = reach.index.find_module(module.path, ref.module, ref.level)
            if target is not None and ref.attr:  # `from steps import common`: the submodule
                target = reach._submodule(target, ref.attr)
            found = _in(reach, target, expr.attr, kinds) if target is not None else None
            if found is not None:
                return found
    return None


def _in(reach: "_Reach", path, name: str, kinds: tuple) -> tuple["_Module", ast.stmt] | None:
    if not path.is_file():
        return None
    try:
        module = reach.index.module(path)
    except CodeError:  # the step fails importing it, whatever its key
        return None
    return _last(module, module.bindings.defs.get(name, []), kinds)


def _last(module: "_Module", stmts: list[ast.stmt], kinds: tuple) -> tuple["_Module", ast.stmt] | None:
    found = next((s for s in reversed(stmts) if isinstance(s, kinds)), None)
    return (module, found) if found is not None else None


def called_registrars(reach: "_Reach", module: "_Module") -> list[tuple["_Module", ast.stmt]]:
    """The project functions ``module``'s top-level code calls (``common.register_all()``), and those they call in
    turn: a materializer they register is registered as the module is imported."""
    top = [stmt for stmt in module.tree.body if not is_main_guard(stmt)]
    todo = [(module, func) for func in _called(top)]
    found, seen = [], set()
    while todo:
        where, func = todo.pop()
        key = (id(where), ast.dump(func))
        if key in seen:
            continue
        seen.add(key)
        hit = definition(reach, where, func, _FUNCTIONS)
        if hit is not None and id(hit[1]) not in seen:
            seen.add(id(hit[1]))
            found.append(hit)
            todo += [(hit[0], f) for f in _called(hit[1].body)]
    return found


def _called(stmts: list[ast.stmt]) -> list[ast.expr]:
    """What the calls ``stmts`` run name (``f``, ``mod.f``): not those in the bodies of the functions
    (or lambdas) they define, which run only when called; class bodies run, their methods' do not."""
    todo: list[ast.AST] = list(stmts)
    out = []
    while todo:
        node = todo.pop()
        if isinstance(node, _FUNCTIONS):
            todo += [*node.decorator_list, node.args]  # (decorators and defaults run as it is defined)
            continue
        if isinstance(node, ast.Lambda):
            todo.append(node.args)
            continue
        if isinstance(node, ast.Call) and isinstance(node.func, (ast.Name, ast.Attribute)):
            out.append(node.func)
        todo += ast.iter_child_nodes(node)
    return out


def can_save_digest(reach: "_Reach", module: "_Module", cls: ast.ClassDef | None) -> str:
    """`` (can_save DIGEST)`` for a class with a ``can_save``, its own or a base's (of another module too): its code
    and the project code it calls, so an edit to a helper it calls in another module changes it; "" without one."""
    found = _method(reach, module, cls, "can_save", set()) if cls is not None else None
    if found is None:
        return ""
    walk = type(reach)(reach.index, registrations=False)  # (what the code it reaches registers is not its say)
    methods, todo = [found[1]], [found]
    while todo:  # can_save, and the methods of the class it calls (self.fits(value)), wherever they are defined
        where, method = todo.pop()
        for use in where.uses(method):
            walk.use(where, use)
        for name in _own_calls(method):
            called = _method(reach, module, cls, name, set())
            if called is not None and all(called[1] is not m for m in methods):
                methods.append(called[1])
                todo.append(called)
    walk.drain()
    reach.files |= walk.files
    parts = {k: v for k, v in sorted(walk.parts.items()) if not k.endswith(f":{MODULE_CODE}")}
    text = normalise(methods) + (json.dumps(parts) if parts else "")  # (as before when it calls no other code)
    return f"{DECIDES}{hash_text(text)[:12]})"


def _own_calls(method: ast.stmt) -> set[str]:
    """The attributes a method reads on its first argument (``self.fits``): methods of the class it may call."""
    args = method.args.posonlyargs + method.args.args
    me = args[0].arg if args else None
    return {n.attr for n in ast.walk(method) if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id == me}


def _method(reach: "_Reach", module: "_Module", cls: ast.ClassDef, name: str, seen: set[int]) -> tuple["_Module", ast.stmt] | None:
    """``cls``'s method ``name``, or the one it inherits first, from a base of its module or one it imports."""
    seen.add(id(cls))
    for stmt in cls.body:
        if isinstance(stmt, _FUNCTIONS) and stmt.name == name:
            return module, stmt
    for base in cls.bases:
        found = definition(reach, module, base, (ast.ClassDef,))
        if found is not None and id(found[1]) not in seen:
            method = _method(reach, found[0], found[1], name, seen)
            if method is not None:
                return method
    return None
