"""A project on disk: its configuration, variable values, chosen stack and state backend.

Commands open a ``Project`` once and hand it to the core (planner, applier).
Nothing here evaluates steps or talks to providers; it only gathers inputs.
"""

from __future__ import annotations

import functools
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from zplan import diags
from zplan.config import expand, loader, variables
from zplan.config.model import Config
from zplan.config.scope import Scope
from zplan.config.values import UNKNOWN
from zplan.stack import select
from zplan.state import collector
from zplan.state.backend import FileBackend, StateBackend

if TYPE_CHECKING:
    from zplan.provider import ProviderRegistry

STATE_DIR = ".zplan"
# what reading recorded results needs from the stack: a variable these read must have a value
STORE_SETTINGS = ("artifact_store", "artifact_store_options", "metadata_store", "metadata_password")


@dataclass
class Options:
    """What the user chose on the command line for this invocation."""

    vars: list[variables.CommandLineVar] = field(default_factory=list)  # every -var and -var-file, in order
    stack: str | None = None
    reading: bool = False  # only reading what was recorded (or forgetting it): a variable without a value reads as unknown
    given: dict[str, Any] = field(default_factory=dict)  # values from the Python API, converted like a vars file's


class Project:
    def __init__(self, root: Path, config: Config, values: dict[str, Any], stack: str, registry: ProviderRegistry | None = None,
                 unset: frozenset[str] = frozenset()) -> None:
        self.root = root
        self.unset = unset  # variables without a value (opened for reading only): they read as unknown
        with collector.paused():  # 20,000 instances of a for_each step are as many long-lived blocks
            self.config = self._expanded(config, values, stack)  # modules, count and for_each written out
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
        unset: set[str] | None = set() if options.reading else None
        values = variables.resolve(config, options.vars, given=options.given, unset=unset)
        stack = select.selected_name(config, root / STATE_DIR, options.stack)
        return cls(root, config, values, stack, registry, frozenset(unset or ()))

    def _expanded(self, config: Config, values: dict[str, Any], stack: str) -> Config:
        if not self.unset:
            return expand.expand(config, values, stack)
        reads = _Reads(values)
        try:
            return expand.expand(config, reads, stack)
        except diags.DiagnosticError:
            _require_values(config, reads.names & self.unset, "a count or for_each reads it")
            raise

    @functools.cached_property
    def registry(self) -> ProviderRegistry:
        """The installed provider plugins; made when first used (a project without resources never needs it)."""
        from zplan.provider import ProviderRegistry

        return ProviderRegistry()

    @functools.cached_property
    def secrets(self) -> list[str]:
        """Every text form of the sensitive variables' values, worked out once."""
        return variables.sensitive_values(self.config, self.variables)

    def scope(self, resource_value=None, resource_names=None) -> Scope:
        return Scope(self.config, self.variables, resource_value, self.stack_name, resource_names, self.secrets)

    def recorded_scope(self, state) -> Scope:
        """A scope reading each resource's attributes as ``state`` records them (UNKNOWN where it has none)."""
        return self.scope(_recorded_value(state, self.state_dir))

    @contextmanager
    def needing_values(self, why: str) -> Iterator[None]:
        """What is computed inside (a plan) needs a value for every variable it reads: one
        without a value is the usual error, even where it only made something unknown."""
        if not self.unset:
            yield
            return
        plain, self.variables = self.variables, _Reads(self.variables)
        try:
            yield
        except diags.DiagnosticError:
            _require_values(self.config, self.variables.names & self.unset, why)
            raise
        finally:
            reads, self.variables = self.variables, plain
        _require_values(self.config, reads.names & self.unset, why)

    def static_stack_settings(self) -> dict[str, Any]:
        """Stack settings evaluated before any resource is known (UNKNOWN where they depend on one)."""
        scope = self.scope()
        settings = select.settings(self.config, self.stack_name, scope.eval)
        if self.unset:
            self._require_store_values(settings)
        return settings

    def recorded_stack_settings(self, state=None) -> dict[str, Any]:
        """The stack's settings for reading what was recorded: a store computed from a resource (a
        bucket's name, a database's address) is known once applied, from the resource as ``state``
        (read when not given) records it, as apply evaluated it. Still UNKNOWN where nothing was applied."""
        settings = self.static_stack_settings()
        if UNKNOWN not in (settings.get("artifact_store"), settings.get("metadata_store")):
            return settings
        from zplan.state.model import State

        recorded = _recorded_value(state or State(self.state_backend().read()), self.state_dir)
        return select.settings(self.config, self.stack_name, self.scope(recorded).eval)

    def _require_store_values(self, settings: dict[str, Any]) -> None:
        """Reading without a variable's value is fine until the stores need it: then it is an error."""
        stack = self.config.stacks.get(self.stack_name)
        mysql = str(settings.get("metadata_store")).startswith("mysql://")
        for key in STORE_SETTINGS:
            if stack is None or key not in stack.settings or (key == "metadata_password" and not mysql):
                continue
            reads = _Reads(self.variables)
            Scope(self.config, reads, stack=self.stack_name).eval(stack.settings[key])
            _require_values(self.config, reads.names & self.unset, f'stack "{self.stack_name}" reads it in {key}')

    def state_backend(self) -> StateBackend:
        """State lives beside the metadata: a MySQL metadata store keeps it in the same database."""
        url = self.static_stack_settings().get("metadata_store")
        if isinstance(url, str) and url.startswith("mysql://"):
            from zplan.metadata.urls import metadata_password
            from zplan.state.mysql import MySQLBackend

            with self.blamed_on_setting("metadata_store"):
                return MySQLBackend(url, workspace=self.stack_name, password=metadata_password(self.static_stack_settings()))
        return FileBackend(self.state_dir / "state.json")

    @contextmanager
    def blamed_on_setting(self, key: str) -> Iterator[None]:
        """Errors raised inside without a place (a malformed URL) point at the stack setting ``key``."""
        try:
            yield
        except diags.DiagnosticError as exc:
            stack = self.config.stacks.get(self.stack_name)
            expr = stack.settings.get(key) if stack is not None else None
            if expr is None:
                raise
            placed = [d if d.range else diags.Diagnostic(d.severity, d.summary, d.detail, expr.range) for d in exc.diagnostics]
            raise diags.DiagnosticError(placed) from None

    def rel(self, path: Path | str) -> str:
        try:
            return Path(path).resolve().relative_to(self.root).as_posix()
        except ValueError:
            return str(path)


