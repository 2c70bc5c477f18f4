"""The functions HCL expressions may call: a small subset of Terraform's, same semantics.

Each function takes evaluated Python values and raises ``FunctionError`` with a
short message for bad arguments; the calling expression turns that into a
diagnostic with its file and line. Arguments that are ``UNKNOWN`` make the
result ``UNKNOWN``; symbolic values (step outputs) cannot be passed at all,
since their content exists only when the step runs.
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass
from typing import Any, Callable

from zplan.config.values import (
    UNKNOWN,
    article,
    contains_unknown,
    equal,
    find_symbolic,
    is_number,
    number_to_string,
    to_text,
    type_name,
)

RANGE_LIMIT = 10_000  # range() guards against typos such as range(1e9)


class FunctionError(Exception):
    """A bad argument; the message completes "NAME(): ..."."""


@dataclass(frozen=True)
class Function:
    name: str
    impl: Callable[..., Any]
    min_args: int
    max_args: int | None  # None: any number
    usage: str

    def call(self, args: list[Any]) -> Any:
        if len(args) < self.min_args or (self.max_args is not None and len(args) > self.max_args):
            raise FunctionError(f"expected {self._arity()}, got {len(args)}")
        for arg in args:
            symbolic = find_symbolic(arg)
            if symbolic is not None:
                raise FunctionError(f"{symbolic} is known only when it runs, so it cannot be passed to a function")
        if any(contains_unknown(arg) for arg in args):
            return UNKNOWN
        return self.impl(*args)

    def _arity(self) -> str:
        if self.max_args == self.min_args:
            return f"{self.min_args} argument{'s' if self.min_args != 1 else ''}"
        if self.max_args is None:
            return f"at least {self.min_args} argument{'s' if self.min_args != 1 else ''}"
        return f"{self.min_args} to {self.max_args} arguments"


FUNCTIONS: dict[str, Function] = {}


def _register(usage: str, min_args: int, max_args: int | None = -1) -> Callable:
    """Declare a function by its usage line, e.g. ``_register("upper(string)", 1)``."""

    def add(impl: Callable) -> Callable:
        name = usage.split("(", 1)[0]
        FUNCTIONS[name] = Function(name, impl, min_args, min_args if max_args == -1 else max_args, usage)
        return impl

    return add


# -- argument checks --------------------------------------------------------------------


def _string(value: Any, what: str = "argument") -> str:
    text = to_text(value)
    if text is None:
        raise FunctionError(f"{what} must be a string, got {type_name(value)}")
    return text


def _number(value: Any, what: str = "argument") -> int | float:
    if is_number(value):
        return value
    if isinstance(value, str):
        parsed = _parse_number(value)
        if parsed is not None:
            return parsed
    raise FunctionError(f"{what} must be a number, got {type_name(value)}")


def _whole(value: Any, what: str = "argument") -> int:
    number = _number(value, what)
    if isinstance(number, float) and not number.is_integer():
        raise FunctionError(f"{what} must be a whole number, got {number_to_string(number)}")
    return int(number)


def _list(value: Any, what: str = "argument") -> list:
    if not isinstance(value, (list, tuple)):
        raise FunctionError(f"{what} must be a list, got {type_name(value)}")
    return list(value)


def _map(value: Any, what: str = "argument") -> dict:
    if not isinstance(value, dict):
        raise FunctionError(f"{what} must be a map or object, got {type_name(value)}")
    return value


def _parse_number(text: str) -> int | float | None:
    text = text.strip()
    try:
        return int(text)
    except ValueError:
        pass
    try:
        number = float(text)
    except ValueError:
        return None
    return None if math.isinf(number) or math.isnan(number) else number


# -- strings ----------------------------------------------------------------------------


@_register("upper(string)", 1)
def _upper(s: Any) -> str:
    return _string(s).upper()


@_register("lower(string)", 1)
def _lower(s: Any) -> str:
    return _string(s).lower()


@_register("trimspace(string)", 1)
def _trimspace(s: Any) -> str:
    return _string(s).strip()


@_register("trimprefix(string, prefix)", 2)
def _trimprefix(s: Any, prefix: Any) -> str:
    return _string(s).removeprefix(_string(prefix, "prefix"))


@_register("trimsuffix(string, suffix)", 2)
def _trimsuffix(s: Any, suffix: Any) -> str:
    return _string(s).removesuffix(_string(suffix, "suffix"))


@_register("startswith(string, prefix)", 2)
def _startswith(s: Any, prefix: Any) -> bool:
    return _string(s).startswith(_string(prefix, "prefix"))


@_register("endswith(string, suffix)", 2)
def _endswith(s: Any, suffix: Any) -> bool:
    return _string(s).endswith(_string(suffix, "suffix"))


@_register("join(separator, list, ...)", 2, None)
def _join(sep: Any, *lists: Any) -> str:
    items = [item for value in lists for item in _list(value, "each argument after the separator")]
    return _string(sep, "separator").join(_string(item, "each element") for item in items)


@_register("split(separator, string)", 2)
def _split(sep: Any, s: Any) -> list[str]:
    separator = _string(sep, "separator")
    text = _string(s)
    if not separator:
        raise FunctionError("separator must not be empty")
    return [] if text == "" else text.split(separator)


@_register("replace(string, search, replacement)", 3)
def _replace(s: Any, search: Any, replacement: Any) -> str:
    text, pattern, new = _string(s), _string(search, "search"), _string(replacement, "replacement")
    if len(pattern) > 1 and pattern.startswith("/") and pattern.endswith("/"):
        try:
            regex = re.compile(pattern[1:-1])
        except re.error as exc:
            raise FunctionError(f"invalid regular expression {pattern}: {exc}") from None
        # Terraform writes captures as $1 or ${1}; Python wants \g<1>
        return regex.sub(re.sub(r"\$\{?(\w+)\}?", r"\\g<\1>", new.replace("\\", "\\\\")), text)
    return text.replace(pattern, new)


@_register("substr(string, offset, length)", 3)
def _substr(s: Any, offset: Any, length: Any) -> str:
    text, start, count = _string(s), _whole(offset, "offset"), _whole(length, "length")
    if start < 0:
        start += len(text)
    if not 0 <= start <= len(text):
        raise FunctionError(f"offset {_whole(offset)} is outside the string (length {len(text)})")
    if count < -1:
        raise FunctionError("length must be -1 (the rest of the string) or more")
    return text[start:] if count == -1 else text[start : start + count]


@_register("format(spec, values...)", 1, None)
def _format(spec: Any, *values: Any) -> str:
    return _Formatter(_string(spec, "the format"), list(values)).run()


class _Formatter:
    """Terraform's format(): %s %d %f %g %e %x %o %b %t %q %v with flags, width and precision."""

    VERB = re.compile(r"%([-+ #0]*)(\d*)(?:\.(\d+))?([a-zA-Z%])")

    def __init__(self, spec: str, values: list[Any]) -> None:
        self.spec = spec
        self.values = values
        self.used = 0

    def run(self) -> str:
        text = self.VERB.sub(self._verb, self.spec)
        if self.used < len(self.values):
            raise FunctionError(f"too many arguments: the format uses {self.used}, got {len(self.values)}")
        return text

    def _next(self, verb: str) -> Any:
        if self.used >= len(self.values):
            raise FunctionError(f"not enough arguments for %{verb}: the format needs more than {len(self.values)}")
        self.used += 1
        return self.values[self.used - 1]

    def _verb(self, m: re.Match) -> str:
        flags, width, precision, verb = m.groups()
        if verb == "%":
            return "%"
        value = self._next(verb)
        spec = f"%{flags}{width}{'.' + precision if precision else ''}"
        if verb in "dboxX":
            number = _whole(value, f"the value for %{verb}")
            return format(number, f"{flags.replace(' ', '')}{width}b") if verb == "b" else (spec + verb) % number
        if verb in "eEfFgG":
            return (spec + verb) % _number(value, f"the value for %{verb}")
        if verb == "t":
            if not isinstance(value, bool):
                raise FunctionError(f"the value for %t must be a bool, got {type_name(value)}")
            return (spec + "s") % ("true" if value else "false")
        if verb == "s":
            return (spec + "s") % _string(value, "the value for %s")
        if verb == "q":
            return (spec + "s") % json.dumps(_string(value, "the value for %q"), ensure_ascii=False)
        if verb == "v":
            text = to_text(value)
            return (spec + "s") % (text if text is not None else _json(value))
        raise FunctionError(f"unsupported verb %{verb}")


