"""What loads each upstream output a step reads: the materializer that wrote it, at its version
now, and the libraries it loads with; for one registered in the project's own code, a digest of
its code too. All are part of the reading step's cache key: a fix to a materializer's load side,
or a new pandas, can change what the step gets (a DataFrame's methods are pandas' even when the
step's own code never imports it)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from zplan.plan.code_hash import WHOLE_MODULE, CodeError, CodeIndex, CodeInfo
from zplan.plan.libraries import NOT_KEYED, LibraryIndex


class Loaders:
    def __init__(self, version: Callable[..., str | None], modules: Callable[..., tuple[str, ...]], libraries: LibraryIndex,
                 code: Callable[..., str | None] = lambda name, module=None: None,
                 registered: Callable[..., dict[str, str]] = lambda name, module: {}) -> None:
        self._version = version  # (name, module) -> the materializer's version now, None when it cannot be told
        self._modules_of = modules  # (name, module) -> the top-level modules its load side uses
        self._code_of = code  # (name, module) -> a digest of its code when it is the project's own, else None
        self._registered_by = registered  # (name, module) -> what importing its module registers (the step loading with it does)
        self._libraries = libraries
        self._modules: dict[str, tuple[str, ...]] = {}  # loader -> its modules, as ``of`` met it
        self._code: dict[str, str] = {}  # loader -> its code's digest, as ``of`` last met it (a project's own)
        self._registered: dict[str, dict[str, str]] = {}  # loader -> the materializers its module registers (a project's own)

    def of(self, out: dict) -> str | None:
        """``"pandas.arrow 2"`` for a recorded output (the name alone when its version is unknown)."""
        name = out.get("materializer")
        if not name:
            return None
        module = out.get("materializer_module")
        version = self._version(name, module)
        loader = name if version is None else f"{name} {version}"
        if loader not in self._modules:
            self._modules[loader] = self._modules_of(name, module)
        if module is not None:  # (a built-in records none: nothing to look up)
            code = self._code_of(name, module)
            if code is None:
                self._code.pop(loader, None)
            else:
                self._code[loader] = code
            self._registered[loader] = self._registered_by(name, module)
        return loader

    def as_recorded(self, recorded: dict[str, Any], names: list[str]) -> dict[str, Any]:
        """Of a step's recorded loaders (``recorded``), those of the inputs ``names`` that are built-in
        materializers at that version still, met as ``of`` meets them (their libraries known): what
        loads an upstream output still to be made whose step's latest run failed, leaving no result."""
        found = {}
        for name in names:
            was = recorded.get(name)
            each = was if isinstance(was, list) else [was]
            if was and all(isinstance(l, str) for l in each) and [self.of({"materializer": l.rpartition(" ")[0] or l}) for l in each] == each:
                found[name] = was
        return found

    def libraries(self, loaders: dict[str, Any]) -> dict[str, str]:
        """The installed versions of the libraries ``loaders`` (``model.loaders``) load with."""
        modules = {mod for loader in _each(loaders) for mod in self._modules.get(loader, ())}
        return self._libraries.versions(sorted(modules)) if modules else {}

    def code(self, loaders: dict[str, Any]) -> dict[str, str]:
        """Loader -> the digest of its code, for those of ``loaders`` the project's own code registers."""
        return {loader: self._code[loader] for loader in sorted({l for l in _each(loaders) if l in self._code})}

    def registrations(self, loaders: dict[str, Any]) -> dict[str, str]:
        """The materializers the modules of ``loaders`` register: a step's worker imports them to load its
        inputs, so they may store its outputs too (name -> "TYPE in FILE", as ``CodeInfo.materializers``)."""
        found: dict[str, str] = {}
        for loader in _each(loaders):
            found.update(self._registered.get(loader, {}))
        return found


def _each(loaders: dict[str, Any]):
    """Every loader of ``model.loaders``: one per output, several for a list of them."""
    for value in loaders.values():
        yield from value if isinstance(value, list) else (value,)


UNREADABLE = CodeInfo("unreadable", None)  # the code of a materializer that cannot be read


def materializer_lookups(root: Path, code: CodeIndex) -> tuple[Callable[..., str | None], Callable[..., tuple[str, ...]], Callable[..., str | None],
                                                              Callable[..., dict[str, str]]]:
    """``version(name, module)``: a materializer's version now; ``modules(name, module)``: the
    top-level modules its load side uses; ``code_digest(name, module)``: a digest of its code, for
    one registered in the project's code (which a plan does not import, so it is read from its
    source), else None: an installed one is keyed by its package's version instead;
    ``registered(name, module)``: what importing the project's module registering it registers."""
    from zplan.artifacts.materializers import declared_libraries, declared_version
    from zplan.plan import user_materializers

    # The registry and the code do not change while a plan is made. A materializer of the project's code
    # is read from its source first: the registry would not have it (a plan does not import that code) and
    # would read every installed package's entry points, and import the plugins they name, to say so.
    known: dict[tuple[str, str | None], str | None] = {}
    own: dict[tuple[str, str], tuple[str, str, str | None] | None] = {}  # -> (file, class, version) of a project's own

    def declared(name: str, module: str) -> tuple[str, str, str | None] | None:
        """Where the project's code registers ``name`` (the whole module, version unknown, when no
        class there can be seen to); None when ``module`` is not the project's."""
        if (name, module) not in own:
            path = user_materializers.module_file(root, module)
            rel = path.relative_to(root).as_posix() if path is not None else code.module_file(module)  # a src layout, say
            found = user_materializers.registration(root / rel, module, name) if rel is not None else None
            own[name, module] = None if rel is None else (rel, *(found or (WHOLE_MODULE, None)))
        return own[name, module]

    def version(name: str, module: str | None = None) -> str | None:
        if (name, module) not in known:
            found = declared(name, module) if module else None
            if found is not None:  # registered in the project's code (not imported by a plan): read from its source
                known[name, module] = found[2]
            else:
                try:
                    known[name, module] = declared_version(name)
                except Exception:
                    known[name, module] = None
        return known[name, module]

    def own_code(name: str, module: str) -> CodeInfo | None:
        """What the project's class registering ``name`` reaches; None when it is not the project's."""
        found = declared(name, module)
        try:
            return code.definition(*found[:2]) if found is not None else None
        except CodeError:  # broken since (a syntax error): unlike any code that ran, so what uses it reruns, and says why
            return UNREADABLE

    def modules(name: str, module: str | None = None) -> tuple[str, ...]:
        if module and declared(name, module) is not None:  # what the project's own imports (zplan, for its decorator, aside)
            info = own_code(name, module)
            return tuple(mod for mod in info.modules if mod not in NOT_KEYED)
        try:
            return declared_libraries(name)
        except Exception:  # registered by code a plan does not import: keyed by its package
            return (module.partition(".")[0],) if module else ()

    def code_digest(name: str, module: str | None = None) -> str | None:
        info = own_code(name, module) if module else None  # (a built-in records no module)
        return info.hash[:16] if info is not None else None

    def registered(name: str, module: str) -> dict[str, str]:
        info = own_code(name, module)
        return info.materializers if info is not None else {}

    return version, modules, code_digest, registered
