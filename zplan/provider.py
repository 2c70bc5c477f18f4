"""The provider contract and the plugin registry.

A provider manages resource types whose names start with its own name and an
underscore (``local_directory`` belongs to ``local``), as in Terraform. Providers
are found through the ``zplan.providers`` entry-point group, so a new provider is
a separate package that never edits the core.

The contract is deliberately small (check, read, create, update, delete, plus a
batch ``apply``): the core does the diffing from each type's schema, so a
provider only says which attributes exist, which force replacement and which are
secret. Providers that work declaratively (Pulumi) set ``declarative`` and
override ``apply`` and ``destroy`` to handle all of their changes in one engine
run; those that cannot take two applies at once clear ``concurrent_applies`` and
the core serialises their calls. Each resource type has a schema ``version``:
state records it, and ``upgrade_state`` brings older records up to date.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping

from zplan.actions import Action  # noqa: F401 (part of the provider contract: providers import it from here)

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

ENTRY_POINT_GROUP = "zplan.providers"


# Attribute value types a schema may declare: plan checks each configured value against its
# attribute's type, converting as Terraform does ("3" is a number), before any provider call.
TYPES = ("string", "number", "bool", "list", "map", "any")


@dataclass(frozen=True)
class Attribute:
    """One attribute of a resource type."""

    type: str = "any"  # one of TYPES; an attribute that declares none takes any value
    required: bool = False
    optional: bool = False  # may be set by the user; with computed, the provider fills it when unset
    computed: bool = False  # set by the provider; "(known after apply)" until then
    force_new: bool = False  # a change replaces the resource instead of updating it
    sensitive: bool = False  # never printed, never stored in clear in plan files
    default: Any = None
    description: str = ""

    def __post_init__(self) -> None:
        if self.type not in TYPES:
            raise ValueError(f"unknown attribute type {self.type!r}; expected one of {TYPES}")
        if not (self.required or self.optional or self.computed):
            raise ValueError("an attribute must be required, optional or computed")

    @property
    def settable(self) -> bool:
        return self.required or self.optional


@dataclass(frozen=True)
class ResourceSchema:
    """What a resource type accepts and returns, known without any cloud call."""

    type: str
    attributes: Mapping[str, Attribute]
    description: str = ""
    # Bumped when the shape of the recorded attributes changes; state records it
    # with each resource and older records go through ``Provider.upgrade_state``.
    version: int = 0

    def inputs(self) -> dict[str, Attribute]:
        """Attributes a user may set."""
        return {k: a for k, a in self.attributes.items() if a.settable}

    def sensitive_names(self) -> set[str]:
        return {k for k, a in self.attributes.items() if a.sensitive}


@dataclass(frozen=True)
class ProviderContext:
    """Where a provider may keep files and how it reports progress."""

    project_dir: Path
    state_dir: Path  # the project's .zplan folder
    config: Mapping[str, Any] = field(default_factory=dict)  # the provider "NAME" { } block
    log: Callable[[str], None] = lambda msg: None
    # settings whose value holds a secret (read from a sensitive variable), whatever
    # ``sensitive_settings`` says: a provider keeps them out of sight too
    secret_settings: frozenset[str] = frozenset()


@dataclass(frozen=True)
class ResourceChange:
    """One resource operation handed to a provider's ``apply``."""

    address: str  # resource.TYPE.NAME
    type: str
    name: str
    action: Action  # CREATE | UPDATE | REPLACE | DELETE | NOOP (a plain string is converted)
    before: Mapping[str, Any] | None  # recorded attributes (None on create)
    after: Mapping[str, Any] | None  # desired inputs (None on delete)
    create_before_destroy: bool = False
    # inputs holding a secret though the schema does not mark them sensitive (set from a sensitive
    # variable): a provider keeps them out of sight as it keeps its sensitive attributes
    sensitive: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        object.__setattr__(self, "action", Action(self.action))
        object.__setattr__(self, "sensitive", frozenset(self.sensitive))


@dataclass(frozen=True)
class ResourceResult:
    """What happened to one change: the new attributes, or an error."""

    address: str
    attributes: Mapping[str, Any] | None  # None after a delete or a failure
    error: str | None = None
    old_deleted: bool = False  # a failed replacement whose old object was deleted first: nothing is left

    @property
    def ok(self) -> bool:
        return self.error is None


class ProviderError(Exception):
    """A provider failed in a way the user must act on (message is shown as is)."""


