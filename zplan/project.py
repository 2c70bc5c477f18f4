"""A project on disk: its configuration, variable values, chosen stack and state backend.

Commands open a ``Project`` once and hand it to the core (planner, applier).
Nothing here evaluates steps or talks to providers; it only gathers inputs.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zplan import diags
from zplan.config import expand, loader, variables
from zplan.config.model import Config
from zplan.config.scope import Scope
from zplan.stack import select
from zplan.state import collector
from zplan.state.backend import FileBackend, StateBackend

if TYPE_CHECKING:
    from zplan.provider import ProviderRegistry

STATE_DIR = ".zplan"


@dataclass
class Options:
    """What the user chose on the command line for this invocation."""

    vars: list[str] = field(default_factory=list)
    var_files: list[Path] = field(default_factory=list)
    stack: str | None = None


class Project:
    def __init__(self, root: Path, config: Config, values: dict[str, Any], stack: str, registry: ProviderRegistry | None = None) -> None:
        self.root = root
        with collector.paused():  # 20,000 instances of a for_each step are as many long-lived blocks
            self.config = expand.expand(config, values, stack)  # modules, count and for_each written out
        self.variables = values
        self.stack_name = stack
        if registry is not None:  # else the installed plugins, found when first needed (`registry`)
            self.registry = registry
        self.state_dir = root / STATE_DIR

    @classmethod
    def open(cls, root: Path, options: Options | None = None, registry: ProviderRegistry | None = None) -> "Project":
        options = options or Options()
        root = root.resolve()
        config = loader.load(root)
        values = variables.resolve(config, options.vars, options.var_files)
        stack = select.selected_name(config, root / STATE_DIR, options.stack)
        return cls(root, config, values, stack, registry)

    @functools.cached_property
    def registry(self) -> ProviderRegistry:
        """The installed provider plugins; made when first used (a project without resources never needs it)."""
        from zplan.provider import ProviderRegistry

        return ProviderRegistry()

    @functools.cached_property
    def secrets(self) -> list[str]:
        """Every text form of the sensitive variables' values, worked out once."""
        return variables.sensitive_values(self.config, self.variables)

    def scope(self, resource_value=None) -> Scope:
        return Scope(self.config, self.variables, resource_value, self.stack_name)

    def static_stack_settings(self) -> dict[str, Any]:
        """Stack settings evaluated before any resource is known (UNKNOWN where they depend on one)."""
        scope = self.scope()
        return select.settings(self.config, self.stack_name, scope.eval)

    def state_backend(self) -> StateBackend:
        """State lives beside the metadata: a MySQL metadata store keeps it in the same database."""
        url = self.static_stack_settings().get("metadata_store")
        if isinstance(url, str) and url.startswith("mysql://"):
            from zplan.metadata.urls import metadata_password
            from zplan.state.mysql import MySQLBackend

            return MySQLBackend(url, workspace=self.stack_name, password=metadata_password(self.static_stack_settings()))
        return FileBackend(self.state_dir / "state.json")

    def rel(self, path: Path | str) -> str:
        try:
            return Path(path).resolve().relative_to(self.root).as_posix()
        except ValueError:
            return str(path)


def ensure_state_dir(project: Project) -> Path:
    project.state_dir.mkdir(parents=True, exist_ok=True)
    gitignore = project.state_dir / ".gitignore"
    if not gitignore.exists():
        gitignore.write_text("*\n")
    return project.state_dir


def not_a_project(root: Path) -> diags.DiagnosticError:
    return diags.fail(f"{root} holds no zplan configuration", "run `zplan init` first")
