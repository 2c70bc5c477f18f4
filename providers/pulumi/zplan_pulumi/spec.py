"""Resource type tables: how a zplan attribute maps onto a Pulumi resource.

Plain data, no ``import pulumi``: ``zplan validate`` and ``zplan plan`` read the
schemas derived from these tables without paying for (or needing) the Pulumi
SDK. Each attribute names a *path* into the Pulumi resource: ``"labels"`` is a
top-level argument, ``"versioning.enabled"`` a field of a nested object and
``"production_variants.0.model_name"`` a field of the first element of a list,
so one flat zplan attribute can fill a nested Pulumi argument without code per
type. The same path reads the value back from the resource's outputs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Mapping

from zplan.provider import Attribute, ResourceSchema

JSON = "json"  # codec: maps and lists are sent as a JSON string (IAM policies)
# codec: a step output (zplan's artifact reference) served from its s3:// folder as it is stored,
# uncompressed (SageMaker's S3DataSource with S3Prefix and no compression)
S3_PREFIX = "s3_prefix"


@dataclass(frozen=True)
class Field:
    """One zplan attribute and where it lives in the Pulumi resource."""

    attribute: Attribute
    path: str = ""  # dotted Pulumi path; empty means "same as the attribute name"
    codec: str = ""  # "" or JSON
    choices: tuple[Any, ...] = ()  # allowed values, checked offline


def arg(
    path: str = "",
    *,
    type: str = "string",
    required: bool = False,
    computed: bool = False,
    force_new: bool = False,
    sensitive: bool = False,
    default: Any = None,
    codec: str = "",
    choices: tuple[Any, ...] = (),
    doc: str = "",
) -> Field:
    """A settable attribute; ``computed`` means the cloud picks a value when unset."""
    attr = Attribute(
        type=type,
        required=required,
        optional=not required,
        computed=computed,
        force_new=force_new,
        sensitive=sensitive,
        default=default,
        description=doc,
    )
    return Field(attr, path, codec, choices)


def out(path: str = "", *, type: str = "string", doc: str = "") -> Field:
    """An attribute only the cloud sets ("known after apply")."""
    return Field(Attribute(type=type, computed=True, description=doc), path)


@dataclass(frozen=True)
class TypeMap:
    """A zplan resource type backed by one Pulumi resource class."""

    type: str  # zplan type, e.g. gcp_storage_bucket
    resource: str  # "module:Class" of the Pulumi SDK, e.g. pulumi_gcp.storage:Bucket
    token: str  # the Pulumi type token, e.g. gcp:storage/bucket:Bucket
    fields: Mapping[str, Field]
    description: str = ""
    schema: ResourceSchema = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        attrs = {name: f.attribute for name, f in self.fields.items()}
        object.__setattr__(self, "schema", ResourceSchema(self.type, attrs, self.description))

    def path(self, name: str) -> list[str]:
        return (self.fields[name].path or name).split(".")

    def settable(self) -> dict[str, Field]:
        return {n: f for n, f in self.fields.items() if f.attribute.settable}

    def readable(self) -> dict[str, Field]:
        """Attributes read back from the cloud (secrets are never read back)."""
        return {n: f for n, f in self.fields.items() if not f.attribute.sensitive}


def resource_type(type_: str, resource: str, token: str, description: str, /, **fields: Field) -> TypeMap:
    """Build a TypeMap; every resource also gets the computed ``id`` Pulumi assigns."""
    fields.setdefault("id", out(doc="the provider's identifier for the resource"))
    return TypeMap(type_, resource, token, fields, description)


def table(*maps: TypeMap) -> dict[str, TypeMap]:
    return {m.type: m for m in maps}


# -- paths ---------------------------------------------------------------------------------


def camel(name: str) -> str:
    """``storage_class`` -> ``storageClass``: the wire name Pulumi keeps in its state."""
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def set_path(target: dict[str, Any], path: list[str], value: Any) -> None:
    """Place ``value`` at ``path`` inside nested dicts/lists, creating them on the way."""
    node: Any = target
    for seg, nxt in zip(path, path[1:]):
        empty: Any = [] if nxt.isdigit() else {}
        if seg.isdigit():
            i = int(seg)
            node.extend({} for _ in range(i + 1 - len(node)))
            if not node[i]:
                node[i] = empty
            node = node[i]
        else:
            node = node.setdefault(seg, empty)
    last = path[-1]
    if last.isdigit():
        node.extend(None for _ in range(int(last) + 1 - len(node)))
        node[int(last)] = value
    else:
        node[last] = value


# How Pulumi's state marks a secret value; ``pulumi stack export --show-secrets`` adds its JSON "plaintext".
SECRET_KEY, SECRET_SIG = "4dabf18193072939515e22adb298388d", "1b47061264138c4ac30d75fd1eb44270"


def reveal(value: Any) -> Any:
    """A secret as an exported stack holds it, as its value (other values as they are)."""
    if isinstance(value, Mapping) and value.get(SECRET_KEY) == SECRET_SIG and "plaintext" in value:
        return json.loads(value["plaintext"])
    return value


def get_path(value: Any, path: list[str]) -> Any:
    """Follow ``path`` through dicts (snake or camel keys), lists, SDK output objects and the
    secrets of an exported stack (a secret input makes its whole top-level property one)."""
    for seg in path:
        value = reveal(value)
        if value is None:
            return None
        if seg.isdigit():
            i = int(seg)
            value = value[i] if isinstance(value, (list, tuple)) and i < len(value) else None
        elif isinstance(value, Mapping):
            value = value.get(seg, value.get(camel(seg)))
        else:
            value = getattr(value, seg, None)
    return reveal(value)


# -- names ---------------------------------------------------------------------------------


def logical_name(address: str, type_: str) -> str:
    """``resource.gcp_storage_bucket.artifacts`` -> ``artifacts`` (Pulumi's URN adds the type)."""
    rest = address.removeprefix("resource.")
    return rest.removeprefix(f"{type_}.")


def urn(stack: str, project: str, tm: TypeMap, address: str) -> str:
    """The URN Pulumi gives a top-level resource declared by our program."""
    return f"urn:pulumi:{stack}::{project}::{tm.token}::{logical_name(address, tm.type)}"


# -- values --------------------------------------------------------------------------------


def encode(f: Field, value: Any) -> Any:
    if f.codec == S3_PREFIX and isinstance(value, Mapping):
        return {"s3_uri": _prefix(value), "s3_data_type": "S3Prefix", "compression_type": "None"}
    if f.codec == JSON and not isinstance(value, str):
        return json.dumps(value, sort_keys=True)
    return value


def decode_like(f: Field, read: Any, recorded: Any) -> Any:
    """A read-back value, kept in the recorded form when it means the same thing.

    Clouds normalise JSON documents (key order, spacing), so a policy written as
    a map must not look drifted because it comes back as a reformatted string.
    """
    if f.codec == S3_PREFIX:
        uri = get_path(read, ["s3_uri"])
        return recorded if isinstance(recorded, Mapping) and uri == _prefix(recorded) else read
    if f.codec != JSON or not isinstance(read, str):
        return read
    try:
        parsed = json.loads(read)
    except ValueError:
        return read
    if isinstance(recorded, str):
        try:
            return recorded if json.loads(recorded) == parsed else read
        except ValueError:
            return read
    return parsed


def _prefix(artifact: Mapping[str, Any]) -> str:
    return str(artifact.get("uri", "")).rstrip("/") + "/"


def args_for(tm: TypeMap, values: Mapping[str, Any], wrap_secret=lambda v: v, secret: frozenset[str] = frozenset()) -> dict[str, Any]:
    """Pulumi constructor arguments (snake_case, nested) from zplan attribute values.

    Attributes that are unset (None) or computed-only are left out so the
    cloud's defaults apply; ``wrap_secret`` marks sensitive values, and those
    ``secret`` names (set from a sensitive value), as secrets (it is
    ``pulumi.Output.secret`` at apply time).
    """
    args: dict[str, Any] = {}
    for name, f in tm.settable().items():
        value = values.get(name, f.attribute.default)
        if value is None:
            continue
        value = encode(f, value)
        set_path(args, tm.path(name), wrap_secret(value) if f.attribute.sensitive or name in secret else value)
    return args


def read_wire(
    tm: TypeMap, resource_id: str | None, outputs: Mapping[str, Any], recorded: Mapping[str, Any]
) -> dict[str, Any]:
    """zplan attributes from a resource's state as Pulumi stores it (camelCase names).

    Used for ``refresh`` and for what an engine event reports; sensitive
    attributes keep their recorded values because the engine masks secrets.
    """
    attrs: dict[str, Any] = {}
    for name, f in tm.fields.items():
        if f.attribute.sensitive:
            if name in recorded:
                attrs[name] = recorded[name]
            continue
        if name == "id" and not f.path:
            attrs[name] = resource_id
            continue
        wire = [seg if seg.isdigit() else camel(seg) for seg in tm.path(name)]
        attrs[name] = decode_like(f, get_path(outputs, wire), recorded.get(name))
    return attrs


def merge_result(tm: TypeMap, read: Mapping[str, Any], desired: Mapping[str, Any]) -> dict[str, Any]:
    """The attributes recorded after apply: what the user asked for, then what the cloud chose.

    Settable values the user gave are kept as given (a cloud that reformats
    them must not cause a diff on the next plan); everything else, including
    optional values the cloud filled in, comes from the read-back.
    """
    attrs = {k: v for k, v in read.items() if k in tm.fields}
    for name in tm.settable():
        value = desired.get(name)
        if value is not None:
            attrs[name] = value
    return attrs


def check_values(tm: TypeMap, values: Mapping[str, Any]) -> list[str]:
    """Offline checks beyond the schema: allowed values."""
    errors = []
    for name, f in tm.fields.items():
        value = values.get(name)
        # only literal values: a reference still unknown at plan time is checked at apply
        literal = isinstance(value, (str, int, float, bool))
        if f.codec == S3_PREFIX and isinstance(value, Mapping) and not str(value.get("uri", "")).startswith("s3://"):
            errors.append(f"{tm.type}.{name} must be a step output kept in an s3:// artifact store, not {value.get('uri')!r}")
        if f.choices and literal and value not in f.choices:
            allowed = ", ".join(repr(c) for c in f.choices)
            errors.append(f"{tm.type}.{name} must be one of {allowed}, not {value!r}")
    return errors
