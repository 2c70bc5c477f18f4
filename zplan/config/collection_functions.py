"""HCL collection functions: length, concat, keys, merge, lookup, flatten, zipmap, ..."""

from __future__ import annotations

from typing import Any

from zplan.config.function_args import FunctionError, as_list, as_map, as_string, as_whole, characters, register
from zplan.config.values import equal, type_name


# -- collections ------------------------------------------------------------------------


@register("length(list | map | string)", 1)
def _length(value: Any) -> int:
    if isinstance(value, str):
        return len(characters(value))
    if isinstance(value, (list, tuple, dict)):
        return len(value)
    raise FunctionError(f"argument must be a list, map or string, got {type_name(value)}")


@register("concat(list, ...)", 1, None)
def _concat(*lists: Any) -> list:
    return [item for value in lists for item in as_list(value, "each argument")]


@register("keys(map)", 1)
def _keys(value: Any) -> list[str]:
    return sorted(as_map(value))


@register("values(map)", 1)
def _values(value: Any) -> list:
    mapping = as_map(value)
    return [mapping[k] for k in sorted(mapping)]


@register("merge(map, ...)", 1, None)
def _merge(*maps: Any) -> dict:
    merged: dict = {}
    for value in maps:
        if value is not None:
            merged.update(as_map(value, "each argument"))
    return merged


@register("lookup(map, key, default?)", 2, 3)
def _lookup(mapping: Any, key: Any, *default: Any) -> Any:
    mapping, name = as_map(mapping), as_string(key, "key")
    if name in mapping:
        return mapping[name]
    if default:
        return default[0]
    raise FunctionError(f'no key "{name}" in the map and no default given')


@register("contains(list, value)", 2)
def _contains(values: Any, value: Any) -> bool:
    return any(equal(item, value) for item in as_list(values))


@register("element(list, index)", 2)
def _element(values: Any, index: Any) -> Any:
    items, i = as_list(values), as_whole(index, "index")
    if not items:
        raise FunctionError("cannot take an element of an empty list")
    if i < 0:
        raise FunctionError("index must not be negative")
    return items[i % len(items)]


@register("slice(list, start, end)", 3)
def _slice(values: Any, start: Any, end: Any) -> list:
    items, a, b = as_list(values), as_whole(start, "start"), as_whole(end, "end")
    if not 0 <= a <= b <= len(items):
        raise FunctionError(f"start {a} and end {b} must satisfy 0 <= start <= end <= {len(items)}")
    return items[a:b]


@register("reverse(list)", 1)
def _reverse(values: Any) -> list:
    return as_list(values)[::-1]


@register("flatten(list)", 1)
def _flatten(values: Any) -> list:
    flat: list = []
    for item in as_list(values):
        flat.extend(_flatten(item) if isinstance(item, (list, tuple)) else [item])
    return flat


@register("distinct(list)", 1)
def _distinct(values: Any) -> list:
    kept: list = []
    for item in as_list(values):
        if not any(equal(item, k) for k in kept):
            kept.append(item)
    return kept


@register("compact(list)", 1)
def _compact(values: Any) -> list:
    return [item for item in as_list(values) if item is not None and item != ""]


@register("sort(list)", 1)
def _sort(values: Any) -> list[str]:
    return sorted(as_string(v, "each element") for v in as_list(values))


@register("zipmap(keys, values)", 2)
def _zipmap(keys: Any, values: Any) -> dict:
    names, items = as_list(keys, "keys"), as_list(values, "values")
    if len(names) != len(items):
        raise FunctionError(f"{len(names)} keys but {len(items)} values")
    return {as_string(k, "each key"): v for k, v in zip(names, items)}


@register("coalesce(value, ...)", 1, None)
def _coalesce(*values: Any) -> Any:
    for value in values:
        if value is not None and value != "":
            return value
    raise FunctionError("every argument is null or an empty string")


@register("toset(list)", 1)
def _toset(values: Any) -> list:
    from zplan.config.convert import ConversionError, to_set

    try:
        return to_set(as_list(values))
    except ConversionError as exc:
        raise FunctionError(exc.message) from None


@register("tomap(object)", 1)
def _tomap(value: Any) -> dict:
    from zplan.config.convert import ConversionError, unify

    mapping = as_map(value)
    try:
        return dict(zip(mapping, unify(list(mapping.values()))))
    except ConversionError as exc:
        raise FunctionError(exc.message) from None
