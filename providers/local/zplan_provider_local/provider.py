"""``LocalProvider``: routes each resource type to its own small module."""

from __future__ import annotations

from typing import Any, Callable, Mapping

from zplan.provider import Provider, ProviderError

from .base import LocalResource
from .dask_cluster import LocalDaskCluster
from .directory import LocalDirectory
from .file import LocalFile
from .process import LocalProcess
from .serving import LocalModelServer
from .sqlite import LocalSqliteDatabase

RESOURCES: dict[str, type[LocalResource]] = {
    cls.schema.type: cls for cls in (LocalDirectory, LocalSqliteDatabase, LocalFile, LocalProcess, LocalModelServer, LocalDaskCluster)
}

_PATHS = ("local_directory", "local_file", "local_sqlite_database")  # the types that are a path on this machine


class LocalProvider(Provider):
    """Folders, SQLite files, plain files, service processes, model servers and Dask clusters on this machine."""

    name = "local"
    refresh_is_local = True  # reads touch only this machine: cheap enough to run on every plan
    settings = frozenset()  # each resource says all it needs: the provider block takes nothing
    schemas = {t: cls.schema for t, cls in RESOURCES.items()}

    def check(self, type_: str, inputs: Mapping[str, Any]) -> list[str]:
        if type_ not in RESOURCES:
            return [_unknown(type_)]
        return RESOURCES[type_](self.context).check(inputs)

    def create(self, type_: str, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
        return self._do(type_, lambda r: r.create(name, inputs))

    def read(self, type_: str, attributes: Mapping[str, Any]) -> dict[str, Any] | None:
        return self._do(type_, lambda r: r.read(attributes))

    def update(self, type_: str, before: Mapping[str, Any], inputs: Mapping[str, Any]) -> dict[str, Any]:
        return self._do(type_, lambda r: r.update(before, inputs))

    def delete(self, type_: str, attributes: Mapping[str, Any]) -> None:
        self._do(type_, lambda r: r.delete(attributes))

    def import_resource(self, type_: str, id_: str) -> dict[str, Any]:
        return self._do(type_, lambda r: r.import_(id_))

    def same_input(self, type_: str, name: str, imported: Any, configured: Any) -> bool:
        """A path is the same whether absolute or relative to the project folder, as every operation resolves it."""
        if name == "path" and type_ in RESOURCES and isinstance(imported, str) and isinstance(configured, str):
            resource = RESOURCES[type_](self.context)
            return resource.resolve(imported) == resource.resolve(configured)
        return imported == configured

    def deletes_with(self, type_: str, attributes: Mapping[str, Any], other_type: str, other: Mapping[str, Any]) -> bool:
        """A folder's delete takes every file, database and folder inside it with it."""
        if type_ != "local_directory" or other_type not in _PATHS or "id" not in attributes or "id" not in other:
            return False
        folder = RESOURCES[type_](self.context).located(attributes)
        return folder in RESOURCES[other_type](self.context).located(other).parents

    def leftover(self, type_: str, name: str, inputs: Mapping[str, Any]) -> dict[str, Any] | None:
        return self._do(type_, lambda r: r.leftover(name, inputs))

    def _do(self, type_: str, op: Callable[[LocalResource], Any]) -> Any:
        """Run one operation; file-system failures become messages a user can act on."""
        cls = RESOURCES.get(type_)
        if cls is None:
            raise ProviderError(_unknown(type_))
        try:
            return op(cls(self.context))
        except OSError as exc:
            where = f" ({exc.filename})" if exc.filename else ""
            raise ProviderError(f"{type_}: {exc.strerror or exc}{where}") from exc


def _unknown(type_: str) -> str:
    return f"provider local has no resource type {type_!r}; it has {', '.join(sorted(RESOURCES))}"