# -- numbers ----------------------------------------------------------------------------


@_register("abs(number)", 1)
def _abs(n: Any) -> int | float:
    return abs(_number(n))


@_register("ceil(number)", 1)
def _ceil(n: Any) -> int:
    return math.ceil(_number(n))


@_register("floor(number)", 1)
def _floor(n: Any) -> int:
    return math.floor(_number(n))


@_register("min(number, ...)", 1, None)
def _min(*numbers: Any) -> int | float:
    return min(_number(n) for n in numbers)


@_register("max(number, ...)", 1, None)
def _max(*numbers: Any) -> int | float:
    return max(_number(n) for n in numbers)


@_register("sum(list)", 1)
def _sum(values: Any) -> int | float:
    items = _list(values)
    if not items:
        raise FunctionError("cannot sum an empty list")
    return sum(_number(v, "each element") for v in items)


@_register("range(start?, limit, step?)", 1, 3)
def _range(*args: Any) -> list[int | float]:
    numbers = [_number(a) for a in args]
    start, limit, step = (0, numbers[0], 1) if len(numbers) == 1 else (numbers[0], numbers[1], numbers[2] if len(numbers) == 3 else 1)
    if step == 0:
        raise FunctionError("step must not be zero")
    if (limit - start) * step < 0:
        raise FunctionError(f"step {number_to_string(step)} never reaches the limit {number_to_string(limit)} from {number_to_string(start)}")
    count = max(0, math.ceil((limit - start) / step))
    if count > RANGE_LIMIT:
        raise FunctionError(f"would make {count} elements; the limit is {RANGE_LIMIT}")
    return [start + i * step for i in range(count)]


