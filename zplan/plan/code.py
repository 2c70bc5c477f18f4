"""Fingerprints of step code, read statically (the step module is never imported by plan).

A step's code hash covers its function's source normalised through the AST
(comments, docstrings and layout don't count), its decorators, and — followed
transitively — the project-local functions, classes and module constants it
uses, including names imported from other project files. Third-party code is
not followed: its version belongs to the environment, not to the step.

Results are cached per function with the (size, mtime) of every file they read,
so a no-change plan stats files and parses nothing.
"""

from __future__ import annotations

import ast
import json
from dataclasses import dataclass, field
from pathlib import Path

from zplan.fsutil import atomic_write_text
from zplan.hashing import hash_text

CACHE_VERSION = 1


@dataclass(frozen=True)
class CodeInfo:
    hash: str
    outputs: list[str] | None  # declared by @step(outputs=...) or a NamedTuple return annotation
    files: dict[str, list[int]] = field(default_factory=dict)  # relative path -> [size, mtime_ns]


class CodeError(Exception):
    """The step source cannot be used; ``summary``/``detail`` become a diagnostic."""

    def __init__(self, summary: str, detail: str = "") -> None:
        super().__init__(summary)
        self.summary, self.detail = summary, detail


class _Module:
    def __init__(self, path: Path, tree: ast.Module) -> None:
        self.path = path
        self.defs: dict[str, ast.stmt] = {}
        self.imports: dict[str, tuple[str, str | None, int]] = {}  # local name -> (module, attr, level)
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                self.defs[node.name] = node
            elif isinstance(node, (ast.Assign, ast.AnnAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for t in targets:
                    for n in ast.walk(t):
                        if isinstance(n, ast.Name):
                            self.defs[n.id] = node
            elif isinstance(node, ast.ImportFrom):
                for alias in node.names:
                    self.imports[alias.asname or alias.name] = (node.module or "", alias.name, node.level)
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    local = alias.asname or alias.name.split(".")[0]
                    self.imports[local] = (alias.name if alias.asname else alias.name.split(".")[0], None, 0)


class CodeIndex:
    """Fingerprints step functions of one project, with a persistent stat-keyed cache."""

    def __init__(self, project_dir: Path, cache_file: Path | None = None) -> None:
        self.project_dir = project_dir
        self.cache_file = cache_file
        self._modules: dict[Path, _Module | CodeError] = {}
        self._cache: dict[str, dict] = {}
        self._dirty = False
        if cache_file is not None and cache_file.exists():
            try:
                data = json.loads(cache_file.read_text())
                if data.get("version") == CACHE_VERSION:
                    self._cache = data["entries"]
            except (OSError, ValueError, KeyError):
                pass

    # -- public ------------------------------------------------------------------------------
    def info(self, source_file: str, function: str) -> CodeInfo:
        key = f"{source_file}:{function}"
        cached = self._cache.get(key)
        if cached is not None and self._unchanged(cached["files"]):
            return CodeInfo(cached["hash"], cached["outputs"], cached["files"])
        info = self._compute(source_file, function)
        self._cache[key] = {"hash": info.hash, "outputs": info.outputs, "files": info.files}
        self._dirty = True
        return info

    def save(self) -> None:
        if self._dirty and self.cache_file is not None:
            atomic_write_text(self.cache_file, json.dumps({"version": CACHE_VERSION, "entries": self._cache}), durable=False)
            self._dirty = False

    # -- internals ---------------------------------------------------------------------------
    def _unchanged(self, files: dict[str, list[int]]) -> bool:
        for rel, sig in files.items():
            try:
                st = (self.project_dir / rel).stat()
            except OSError:
                return False
            if [st.st_size, st.st_mtime_ns] != sig:
                return False
        return True

    def _module(self, path: Path) -> _Module:
        if path not in self._modules:
            try:
                text = path.read_text(encoding="utf-8")
                self._modules[path] = _Module(path, ast.parse(text, filename=str(path)))
            except FileNotFoundError:
                self._modules[path] = CodeError(f"step source file {self._rel(path)} does not exist", "check the path in source = \"FILE.py:function\" (relative to the project folder)")
            except SyntaxError as exc:
                self._modules[path] = CodeError(
                    f"syntax error in {self._rel(path)}:{exc.lineno}: {exc.msg}", "fix the Python file"
                )
            except (OSError, UnicodeDecodeError) as exc:
                self._modules[path] = CodeError(f"cannot read {self._rel(path)}: {exc}")
        module = self._modules[path]
        if isinstance(module, CodeError):
            raise module
        return module

    def _rel(self, path: Path) -> str:
        try:
            return path.relative_to(self.project_dir).as_posix()
        except ValueError:
            return str(path)

    def _compute(self, source_file: str, function: str) -> CodeInfo:
        path = (self.project_dir / source_file).resolve()
        module = self._module(path)
        node = module.defs.get(function)
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            known = sorted(n for n, d in module.defs.items() if isinstance(d, ast.FunctionDef))
            raise CodeError(
                f"{source_file} has no function {function!r}",
                f"functions defined there: {', '.join(known) or 'none'}",
            )
        parts: dict[str, str] = {}
        files: set[Path] = set()
        self._collect(module, function, parts, files)
        digest = hash_text("\n".join(f"{k}\n{v}" for k, v in sorted(parts.items())))
        sigs = {}
        for f in sorted(files):
            st = f.stat()
            sigs[self._rel(f)] = [st.st_size, st.st_mtime_ns]
        return CodeInfo(digest, _declared_outputs(module, node), sigs)

    def _collect(self, module: _Module, name: str, parts: dict[str, str], files: set[Path]) -> None:
        key = f"{self._rel(module.path)}:{name}"
        if key in parts:
            return
        files.add(module.path)
        node = module.defs.get(name)
        if node is None:
            target = module.imports.get(name)
            if target is not None:
                self._follow_import(module, target, parts, files, key)
            return
        parts[key] = _normalise(node)
        for used in _names_used(node):
            if used != name:
                self._collect(module, used, parts, files)
        for base, attr in _attribute_uses(node):
            target = module.imports.get(base)
            if target is not None and target[1] is None:  # `import steps.util as u` ... u.f
                other = self._resolve_module(module, target[0], target[2])
                if other is not None:
                    self._collect(self._module(other), attr, parts, files)

    def _follow_import(self, module: _Module, target: tuple, parts: dict, files: set, key: str) -> None:
        mod_name, attr, level = target
        if attr is None:
            return
        other = self._resolve_module(module, mod_name, level)
        if other is None:
            # `from pkg import submodule`: the attribute may itself be a project module
            sub = self._resolve_module(module, f"{mod_name}.{attr}" if mod_name else attr, level)
            if sub is not None:
                files.add(sub)
                parts[key] = f"module {self._rel(sub)}"
            return
        parts[key] = f"from {self._rel(other)} import {attr}"
        self._collect(self._module(other), attr, parts, files)

    def _resolve_module(self, module: _Module, name: str, level: int) -> Path | None:
        """A project-local file for an import, or None for third-party modules."""
        base = module.path.parent if level else self.project_dir
        for _ in range(max(level - 1, 0)):
            base = base.parent
        rel = Path(*name.split(".")) if name else Path()
        for candidate in (base / rel.with_suffix(".py") if name else None, base / rel / "__init__.py"):
            if candidate is not None and candidate.is_file() and _inside(candidate, self.project_dir):
                return candidate.resolve()
        return None


def _inside(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
        return True
    except ValueError:
        return False


def _normalise(node: ast.stmt) -> str:
    """Source without comments, docstrings or layout: what the code does, not how it looks."""
    node = _strip_docstrings(ast.parse(ast.unparse(node)))
    return ast.unparse(node)


def _strip_docstrings(tree: ast.AST) -> ast.AST:
    for n in ast.walk(tree):
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Module)):
            body = n.body
            if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant) and isinstance(body[0].value.value, str):
                n.body = body[1:] or [ast.Pass()]
    return tree


def _names_used(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def _attribute_uses(node: ast.AST) -> set[tuple[str, str]]:
    return {
        (n.value.id, n.attr)
        for n in ast.walk(node)
        if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name)
    }


def _declared_outputs(module: _Module, fn: ast.FunctionDef | ast.AsyncFunctionDef) -> list[str] | None:
    """Output names from ``@step(outputs=[...])`` / ``outputs={...}`` or a NamedTuple return type."""
    for deco in fn.decorator_list:
        if isinstance(deco, ast.Call) and _decorator_name(deco.func) == "step":
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
    if isinstance(ann, ast.Name):
        cls = module.defs.get(ann.id)
        if isinstance(cls, ast.ClassDef) and any(_decorator_name(b) == "NamedTuple" for b in cls.bases):
            return [s.target.id for s in cls.body if isinstance(s, ast.AnnAssign) and isinstance(s.target, ast.Name)]
    return None


def _decorator_name(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return ""
