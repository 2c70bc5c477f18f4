"""``local_directory``: a folder, with an optional mode."""

from __future__ import annotations

import glob
import os
import shutil
import uuid
from pathlib import Path
from typing import Any, Mapping

from zplan.provider import Attribute, ProviderError, ResourceSchema

from .base import LocalResource, birth_iso, format_mode, mode_problem, now_iso, observed_mode, parse_mode, path_problem


_TRASH_PREFIX = ".{name}.deleting-"


def _remove_leftover_trash(path: Path) -> None:
    """Finish deletions a killed apply or destroy left half done (the folder already renamed
    aside, its contents not yet removed): at the next plan's read, or the next create."""
    try:
        leftovers = list(path.parent.glob(f"{glob.escape(_TRASH_PREFIX.format(name=path.name))}*"))
    except OSError:
        return
    for doomed in leftovers:
        shutil.rmtree(doomed, ignore_errors=True)


class LocalDirectory(LocalResource):
    schema = ResourceSchema(
        "local_directory",
        {
            "path": Attribute("string", required=True, force_new=True, description="relative to the project folder unless absolute"),
            "mode": Attribute("string", optional=True, computed=True, description='octal permissions such as "0755"'),
            "force_destroy": Attribute("bool", optional=True, default=False, description="allow destroying a folder that holds files"),
            "id": Attribute("string", computed=True, description="absolute path"),
            "created_at": Attribute("string", computed=True),
        },
        description="A folder on this machine.",
    )

    def check(self, inputs: Mapping[str, Any]) -> list[str]:
        errors = [p for p in [path_problem(inputs.get("path")) or self._holds_project(inputs.get("path"))] if p]
        if problem := mode_problem(inputs.get("mode")):
            errors.append(problem)
        return errors

    def _holds_project(self, path: Any) -> str | None:
        """A folder that is the project or one of its parents: destroying it would delete the project."""
        if not isinstance(path, str):
            return None
        project = Path(os.path.abspath(self.context.project_dir))
        folder = self.resolve(path)
        if folder == project or folder in project.parents:
            return f"path {path!r} is the project folder or holds it; name a folder inside the project (or elsewhere)"
        return None

    def create(self, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
        s = self.settings(inputs)
        if problem := self._holds_project(s["path"]):  # a path known only now was not checked at plan time
            raise ProviderError(problem)
        path = self.resolve(s["path"])
        _remove_leftover_trash(path)
        if path.exists() and not path.is_dir():
            raise ProviderError(f"{path} exists and is not a directory")
        # An existing folder is adopted (like mkdir -p): force_destroy still guards its files.
        path.mkdir(parents=True, exist_ok=True)
        mode = parse_mode(s["mode"])
        if mode is not None:
            os.chmod(path, mode)  # mkdir's mode is filtered by the umask
        return {**s, "mode": observed_mode(s["mode"], path.stat().st_mode), "id": str(path), "created_at": birth_iso(path) or now_iso()}

    def read(self, attrs: Mapping[str, Any]) -> dict[str, Any] | None:
        path = self.located(attrs)
        _remove_leftover_trash(path)
        if not path.is_dir():
            return None
        return {**attrs, "mode": observed_mode(attrs.get("mode"), path.stat().st_mode), "id": str(path)}

    def update(self, before: Mapping[str, Any], inputs: Mapping[str, Any]) -> dict[str, Any]:
        s = self.settings(inputs)
        path = self.located(before)
        if not path.is_dir():
            raise ProviderError(f"directory {path} no longer exists; plan again to recreate it")
        mode = parse_mode(s["mode"])
        if mode is not None:
            os.chmod(path, mode)
        return {**before, **s, "mode": observed_mode(s["mode"], path.stat().st_mode), "id": str(path)}

    def delete(self, attrs: Mapping[str, Any]) -> None:
        path = self.located(attrs)
        if not path.exists():
            return
        if not path.is_dir():
            raise ProviderError(f"{path} is no longer a directory; remove it by hand")
        entries = os.listdir(path)
        if not entries:
            path.rmdir()
            return
        if not attrs.get("force_destroy"):
            raise ProviderError(
                f"directory {path} is not empty ({len(entries)} entries); "
                "set force_destroy = true to delete it with its contents"
            )
        # Rename first so the folder disappears at once, then remove the contents.
        doomed = path.with_name(f"{_TRASH_PREFIX.format(name=path.name)}{uuid.uuid4().hex[:8]}")
        os.rename(path, doomed)
        shutil.rmtree(doomed)

    def import_(self, id_: str) -> dict[str, Any]:
        path = self.resolve(id_)
        if not path.is_dir():
            raise ProviderError(f"no directory at {path}")
        return {
            "path": id_,
            "mode": format_mode(path.stat().st_mode),
            "force_destroy": False,
            "id": str(path),
            "created_at": birth_iso(path),  # as create recorded it (None where the file system keeps no birth time)
        }
