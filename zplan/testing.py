"""A conformance suite any provider can run against its own resource types.

Subclass ``ProviderConformance`` in a test module (the name must start with
``Test`` for pytest to collect it) and describe the provider::

    class TestMyProvider(ProviderConformance):
        provider_class = MyProvider
        cases = [ResourceCase("my_bucket", create={"name": "a"}, update={"name": "a", "labels": {"x": "1"}},
                              replace={"name": "b"})]
        flags = {"my_bucket": SchemaFlags(required={"name"}, force_new={"name"})}

It checks that every schema is well formed, that the provider is installed under
its entry point, and, for each case, a whole lifecycle through the provider's own
calls: create, read back, an in-place update, a replacement forced by the core's
diff, delete, and a refresh of the deleted resource (gone, not an error). The
checks are also plain functions (``check_schemas``, ``check_lifecycle``, ...) for
providers whose resources cannot be created in a test (cloud engines).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

from zplan.provider import TYPES, Provider, ProviderContext, ProviderRegistry, ResourceChange, ResourceSchema, changed_inputs

# The Python values each schema type accepts as a default.
DEFAULT_TYPES = {"string": str, "number": (int, float), "bool": bool, "list": list, "map": dict, "any": object}


@dataclass(frozen=True)
class ResourceCase:
    """Inputs that take one resource type through its lifecycle."""

    type: str
    create: Mapping[str, Any]
    update: Mapping[str, Any] | None = None  # changes attributes that update in place
    replace: Mapping[str, Any] | None = None  # changes an attribute that forces replacement
    name: str = "conformance"


@dataclass(frozen=True)
class SchemaFlags:
    """The attribute names a type is meant to have with each flag (compared exactly)."""

    required: frozenset[str] | set[str] = frozenset()
    force_new: frozenset[str] | set[str] = frozenset()
    computed_only: frozenset[str] | set[str] | None = None  # None: not checked
    sensitive: frozenset[str] | set[str] = frozenset()


# -- checks ---------------------------------------------------------------------------------------
def check_schemas(provider_class: type[Provider]) -> None:
    """Every type is named after the provider and every attribute makes sense."""
    name = provider_class.name
    assert name and "_" not in name, f"provider name {name!r} must be set and have no underscore"
    assert provider_class.schemas, f"provider {name} declares no resource types"
    known = provider_class.known_settings()
    assert known is None or (isinstance(known, frozenset) and all(isinstance(k, str) for k in known)), \
        f"provider {name}: known_settings() gives a frozenset of setting names, or None"
    assert known is None or provider_class.sensitive_settings <= known, f"provider {name}: a sensitive setting it does not take"
    for type_, schema in provider_class.schemas.items():
        where = f"{name}: {type_}"
        assert isinstance(schema, ResourceSchema) and schema.type == type_, f"{where}: keyed under another type's schema"
        assert type_.startswith(f"{name}_"), f"{where}: resource types start with '{name}_'"
        assert schema.description, f"{where}: has no description"
        assert isinstance(schema.version, int) and schema.version >= 0, f"{where}: schema version must be an int >= 0"
        id_ = schema.attributes.get("id")
        assert id_ is not None and id_.computed and not id_.settable, f"{where}: needs a computed-only 'id'"
        for attr_name, attr in schema.attributes.items():
            here = f"{where}.{attr_name}"
            assert attr.type in TYPES, f"{here}: unknown type {attr.type!r}"
            assert not (attr.required and attr.computed), f"{here}: cannot be both required and computed"
            assert not (attr.required and attr.default is not None), f"{here}: a required attribute has no default"
            assert not attr.force_new or attr.settable, f"{here}: only a settable attribute can force replacement"
            if attr.default is not None:
                assert isinstance(attr.default, DEFAULT_TYPES[attr.type]), f"{here}: default {attr.default!r} is not a {attr.type}"


def check_flags(provider_class: type[Provider], expected: Mapping[str, SchemaFlags]) -> None:
    """Each type's required, force-new, computed-only and sensitive attributes, exactly."""
    assert set(expected) == set(provider_class.schemas), "flags are given for every type and only those"
    for type_, flags in expected.items():
        attrs = provider_class.schemas[type_].attributes
        found = SchemaFlags(
            required={n for n, a in attrs.items() if a.required},
            force_new={n for n, a in attrs.items() if a.force_new},
            computed_only={n for n, a in attrs.items() if not a.settable} if flags.computed_only is not None else None,
            sensitive={n for n, a in attrs.items() if a.sensitive},
        )
        for flag in ("required", "force_new", "computed_only", "sensitive"):
            want, got = getattr(flags, flag), getattr(found, flag)
            assert want is None or set(want) == set(got), f"{type_}: {flag} is {sorted(got)}, expected {sorted(want)}"


