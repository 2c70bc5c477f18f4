"""HCL's set and list functions beyond the basic ones: setproduct (the grid of a sweep),
setunion, setintersection, setsubtract, tolist, index, one, alltrue, anytrue, chunklist,
coalescelist, transpose. Sets are ``SetValue`` lists in a canonical order (``convert.to_set``)."""

from __future__ import annotations

import itertools
from typing import Any

from zplan.config.function_args import FunctionError, as_list, as_map, as_string, as_whole, register
from zplan.config.values import SetValue, equal, type_name


def _set(items: list) -> SetValue:
    from zplan.config.convert import ConversionError, to_set

    try:
        return to_set(items)
    except ConversionError as exc:
        raise FunctionError(exc.message) from None


def _sets(values: tuple, what: str = "each argument") -> list[list]:
    return [as_list(value, what) for value in values]


@register("setproduct(sets...)", 2, None)
def _setproduct(*values: Any) -> list:
    """Every combination taking one element of each argument, the first argument varying slowest
    (``setproduct(["a", "b"], [1, 2])`` is ``[["a", 1], ["a", 2], ["b", 1], ["b", 2]]``): a set when
    every argument is one, else a list, as in Terraform."""
    combos = [list(combo) for combo in itertools.product(*_sets(values))]
    return SetValue(combos) if all(isinstance(v, SetValue) for v in values) else combos


@register("setunion(sets...)", 1, None)
def _setunion(*values: Any) -> SetValue:
    return _set([item for items in _sets(values) for item in items])


@register("setintersection(sets...)", 1, None)
def _setintersection(first: Any, *others: Any) -> SetValue:
    rest = _sets(others)
    return _set([item for item in as_list(first, "each argument") if all(any(equal(item, o) for o in other) for other in rest)])


@register("setsubtract(a, b)", 2)
def _setsubtract(a: Any, b: Any) -> SetValue:
    removed = as_list(b, "the second argument")
    return _set([item for item in as_list(a, "the first argument") if not any(equal(item, r) for r in removed)])


@register("tolist(set)", 1)
def _tolist(value: Any) -> list | None:
    return None if value is None else list(as_list(value))


@register("index(list, value)", 2)
def _index(values: Any, value: Any) -> int:
    for i, item in enumerate(as_list(values)):
        if equal(item, value):
            return i
    raise FunctionError("the value is not in the list")


@register("one(list)", 1)
def _one(values: Any) -> Any:
    """null for an empty list, its element for a list of one; more is an error."""
    items = as_list(values)
    if len(items) > 1:
        raise FunctionError(f"the list must have no more than one element, it has {len(items)}", quotes_values=False)
    return items[0] if items else None


def _bools(values: Any) -> list[bool]:
    found = []
    for item in as_list(values):
        if isinstance(item, bool) or item in ("true", "false"):  # Terraform converts the two strings
            found.append(item in (True, "true"))
        else:
            raise FunctionError(f"each element must be true or false, got {type_name(item)}", quotes_values=False)
    return found


@register("alltrue(list)", 1)
def _alltrue(values: Any) -> bool:
    return all(_bools(values))


@register("anytrue(list)", 1)
def _anytrue(values: Any) -> bool:
    return any(_bools(values))


@register("chunklist(list, size)", 2)
def _chunklist(values: Any, size: Any) -> list[list]:
    """``values`` cut into lists of ``size`` elements (the last one shorter); size 0 gives the whole
    list as one chunk, as in Terraform."""
    items, n = as_list(values), as_whole(size, "size")
    if n < 0:
        raise FunctionError("size must not be negative")
    if n == 0:
        return [items] if items else []
    return [items[i : i + n] for i in range(0, len(items), n)]


@register("coalescelist(lists...)", 1, None)
def _coalescelist(*values: Any) -> list:
    for items in _sets(values):
        if items:
            return items
    raise FunctionError("every argument is an empty list", quotes_values=False)


@register("transpose(map of lists)", 1)
def _transpose(value: Any) -> dict[str, list[str]]:
    """``{"a" = ["1", "2"], "b" = ["2"]}`` becomes ``{"1" = ["a"], "2" = ["a", "b"]}``."""
    out: dict[str, list[str]] = {}
    for key in sorted(as_map(value)):
        for item in as_list(value[key], "each value"):
            out.setdefault(as_string(item, "each element"), []).append(key)
    return {k: out[k] for k in sorted(out)}
