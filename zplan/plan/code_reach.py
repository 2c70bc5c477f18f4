"""Reading step code for its fingerprint: the definitions, files and libraries a step
function reaches, followed statically through imports (see ``zplan.plan.code_hash``).

Imported only when a fingerprint is recomputed: a no-change plan finds every
fingerprint in the cache and needs neither this nor the scope analysis.
"""

from __future__ import annotations

import ast
import os
import sys
from pathlib import Path

from zplan.hashing import hash_text, hash_value
from zplan.plan.code_hash import MODULE_CODE, SCRIPT, WHOLE_MODULE, CodeError, CodeInfo, code_stamp
from zplan.plan.code_scope import IMPORT_BY_NAME, ImportRef, ModuleBindings, Use, is_main_guard, normalise, same_scope, uses_of
from zplan.plan.signatures import read_signature
from zplan.plan.source_roots import inside, source_root
from zplan.plan.step_declarations import declared_outputs, declared_sensitivity
from zplan.plan.registration_reach import called_registrars, can_save_digest
from zplan.plan.user_materializers import ambiguity, registered_in

_DYNAMIC_LOOKUPS = frozenset({"globals", "vars", "eval", "exec"})  # builtins that read a module's names by string


class CodeReader:
    """Parses a project's modules once each and computes step fingerprints from them."""

    def __init__(self, project_dir: Path) -> None:
        self.project_dir = project_dir  # resolved by the CodeIndex
        self._modules: dict[Path, _Module | CodeError] = {}
        # (size, mtime_ns, ctime_ns) of each file as it was before it was read: a fingerprint is cached
        # with these, so an edit made while (or after) the file was read is seen by the next plan
        self._stamps: dict[Path, list[int]] = {}
        self._script_dir: Path | None = None  # while reading a script: its folder, first on its import path
        self._import_roots: dict[str, Path | None] = {}  # top-level module -> the source folder it is imported from
        self._code_roots: list[Path] = [project_dir]  # where step code may lie: the project, and those folders

    def module(self, path: Path) -> _Module:
        if path not in self._modules:
            try:
                st = os.stat(path)
                self._stamps[path] = code_stamp(st)
                text = path.read_text(encoding="utf-8")
                self._modules[path] = _Module(path, ast.parse(text, filename=str(path)))
            except FileNotFoundError:
                self._modules[path] = CodeError(f"step source file {self.rel(path)} does not exist", "check the path in source = \"FILE.py:function\" (relative to the project folder)")
            except SyntaxError as exc:
                self._modules[path] = CodeError(
                    f"syntax error in {self.rel(path)}:{exc.lineno}: {exc.msg}", "fix the Python file"
                )
            except RecursionError:
                self._modules[path] = CodeError(f"{self.rel(path)} is nested too deeply to read", "split the deepest expression into steps")
            except (OSError, UnicodeDecodeError) as exc:
                self._modules[path] = CodeError(f"cannot read {self.rel(path)}: {exc}")
        module = self._modules[path]
        if isinstance(module, CodeError):
            raise module
        return module

    def forget_changed(self) -> None:
        """Drop the files read earlier by this process that have changed since (one stat each):
        a long-lived reader (an apply re-planning each step) must read an edited file again."""
        for path, stamp in list(self._stamps.items()):
            try:
                st = os.stat(path)
                if code_stamp(st) == stamp:
                    continue
            except OSError:
                pass
            del self._stamps[path]
            self._modules.pop(path, None)

    def stamps(self, files) -> dict[str, list[int]]:
        return {self.rel(f): self._stamps[f] for f in sorted(files)}

    def rel(self, path: Path) -> str:
        """Relative to the project, ``../`` included (a library beside it): the same in every checkout."""
        try:
            return path.relative_to(self.project_dir).as_posix()
        except ValueError:
            return Path(os.path.relpath(path, self.project_dir)).as_posix()

    def compute(self, source_file: str, function: str) -> CodeInfo:
        path = self._step_file(source_file)
        module = self.module(path)
        if function == SCRIPT:
            return self._script(path)
        stmts = module.bindings.defs.get(function, [])
        node = stmts[-1] if stmts else None
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            known = sorted(n for n, d in module.bindings.defs.items() if isinstance(d[-1], ast.FunctionDef))
            raise CodeError(
                f"{source_file} has no function {function!r}",
                f"functions defined there: {', '.join(known) or 'none'}",
            )
        walk = _Reach(self)
        walk.name(module, function)
        try:
            walk.drain()
        except RecursionError:
            raise CodeError(
                f"the code {source_file}:{function} reaches is nested too deeply to read", "split the deepest expression into steps"
            ) from None
        refused = ambiguity(walk.sites)
        if refused is not None:
            raise refused
        parts = dict(sorted(walk.parts.items()))
        return CodeInfo(hash_value(parts), declared_outputs(module.bindings.defs, node), self.stamps(walk.files), parts, sorted(walk.libraries),
                        declared_sensitivity(node), read_signature(node), dict(sorted(walk.materializers.items())), sorted(walk.imports))

    def compute_definition(self, source_file: str, name: str) -> CodeInfo:
        """What a top-level definition other than a step function reaches (a materializer class:
        its methods, and the project code they call), followed as a step function's code is;
        ``WHOLE_MODULE`` keys every definition of the module."""
        path = self._step_file(source_file)
        module = self.module(path)
        walk = _Reach(self)
        if name == WHOLE_MODULE:
            walk.whole(path)
        elif name in module.bindings.defs or name in module.bindings.imports:  # (a class registered where it is imported)
            walk.name(module, name)
        else:
            raise CodeError(f"{source_file} has no definition {name!r}")
        try:
            walk.drain()
        except RecursionError:
            raise CodeError(f"the code {source_file}:{name} reaches is nested too deeply to read", "split the deepest expression into steps") from None
        parts = dict(sorted(walk.parts.items()))
        return CodeInfo(hash_value(parts), None, self.stamps(walk.files), parts, sorted(walk.libraries),
                        materializers=dict(sorted(walk.materializers.items())))

    def _script(self, path: Path) -> CodeInfo:
        """A file run as a script: every definition and statement in it, and what they import."""
        walk = _Reach(self)
        self._script_dir = path.parent  # `python src/x.py` imports from src/ first, as Python does
        try:
            walk.whole(path)
            walk.drain()
        finally:
            self._script_dir = None
        parts = dict(sorted(walk.parts.items()))
        return CodeInfo(hash_value(parts), None, self.stamps(walk.files), parts, sorted(walk.libraries))

    def _step_file(self, source_file: str) -> Path:
        """A step's file; one of a module outside the project (../modules/x/pkg/steps.py) makes the top of its
        packages step code too: its relative imports are followed, as they are found when the step runs."""
        path = (self.project_dir / source_file).resolve()
        if not self._is_code(path):
            self._code_roots.append(_package_top(path))
        return path

    def dotted(self, path: Path) -> str:
        """The name Python imports the module at ``path`` by, from the innermost folder step code lies in."""
        root = max((r for r in self._code_roots if inside(path, r)), key=lambda r: len(r.parts), default=None)
        rel = path.relative_to((root or _package_top(path)).resolve()).with_suffix("")
        return ".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)

    def package_of(self, path: Path) -> Path | None:
        """The ``__init__.py`` of the package holding a module (of the one above, for an
        ``__init__.py``), inside the project; the project folder itself is no package."""
        folder = path.parent.parent if path.name == "__init__.py" else path.parent
        init = folder / "__init__.py"
        return init if folder != self.project_dir and inside(folder, self.project_dir) and init.is_file() else None

    def project_modules(self) -> list[Path]:
        """Every Python file of the project, but those in hidden folders (.git, .zplan, .venv),
        caches and virtual environments."""
        found = []
        for folder, dirs, files in os.walk(self.project_dir):
            dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in ("__pycache__", "node_modules", "site-packages")
                             and not os.path.exists(os.path.join(folder, d, "pyvenv.cfg")))
            found += [Path(folder, f).resolve() for f in sorted(files) if f.endswith(".py")]
        return found

    def find_module(self, importer: Path, name: str, level: int) -> Path | None:
        """The project file (or namespace folder) an import names, or None for third-party modules."""
        if not level and self._script_dir is not None:
            found = self._find(self._script_dir, name, 0)
            if found is not None:
                return found
        found = self._find(importer.parent if level else self.project_dir, name, level)
        if found is None and not level and name:
            base = self._import_root(name.split(".")[0])
            found = self._find(base, name, 0) if base is not None else None
        return found

    def _import_root(self, top: str) -> Path | None:
        """The folder Python imports ``top`` from when it is not at the project's top and is source,
        not an installed release: a src layout (``src/mylib``) or a library beside the project
        (``../libs/common``), on the path or installed editable. Asked of Python's own finders,
        which locate a top-level module without running it. None for a library with a version
        (site-packages, the standard library) and for zplan itself, which is never keyed."""
        if top not in self._import_roots:
            self._import_roots[top] = None if top in sys.stdlib_module_names or top == "zplan" else source_root(top, self.project_dir)
            if self._import_roots[top] is not None:
                self._code_roots.append(self._import_roots[top])
        return self._import_roots[top]

    def _is_code(self, path: Path) -> bool:
        return any(inside(path, root) for root in self._code_roots)

    def _find(self, base: Path, name: str, level: int) -> Path | None:
        for _ in range(max(level - 1, 0)):
            base = base.parent
        target = base.joinpath(*name.split(".")) if name else base
        for candidate in (target.with_suffix(".py") if name else None, target / "__init__.py"):
            if candidate is not None and candidate.is_file() and self._is_code(candidate):
                return candidate.resolve()
        if (level or name) and target.is_dir() and self._is_code(target) and any(target.glob("*.py")):
            return target.resolve()  # a namespace package: only its submodules can be named
        return None