def check_registered(provider_class: type[Provider]) -> None:
    """The plugin is found through the ``zplan.providers`` entry point under its name."""
    registry = ProviderRegistry()
    assert registry.provider_class(provider_class.name) is provider_class, (
        f"no entry point 'zplan.providers: {provider_class.name}' for {provider_class.__name__}"
    )
    for type_, schema in provider_class.schemas.items():
        assert registry.schema(type_) is schema


def check_lifecycle(provider: Provider, case: ResourceCase) -> None:
    """create -> read -> update -> replace -> delete -> refresh, through ``apply_one``."""
    schema = provider.schemas[case.type]
    address = f"resource.{case.type}.{case.name}"
    assert provider.check(case.type, case.create) == [], f"{case.type}: check refused the create inputs"
    inputs = dict(case.create)
    attrs = _applied(provider, ResourceChange(address, case.type, case.name, "create", None, inputs))
    try:
        _check_created(provider, schema, inputs, attrs)
        if case.update is not None:
            changed = changed_inputs(schema, dict(case.update), inputs)
            assert changed, f"{case.type}: the update case changes nothing"
            assert not [k for k in changed if schema.attributes[k].force_new], f"{case.type}: the update case forces replacement"
            inputs = dict(case.update)
            attrs = _applied(provider, ResourceChange(address, case.type, case.name, "update", attrs, inputs))
            _check_created(provider, schema, inputs, attrs)
        if case.replace is not None:
            changed = changed_inputs(schema, dict(case.replace), inputs)
            assert [k for k in changed if schema.attributes[k].force_new], f"{case.type}: the replace case forces no replacement"
            old, inputs = attrs, dict(case.replace)
            attrs = _applied(provider, ResourceChange(address, case.type, case.name, "replace", old, inputs))
            _check_created(provider, schema, inputs, attrs)
            if old.get("id") != attrs.get("id"):
                assert provider.read(case.type, old) is None, f"{case.type}: the replaced object is still there"
    finally:
        deleted = provider.apply_one(ResourceChange(address, case.type, case.name, "delete", attrs, None))
    assert deleted.ok and deleted.attributes is None, f"{case.type}: delete failed: {deleted.error}"
    assert provider.read(case.type, attrs) is None, f"{case.type}: still readable after delete"
    assert provider.refresh({address: (case.type, attrs)}) == {address: None}, f"{case.type}: refresh of a deleted resource"
    again = provider.apply_one(ResourceChange(address, case.type, case.name, "delete", attrs, None))
    assert again.ok, f"{case.type}: deleting what is already gone must succeed: {again.error}"


def _applied(provider: Provider, change: ResourceChange) -> dict[str, Any]:
    result = provider.apply_one(change)
    assert result.ok, f"{change.type}: {change.action} failed: {result.error}"
    assert result.address == change.address
    return dict(result.attributes or {})


def _check_created(provider: Provider, schema: ResourceSchema, inputs: Mapping[str, Any], attrs: Mapping[str, Any]) -> None:
    unknown = set(attrs) - set(schema.attributes)
    assert not unknown, f"{schema.type}: returned attributes outside its schema: {sorted(unknown)}"
    assert attrs.get("id"), f"{schema.type}: returned no id"
    for key, value in inputs.items():
        assert attrs.get(key) == value, f"{schema.type}: input {key} = {value!r} came back as {attrs.get(key)!r}"
    assert provider.read(schema.type, attrs) == attrs, f"{schema.type}: read right after apply differs from what apply returned"


# -- the suite ------------------------------------------------------------------------------------
class ProviderConformance:
    """Mix into a ``Test...`` class and set the attributes below."""

    provider_class: type[Provider]
    cases: Sequence[ResourceCase] = ()
    flags: Mapping[str, SchemaFlags] = {}
    # Types with no lifecycle case, each with the reason (e.g. "needs a cloud account").
    without_case: Mapping[str, str] = {}

    def make_provider(self, root: Path) -> Provider:
        """A provider for a fresh project at ``root`` (override to pass a provider block)."""
        root.mkdir(parents=True, exist_ok=True)
        return self.provider_class(ProviderContext(project_dir=root, state_dir=root / ".zplan"))

    def test_schemas_are_well_formed(self) -> None:
        check_schemas(self.provider_class)

    def test_schema_flags(self) -> None:
        if self.flags:
            check_flags(self.provider_class, self.flags)

    def test_registered_under_its_entry_point(self) -> None:
        check_registered(self.provider_class)

    def test_every_type_has_a_lifecycle_case(self) -> None:
        covered = {c.type for c in self.cases} | set(self.without_case)
        assert covered == set(self.provider_class.schemas), f"no case for {sorted(set(self.provider_class.schemas) - covered)}"

    def test_lifecycle(self, tmp_path: Path) -> None:
        for case in self.cases:
            check_lifecycle(self.make_provider(tmp_path / case.type), case)
