"""Finding a ZenML pipeline's code statically for `zplan import-zenml`: the file of a module, and where a function
it calls is defined, followed through imports, ``__init__.py`` re-exports and ``import *``."""

from __future__ import annotations

import ast
from pathlib import Path

from zplan import diags
from zplan.plan.code_hash import CodeIndex
from zplan.plan.code_reach import CodeReader
from zplan.plan.code_scope import ImportRef, ModuleBindings

MAX_REEXPORTS = 8  # `from .x import y` chains followed through __init__.py files


class _Reader:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.code = CodeReader(root)
        self.index = CodeIndex(root)
        self._parsed: dict[Path, tuple[ast.Module, ModuleBindings]] = {}

    def rel(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    def module_file(self, dotted: str) -> Path:
        found = self.code.find_module(self.root / "__init__.py", dotted, 0)
        if found is None or found.is_dir():
            raise diags.fail(f"no module {dotted!r} in {self.root.name or self.root}", "run from the project folder; give the module as Python imports it")
        return found

    def parse(self, path: Path) -> tuple[ast.Module, ModuleBindings]:
        if path not in self._parsed:
            try:
                tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            except SyntaxError as exc:  # Python would refuse to import it too
                raise diags.fail(f"{self.rel(path)} is not valid Python: {exc.msg}", "fix it, then import again",
                                 diags.Range(str(path), exc.lineno or 0, exc.offset or 0)) from None
            except (OSError, ValueError) as exc:  # unreadable, not UTF-8, a NUL byte
                raise diags.fail(f"cannot read {self.rel(path)}: {exc}", "give a pipeline module that Python can import") from None
            self._parsed[path] = (tree, ModuleBindings.of(tree))
        return self._parsed[path]

    def definition(self, path: Path, name: str, depth: int = 0) -> tuple[Path, ast.FunctionDef] | None:
        """Where the function ``name`` used in ``path`` is defined (through imports, re-exports and ``import *``)."""
        for _ in range(MAX_REEXPORTS - depth):
            _, bindings = self.parse(path)
            found = next((s for s in bindings.defs.get(name, []) if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef))), None)
            if found is not None:
                return path, found
            ref: ImportRef | None = (bindings.imports.get(name) or [None])[-1]  # the last binding, as at run time
            if ref is None and name not in bindings.defs:
                return self._starred(path, bindings, name, depth)
            if ref is None or ref.attr is None:
                return None
            target = self.code.find_module(path, ref.module, ref.level)
            if target is not None and target.is_dir() or target == path:  # `from . import sub` / a namespace package
                target = self.code.find_module(path, f"{ref.module}.{ref.attr}".lstrip("."), ref.level) if target != path else None
            if target is None:
                return None
            path, name = target, ref.attr
        return None


    def _starred(self, path: Path, bindings: ModuleBindings, name: str, depth: int) -> tuple[Path, ast.FunctionDef] | None:
        """``name`` brought in by a ``from steps import *`` of ``path`` (the last one defining it, as at run time)."""
        for star in reversed(bindings.stars if depth < MAX_REEXPORTS else []):
            target = self.code.find_module(path, star.module, star.level)
            if target is not None and target.is_dir():  # a package: its __init__.py
                target = target / "__init__.py"
            if target is not None and target.is_file() and target != path:
                found = self.definition(target, name, depth + 1)
                if found is not None:
                    return found
        return None

    def called(self, path: Path, func: ast.expr) -> tuple[Path, ast.FunctionDef] | None:
        """Where the function a call in ``path`` names is defined: ``f`` or ``module.f`` (``import steps``,
        ``from pkg import module``)."""
        if isinstance(func, ast.Name):
            return self.definition(path, func.id)
        parts = _dotted(func.value) if isinstance(func, ast.Attribute) else None
        ref: ImportRef | None = (self.parse(path)[1].imports.get(parts[0]) or [None])[-1] if parts else None
        if ref is None:
            return None
        dotted = ".".join(p for p in (ref.module, ref.attr, *parts[1:]) if p)  # `import steps.loading` binds steps
        module = self.code.find_module(path, dotted, ref.level)
        return self.definition(module, func.attr) if module is not None and module.is_file() else None


def _dotted(node: ast.expr) -> list[str] | None:
    """``a.b.c`` as ["a", "b", "c"]; None for anything but names and attributes."""
    if isinstance(node, ast.Name):
        return [node.id]
    if isinstance(node, ast.Attribute):
        head = _dotted(node.value)
        return head + [node.attr] if head else None
    return None