class _Module:
    def __init__(self, path: Path, tree: ast.Module) -> None:
        self.path = path
        self.tree = tree
        self.bindings = ModuleBindings.of(tree)
        self._uses: dict[int, set[Use]] = {}

    def uses(self, stmt: ast.stmt) -> set[Use]:
        if id(stmt) not in self._uses:
            self._uses[id(stmt)] = uses_of(stmt)
        return self._uses[id(stmt)]


class _Reach:
    """Everything one step function reaches: a digest per definition, the files read, the libraries imported."""

    def __init__(self, index: CodeReader, registrations: bool = True) -> None:
        self.index = index
        self.registrations = registrations  # whether to read what the modules it imports register as materializers
        self.parts: dict[str, str] = {}
        self.files: set[Path] = set()
        self.libraries: set[str] = set()
        self.imports: set[str] = set()  # the libraries' modules its import statements name ("pkg.sub", "pkg:name" for a from-import)
        self.materializers: dict[str, str] = {}  # name -> "TYPE in FILE", registered by a module the step imports
        self.sites: list[tuple[str, set[str], str]] = []  # each of those registrations: name, types, FILE:LINE
        self._seen: set[tuple] = set()
        self._todo: list[tuple[_Module, str]] = []

    def _library(self, module: str, names: tuple[str, ...] = ()) -> None:
        top = module.split(".")[0]
        if top not in sys.stdlib_module_names:  # the Python version is keyed on its own
            self.libraries.add(top)
            self.imports.add(module)
            self.imports.update(f"{module}:{name}" for name in names if name != "*")

    def _first_visit(self, *key: object) -> bool:
        if key in self._seen:
            return False
        self._seen.add(key)
        return True

    def name(self, module: _Module, name: str) -> None:
        """A name bound at the top level of ``module`` (a def, a class, a constant or an import)."""
        if self._first_visit("name", module.path, name):
            self._todo.append((module, name))

    def drain(self) -> None:
        """Follow every name reached, from a work list: a long call chain never deepens the Python stack."""
        while self._todo:
            self._expand(*self._todo.pop())

    def _expand(self, module: _Module, name: str) -> None:
        self._module_code(module)
        b = module.bindings
        stmts = b.defs.get(name)
        if stmts:
            unique = list({id(s): s for s in stmts}.values())
            self.parts[f"{self.index.rel(module.path)}:{name}"] = _digest(unique)
            for stmt in unique:
                for use in module.uses(stmt):
                    self.use(module, use)
                self._imports(module, (n for n in ast.walk(stmt) if isinstance(n, (ast.Import, ast.ImportFrom))))
        for ref in b.imports.get(name, ()):
            self.follow(module, ref, ())

    def use(self, module: _Module, use: Use) -> None:
        root, attrs = use
        if isinstance(root, ImportRef):
            self.follow(module, root, attrs)
            return
        b = module.bindings
        if root in b.defs:  # (bound by an import too, as in `try: import x` / `except: x = None`: both count)
            self.name(module, root)
        elif root in b.imports:
            for ref in b.imports[root]:
                self.follow(module, ref, attrs)
        elif root in _DYNAMIC_LOOKUPS:  # globals()["f"], eval("f()"): any name of the module may be read
            self.whole(module.path)
        elif root == IMPORT_BY_NAME:  # import_module(name), the name computed: any module of the project may be run
            if self._first_visit("every module"):
                for path in self.index.project_modules():
                    self.whole(path)
        else:  # a builtin, or a name a star import brings
            for star in b.stars:
                self.follow(module, ImportRef(star.module, root, star.level), attrs)

    def follow(self, module: _Module, ref: ImportRef, attrs: tuple[str, ...]) -> None:
        if not self._first_visit("import", module.path, ref, attrs):
            return
        target = self.index.find_module(module.path, ref.module, ref.level)
        if target is None:
            if ref.level == 0 and ref.module:
                self._library(ref.module)
            return
        if ref.attr is None:
            self.into(target, attrs)
        elif target == module.path:  # `from . import sub` inside a package's own __init__.py
            sub = self._submodule(target, ref.attr)
            if sub is not None:
                self.into(sub, attrs)
            else:
                self.whole(target)
        else:
            self.into(target, (ref.attr, *attrs))

    def into(self, path: Path, attrs: tuple[str, ...]) -> None:
        """The object ``path.attr1.attr2...`` names, as precisely as a static reading allows."""
        if not attrs:
            self.whole(path)
            return
        name, rest = attrs[0], attrs[1:]
        module = self.index.module(path) if path.is_file() else None
        if module is not None:
            b = module.bindings
            if name in b.defs:
                self.name(module, name)
                return
            if name in b.imports:  # a re-export
                self._module_code(module)
                for ref in b.imports[name]:
                    self.follow(module, ref, rest)
                return
        sub = self._submodule(path, name)
        if sub is not None:
            self.into(sub, rest)
        elif module is not None and module.bindings.stars:
            self.files.add(module.path)
            for star in module.bindings.stars:
                self.follow(module, ImportRef(star.module, name, star.level), rest)
        else:  # made at run time (setattr, module __getattr__): key what could make it
            self.whole(path)

    def whole(self, path: Path) -> None:
        """A module used as a value: every definition in it counts."""
        if not path.is_file() or not self._first_visit("whole", path):
            return
        module = self.index.module(path)
        self.files.add(path)
        self.parts[f"{self.index.rel(path)}:{WHOLE_MODULE}"] = _digest(module.tree.body)
        self._module_code(module)  # what its top-level code calls (a script's main code), and its packages'
        self.parts.pop(f"{self.index.rel(path)}:{MODULE_CODE}", None)  # (the whole module's digest holds it)
        for name in module.bindings.defs:
            self.name(module, name)
        for ref in (r for refs in module.bindings.imports.values() for r in refs):
            if ref.level == 0 and self.index.find_module(path, ref.module, ref.level) is None:
                self._library(ref.module)

    def _module_code(self, module: _Module) -> None:
        """Module-level calls run whenever a step imports the module, and those of the packages
        holding it before them (``pkg/__init__.py`` for ``pkg.helpers``): they count for every use of it."""
        self.files.add(module.path)
        if not self._first_visit("effects", module.path):
            return
        self._ran(module.path)
        effects = module.bindings.effects
        if effects:
            if f"{self.index.rel(module.path)}:{WHOLE_MODULE}" not in self.parts:
                self.parts[f"{self.index.rel(module.path)}:{MODULE_CODE}"] = _digest(effects)
            for stmt in effects:
                for use in module.uses(stmt):
                    self.use(module, use)
        package = self.index.package_of(module.path)
        if package is not None:
            self._module_code(self.index.module(package))

    def _ran(self, path: Path | None) -> None:
        """A project module the step imports, used or not (``import steps.mats  # registers ...``): the
        materializers it and what it imports register at import choose how the step's outputs are stored."""
        if path is None or not path.is_file() or not self._first_visit("ran", path):
            return
        try:
            module = self.index.module(path)
        except CodeError:  # the step fails importing it, whatever its key
            return
        self.files.add(path)
        if self.registrations:
            self._registered(module)
            for where, function in called_registrars(self, module):  # `common.register_all()` at its top
                self._registered(where, function.body)
        body = [stmt for stmt in module.tree.body if not is_main_guard(stmt)]
        self._imports(module, (n for n in same_scope(body) if isinstance(n, (ast.Import, ast.ImportFrom))))
        self._ran(self.index.package_of(path))

    def _registered(self, module: _Module, body: list[ast.stmt] | None = None) -> None:
        """The materializers ``module`` (or a function of it: ``body``) registers, with what their can_save reaches."""
        self.files.add(module.path)
        dotted, rel = self.index.dotted(module.path), self.index.rel(module.path)
        found, sites = registered_in(module.tree, dotted, rel, lambda cls: can_save_digest(self, module, cls), body)
        self.materializers.update(found)
        self.sites += sites

    def _imports(self, module: _Module, nodes) -> None:
        """Run (``_ran``) the project modules the import statements ``nodes`` of ``module`` import; an installed
        library they import counts, used or not: importing it may register a materializer, patch another library..."""
        for node in nodes:
            if isinstance(node, ast.Import):
                for alias in node.names:
                    self._ran_or_library(self.index.find_module(module.path, alias.name, 0), alias.name)
                continue
            target = self.index.find_module(module.path, node.module or "", node.level)
            self._ran_or_library(target, node.module if not node.level else None, tuple(alias.name for alias in node.names))
            for alias in node.names if target is not None and _is_package(target) else ():
                if alias.name != "*":
                    self._ran(self._submodule(target, alias.name))

    def _ran_or_library(self, target: Path | None, name: str | None, names: tuple[str, ...] = ()) -> None:
        if target is not None:
            self._ran(target)
        elif name:
            self._library(name, names)

    def _submodule(self, package: Path, name: str) -> Path | None:
        if package.is_file() and package.name != "__init__.py":
            return None
        folder = package if package.is_dir() else package.parent
        return self.index.find_module(folder / "__init__.py", name, 1)


def _package_top(path: Path) -> Path:
    """The folder above the packages holding ``path`` (its own folder when it is in none)."""
    root = path.parent
    while (root / "__init__.py").is_file():
        root = root.parent
    return root


def _is_package(target: Path) -> bool:
    """Whether ``from target import x`` may import a submodule ``x``: ``target`` is a package."""
    return target.is_dir() or target.name == "__init__.py"


def _digest(stmts: list[ast.stmt]) -> str:
    """One definition's digest. 64 bits tell an edit apart; it is stored in every step record, so short."""
    return hash_text(normalise(stmts))[:16]