# -- collections ------------------------------------------------------------------------


@_register("length(list | map | string)", 1)
def _length(value: Any) -> int:
    if isinstance(value, (list, tuple, dict, str)):
        return len(value)
    raise FunctionError(f"argument must be a list, map or string, got {type_name(value)}")


@_register("concat(list, ...)", 1, None)
def _concat(*lists: Any) -> list:
    return [item for value in lists for item in _list(value, "each argument")]


@_register("keys(map)", 1)
def _keys(value: Any) -> list[str]:
    return sorted(_map(value))


@_register("values(map)", 1)
def _values(value: Any) -> list:
    mapping = _map(value)
    return [mapping[k] for k in sorted(mapping)]


@_register("merge(map, ...)", 1, None)
def _merge(*maps: Any) -> dict:
    merged: dict = {}
    for value in maps:
        if value is not None:
            merged.update(_map(value, "each argument"))
    return merged


@_register("lookup(map, key, default?)", 2, 3)
def _lookup(mapping: Any, key: Any, *default: Any) -> Any:
    mapping, name = _map(mapping), _string(key, "key")
    if name in mapping:
        return mapping[name]
    if default:
        return default[0]
    raise FunctionError(f'no key "{name}" in the map and no default given')


@_register("contains(list, value)", 2)
def _contains(values: Any, value: Any) -> bool:
    return any(equal(item, value) for item in _list(values))


@_register("element(list, index)", 2)
def _element(values: Any, index: Any) -> Any:
    items, i = _list(values), _whole(index, "index")
    if not items:
        raise FunctionError("cannot take an element of an empty list")
    if i < 0:
        raise FunctionError("index must not be negative")
    return items[i % len(items)]


@_register("slice(list, start, end)", 3)
def _slice(values: Any, start: Any, end: Any) -> list:
    items, a, b = _list(values), _whole(start, "start"), _whole(end, "end")
    if not 0 <= a <= b <= len(items):
        raise FunctionError(f"start {a} and end {b} must satisfy 0 <= start <= end <= {len(items)}")
    return items[a:b]


@_register("reverse(list)", 1)
def _reverse(values: Any) -> list:
    return _list(values)[::-1]


@_register("flatten(list)", 1)
def _flatten(values: Any) -> list:
    flat: list = []
    for item in _list(values):
        flat.extend(_flatten(item) if isinstance(item, (list, tuple)) else [item])
    return flat


@_register("distinct(list)", 1)
def _distinct(values: Any) -> list:
    kept: list = []
    for item in _list(values):
        if not any(equal(item, k) for k in kept):
            kept.append(item)
    return kept


@_register("compact(list)", 1)
def _compact(values: Any) -> list:
    return [item for item in _list(values) if item is not None and item != ""]


@_register("sort(list)", 1)
def _sort(values: Any) -> list[str]:
    return sorted(_string(v, "each element") for v in _list(values))


@_register("zipmap(keys, values)", 2)
def _zipmap(keys: Any, values: Any) -> dict:
    names, items = _list(keys, "keys"), _list(values, "values")
    if len(names) != len(items):
        raise FunctionError(f"{len(names)} keys but {len(items)} values")
    return {_string(k, "each key"): v for k, v in zip(names, items)}


@_register("coalesce(value, ...)", 1, None)
def _coalesce(*values: Any) -> Any:
    for value in values:
        if value is not None and value != "":
            return value
    raise FunctionError("every argument is null or an empty string")


# -- conversions ------------------------------------------------------------------------


@_register("tostring(value)", 1)
def _tostring(value: Any) -> str | None:
    return None if value is None else _string(value)


@_register("tonumber(value)", 1)
def _tonumber(value: Any) -> int | float | None:
    if value is None or is_number(value):
        return value
    if isinstance(value, str):
        parsed = _parse_number(value)
        if parsed is not None:
            return parsed
        raise FunctionError(f'"{value}" is not a number')
    raise FunctionError(f"cannot convert {article(type_name(value))} to a number")


@_register("tobool(value)", 1)
def _tobool(value: Any) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return value == "true"
    raise FunctionError(f"cannot convert {value!r} to a bool: only true, false, \"true\" and \"false\" convert")


@_register("jsonencode(value)", 1)
def _jsonencode(value: Any) -> str:
    return _json(value)


def _json(value: Any) -> str:
    try:
        return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise FunctionError(f"cannot encode as JSON: {exc}") from None


@_register("jsondecode(string)", 1)
def _jsondecode(text: Any) -> Any:
    try:
        return json.loads(_string(text))
    except json.JSONDecodeError as exc:
        raise FunctionError(f"invalid JSON: {exc}") from None


# -- environment ------------------------------------------------------------------------


@_register("env(name, default?)", 1, 2)
def _env(name: Any, *default: Any) -> Any:
    key = _string(name, "name")
    if key in os.environ:
        return os.environ[key]
    if default:
        return default[0]
    raise FunctionError(f"environment variable {key} is not set and no default was given")
