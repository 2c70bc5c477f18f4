"""What loads each upstream output a step reads: the materializer that wrote it, at its version
now, and the libraries it loads with. Both are part of the reading step's cache key: a fix to a
materializer's load side, or a new pandas, can change what the step gets (a DataFrame's methods
are pandas' even when the step's own code never imports it)."""

from __future__ import annotations

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