class _Reads(dict):
    """Variable values that note which names were read (an unset one reads as unknown)."""

    def __init__(self, values: dict[str, Any]) -> None:
        super().__init__(values)
        self.names: set[str] = set()

    def get(self, name: str, default: Any = None) -> Any:
        self.names.add(name)
        return super().get(name, default)


def _recorded_value(state, state_dir: Path):
    """A resource attribute as state records it (unsealed, and still marked sensitive)."""
    from zplan.secrets import Sensitive, is_sealed
    from zplan.state import secrets as sealed

    def value(address: str, attr: str) -> Any:
        rec = state.resources.get(address)
        if rec is None:
            return UNKNOWN
        found = rec["attributes"].get(attr, rec.get("inputs", {}).get(attr, UNKNOWN))
        clear = sealed.unseal(found, state_dir)
        return Sensitive(clear) if attr in rec.get("sensitive", ()) or is_sealed(found) else clear

    return value


def _require_values(config: Config, names: set[str], why: str) -> None:
    if names:
        raise diags.DiagnosticError([diags.error(*variables.no_value(config, n, reading=why)) for n in sorted(names)])


def ensure_state_dir(project: Project) -> Path:
    project.state_dir.mkdir(parents=True, exist_ok=True)
    gitignore = project.state_dir / ".gitignore"
    if not gitignore.exists():
        try:
            gitignore.write_text("*\n")
        except OSError:  # a read-only folder: commands that write state say so when they lock it
            pass
    return project.state_dir


def not_a_project(root: Path) -> diags.DiagnosticError:
    return diags.fail(f"{root} holds no zplan configuration", "run `zplan init` first")