class Provider:
    """Base class for providers. Subclasses set ``name`` and ``schemas``.

    Per-resource providers implement ``create/read/update/delete``; the default
    ``apply`` calls them one change at a time. Engines that plan and apply a
    whole program at once override ``apply``/``destroy``/``refresh``.
    """

    name: str = ""
    schemas: Mapping[str, ResourceSchema] = {}
    # True when ``read`` only looks at this machine (free, no credentials), so
    # every plan refreshes these resources; others refresh only with -refresh.
    refresh_is_local: bool = False
    # True when ``apply`` needs the whole desired set: each call then also lists
    # every other recorded resource of this provider with action ``Action.NOOP``.
    declarative: bool = False
    # False when two ``apply``/``destroy`` calls must never overlap (one engine
    # run per stack): the core then makes them one at a time.
    concurrent_applies: bool = True

    # Settings of the provider block whose values are secret (credentials): when a resource
    # takes one (``settings_taken``), state records a digest of it, never the value.
    sensitive_settings: frozenset[str] = frozenset()
    # The settings its ``provider "NAME" { }`` block takes (``known_settings``): another one is a
    # plan error naming it; None leaves the block unchecked (a provider that declares none).
    settings: frozenset[str] | None = None

    def __init__(self, context: ProviderContext) -> None:
        self.context = context

    @classmethod
    def known_settings(cls) -> frozenset[str] | None:
        """The settings the provider block may set, asked offline before any instance is made; None
        when the provider does not say (then any is taken). Override it when they are found at run
        time (the settings of an installed cloud SDK)."""
        return cls.settings

    def settings_taken(self, type_: str) -> Mapping[str, str]:
        """The settings of the provider block a resource of ``type_`` takes when it leaves the
        attribute they fill unset: setting -> that attribute, or "" when no attribute shows it
        (AWS's region places every regional resource). A change of one changes each resource
        taking it, as the attribute's ``force_new`` says ("" always replaces); state records
        the values each resource was applied with."""
        return {}

    def setting_value(self, setting: str) -> Any:
        """The value of a setting resources take (``settings_taken``): the provider block's, else
        where the provider looks when the block leaves it unset (an environment variable); None
        when it cannot be known offline (it is then not compared)."""
        return self.context.config.get(setting)

    # -- offline: used by validate and plan -------------------------------------------
    def check(self, type_: str, inputs: Mapping[str, Any]) -> list[str]:
        """Provider-specific validation beyond the schema; returns error messages."""
        return []

    def preflight(self) -> None:
        """Fail fast, before anything changes, when apply cannot work (missing CLI, ...)."""

    # -- per-resource CRUD ------------------------------------------------------------
    def create(self, type_: str, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
        """``name``: the instance's own (``api["eu"]``), after its module path inside a module
        (``module.serving["dev"].server``): unique in the project."""
        raise NotImplementedError

    def read(self, type_: str, attributes: Mapping[str, Any]) -> dict[str, Any] | None:
        """Current attributes of a recorded resource, or None when it is gone."""
        return dict(attributes)

    def update(self, type_: str, before: Mapping[str, Any], inputs: Mapping[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def delete(self, type_: str, attributes: Mapping[str, Any]) -> None:
        raise NotImplementedError

    def import_resource(self, type_: str, id_: str) -> dict[str, Any]:
        raise ProviderError(f"provider {self.name!r} cannot import {type_} resources")

    def same_input(self, type_: str, name: str, imported: Any, configured: Any) -> bool:
        """Whether input ``name`` as an import read it and as the configuration spells it name the
        same thing (a path given absolute, configured relative): the import then records the
        configured spelling, so the next plan changes nothing; a plan takes a recorded input the
        same as the configured one as unchanged. The default compares the values."""
        return imported == configured

    def deletes_with(self, type_: str, attributes: Mapping[str, Any], other_type: str, other: Mapping[str, Any]) -> bool:
        """Whether deleting this object (of ``type_``, as recorded) deletes the other one of this
        provider too (a folder and a file inside it): a replacement of the first replaces the
        second, and the plan says so. The default: objects are independent."""
        return False

    def leftover(self, type_: str, name: str, inputs: Mapping[str, Any]) -> dict[str, Any] | None:
        """The attributes of an object this provider made for resource ``name`` whose create
        was cut short (a killed apply) before state recorded it, if it is still there;
        ``inputs`` are the ones now configured. Asked at plan time of ``refresh_is_local``
        providers only; the core adopts what it gets (and the plan diffs it as usual)."""
        return None

    # -- state written by an older version of this provider ----------------------------
    @classmethod
    def upgrade_state(cls, type_: str, from_version: int, attributes: Mapping[str, Any]) -> dict[str, Any]:
        """Recorded values of ``type_`` written under schema ``from_version``, in the
        shape of the current ``schemas[type_].version``.

        Called by the core, offline and before any read or diff, for the recorded
        attributes and again for the recorded inputs (a subset of the same keys),
        whenever state holds an older version. Override it when a new version renames
        or converts attributes (as Terraform providers do with their state upgraders);
        the default keeps the values as they are. Raise ``ProviderError`` for a
        version that cannot be upgraded.
        """
        return dict(attributes)

    # -- batch entry points used by the applier ----------------------------------------
    def apply(self, changes: list[ResourceChange], on_result: Callable[[ResourceResult], None]) -> None:
        """Apply one wave of changes whose dependencies are already applied.

        For a ``declarative`` provider, ``changes`` also lists every other resource
        of this provider that should keep existing, with action ``Action.NOOP`` (before ==
        after): its engine needs the whole desired set. Report each result through
        ``on_result`` as it lands (noops need none).
        """
        for change in changes:
            if change.action != Action.NOOP:
                on_result(self.apply_one(change))

    def destroy(self, changes: list[ResourceChange], on_result: Callable[[ResourceResult], None]) -> None:
        """Delete resources (all changes have action ``Action.DELETE``), dependents first."""
        self.apply(changes, on_result)

    def apply_one(self, change: ResourceChange) -> ResourceResult:
        deleted = False  # a replacement's old object, once gone
        try:
            if change.action == Action.CREATE:
                attrs = self.create(change.type, change.name, change.after or {})
            elif change.action == Action.UPDATE:
                attrs = self.update(change.type, change.before or {}, change.after or {})
            elif change.action == Action.REPLACE:
                if change.create_before_destroy:
                    attrs = self.create(change.type, change.name, change.after or {})
                    if not same_object(change.before, attrs):  # else the create took the old one over
                        self.delete(change.type, change.before or {})
                else:
                    self.delete(change.type, change.before or {})
                    deleted = True
                    attrs = self.create(change.type, change.name, change.after or {})
            elif change.action == Action.DELETE:
                self.delete(change.type, change.before or {})
                attrs = None
            else:
                raise ValueError(f"unknown action {change.action!r}")
        except ProviderError as exc:
            return ResourceResult(change.address, None, str(exc), deleted)
        except Exception as exc:  # a provider bug or an environment failure: keep the message
            return ResourceResult(change.address, None, f"{type(exc).__name__}: {exc}", deleted)
        return ResourceResult(change.address, attrs)

    def refresh(self, resources: Mapping[str, tuple[str, Mapping[str, Any]]]) -> dict[str, dict[str, Any] | None]:
        """Read back every recorded resource {address: (type, attrs)} -> attrs or None."""
        return {addr: self.read(type_, attrs) for addr, (type_, attrs) in resources.items()}


def same_object(old: Mapping[str, Any] | None, new: Mapping[str, Any] | None) -> bool:
    """Whether a create-before-destroy replacement's new object is its old one (a folder created
    again at its path is the same folder): deleting the old one would delete what was just made."""
    old_id, new_id = (old or {}).get("id"), (new or {}).get("id")
    return old_id is not None and old_id == new_id


def provider_name_for(type_: str) -> str:
    """``gcp_storage_bucket`` -> ``gcp``."""
    return type_.split("_", 1)[0]


def changed_inputs(schema: ResourceSchema, desired: dict[str, Any], recorded: dict[str, Any], ignored=(),
                   current: Mapping[str, Any] | None = None) -> list[str]:
    """The settable attributes whose desired value differs from the recorded input.

    An optional+computed attribute the configuration sets now, left to the provider until
    then, is compared with what the provider chose (``current``, the recorded attributes):
    setting it to the value it has changes nothing, as in Terraform. A value known only
    after apply is a singleton compared by identity, so it never equals a recorded (JSON)
    value: such an attribute always counts as changed.
    """
    current = current or {}

    def before(k: str) -> Any:
        return current.get(k) if k not in recorded and schema.attributes[k].computed else recorded.get(k)

    return [
        k for k in sorted(set(desired) | set(recorded))
        if k not in ignored and k in schema.attributes and schema.attributes[k].settable
        and not (k not in desired and schema.attributes[k].computed)  # unset optional+computed: the provider's choice
        and desired.get(k) != before(k)
    ]


def available_providers() -> dict[str, "EntryPoint"]:
    from importlib import metadata  # ~0.1 s to import: only when a resource needs a provider

    return {ep.name: ep for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)}


def plugin_version(name: str) -> str | None:
    """The version of the package installing provider ``name``; None when no package does."""
    ep = available_providers().get(name)
    return ep.dist.version if ep is not None and ep.dist is not None else None


def _registration(name: str) -> "EntryPoint | None":
    """The one entry point registering provider ``name``; two packages registering it is a user
    error naming both (which one served would depend on the order of the path)."""
    from importlib import metadata

    from zplan import diags

    found = list(metadata.entry_points(group=ENTRY_POINT_GROUP, name=name))
    if len(found) > 1:
        packages = ", ".join(sorted(f"{ep.dist.name} {ep.dist.version} ({ep.value})" if ep.dist else ep.value for ep in found))
        raise diags.fail(f'provider "{name}" is installed by more than one package: {packages}',
                         "uninstall all but the one to use")
    return found[0] if found else None


def _load(name: str, ep: "EntryPoint") -> type[Provider]:
    """A plugin's class; a plugin that fails to import (a dependency missing or broken) is a user
    error naming it and its package, not an internal error of zplan."""
    from zplan import diags

    package = f" (package {ep.dist.name} {ep.dist.version})" if ep.dist is not None else ""
    try:
        cls = ep.load()
    except Exception as exc:  # noqa: BLE001 - whatever its import raises
        raise diags.fail(f'provider plugin "{name}" cannot be loaded: {type(exc).__name__}: {exc}',
                         f"importing its entry point {ep.value}{package} failed: reinstall the package and its dependencies, "
                         "or uninstall it") from None
    if not (isinstance(cls, type) and issubclass(cls, Provider)):  # else the first use fails deep inside the core
        what = f"class {cls.__name__!r}" if isinstance(cls, type) else f"{type(cls).__name__} {getattr(cls, '__name__', '')!r}"
        raise diags.fail(f'provider plugin "{name}" cannot be loaded: its entry point {ep.value}{package} is not a provider class',
                         f"it names {what}, not a subclass of zplan.provider.Provider: fix the package's "
                         f"{ENTRY_POINT_GROUP} entry point, or uninstall it")
    return cls


def block_settings(project: Any, name: str, resource_value: Callable[[str, str], Any] | None = None) -> dict[str, Any]:
    """The project's ``provider "name"`` block as it evaluates now (none: no settings)."""
    block = project.config.providers.get(name)
    if block is None:
        return {}
    scope = project.scope(resource_value)
    return {key: scope.eval(expr) for key, expr in block.settings.items()}


class ProviderRegistry:
    """Loads provider plugins lazily: only those whose resource types are used."""

    def __init__(self, extra: Mapping[str, type[Provider]] | None = None) -> None:
        self._extra = dict(extra or {})
        self._classes: dict[str, type[Provider]] = {}

    def provider_class(self, name: str) -> type[Provider] | None:
        if name in self._extra:
            return self._extra[name]
        if name not in self._classes:
            ep = _registration(name)
            if ep is None:
                return None
            self._classes[name] = _load(name, ep)
        return self._classes[name]

    def open(self, name: str, project: Any, resource_value: Callable[[str, str], Any] | None = None,
             log: Callable[[str], None] | None = None) -> Provider:
        """An instance of provider ``name`` configured by the project's ``provider "name"`` block.

        The block is evaluated here, once, in the project's scope (``resource_value``
        resolves ``resource.T.N.attr`` during an apply); apply, refresh and import all
        open providers this way, so each sees the same settings. ``log`` shows a
        provider's progress (a long first-time setup) to the user.
        """
        from zplan import diags

        cls = self.provider_class(name)
        if cls is None:
            raise diags.fail(f'no installed provider "{name}"', "install its plugin package (see `zplan providers`)")
        from zplan.secrets import holds_secret

        settings = block_settings(project, name, resource_value)
        secret = frozenset(k for k, v in settings.items() if holds_secret(v, project.secrets))
        return cls(ProviderContext(project.root, project.state_dir, settings, log or (lambda msg: None), secret))

    def schema(self, type_: str) -> ResourceSchema | None:
        cls = self.provider_class(provider_name_for(type_))
        return None if cls is None else cls.schemas.get(type_)

    def names(self) -> list[str]:
        return sorted(set(available_providers()) | set(self._extra))
