"""What loads each upstream output a step reads: the materializer that wrote it, at its version
now, and the libraries it loads with. Both are part of the reading step's cache key: a fix to a
materializer's load side, or a new pandas, can change what the step gets (a DataFrame's methods
are pandas' even when the step's own code never imports it)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from zplan.plan.libraries import LibraryIndex


class Loaders:
    def __init__(self, version: Callable[..., str | None], modules: Callable[..., tuple[str, ...]], libraries: LibraryIndex) -> None:
        self._version = version  # (name, module) -> the materializer's version now, None when it cannot be told
        self._modules_of = modules  # (name, module) -> the top-level modules its load side uses
        self._libraries = libraries
        self._modules: dict[str, tuple[str, ...]] = {}  # loader -> its modules, as ``of`` met it

    def of(self, out: dict) -> str | None:
        """``"pandas.arrow 2"`` for a recorded output (the name alone when its version is unknown)."""
        name = out.get("materializer")
        if not name:
            return None
        version = self._version(name, out.get("materializer_module"))
        loader = name if version is None else f"{name} {version}"
        if loader not in self._modules:
            self._modules[loader] = self._modules_of(name, out.get("materializer_module"))
        return loader

    def libraries(self, loaders: dict[str, Any]) -> dict[str, str]:
        """The installed versions of the libraries ``loaders`` (``model.loaders``) load with."""
        modules = {mod for value in loaders.values() for loader in (value if isinstance(value, list) else (value,))
                   for mod in self._modules.get(loader, ())}
        return self._libraries.versions(sorted(modules)) if modules else {}


def materializer_lookups(root: Path) -> tuple[Callable[..., str | None], Callable[..., tuple[str, ...]]]:
    """``version(name, module)``: a materializer's version now; ``modules(name, module)``: the
    top-level modules its load side uses. One registered in the project's code (which a plan
    does not import) is read from its source."""
    from zplan.artifacts.materializers import declared_libraries, declared_version
    from zplan.plan import user_materializers

    known: dict[tuple[str, str | None], str | None] = {}  # the registry and the code do not change while a plan is made

    def version(name: str, module: str | None = None) -> str | None:
        if (name, module) not in known:
            try:
                known[name, module] = declared_version(name)
            except Exception:  # registered in the project's code (not imported by a plan): read from its source
                known[name, module] = user_materializers.declared_version(root, module, name) if module else None
        return known[name, module]

    def modules(name: str, module: str | None = None) -> tuple[str, ...]:
        try:
            return declared_libraries(name)
        except Exception:  # registered by code a plan does not import: keyed by its package, unless the project's own
            outside = module and user_materializers.module_file(root, module) is None
            return (module.partition(".")[0],) if outside else ()

    return version, modules
