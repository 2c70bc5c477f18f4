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
from typing import Any

from zplan.config import collection_functions, file_functions, lazy_functions, mark_functions, set_functions, text_functions  # noqa: F401  (they register themselves)
from zplan.config.function_args import FUNCTIONS, CallSite, Function, FunctionError, as_list, as_number, as_string, as_whole, characters, parse_number, register
from zplan.config.values import DECIMALS, article, decimal, decimal_sum, is_number, json_text, number_to_string, to_text, type_name, valid_text, valid_texts

__all__ = ["FUNCTIONS", "CallSite", "Function", "FunctionError"]

RANGE_LIMIT = 10_000  # range() guards against typos such as range(1e9)


# -- strings ----------------------------------------------------------------------------


@register("upper(string)", 1)
def _upper(s: Any) -> str:
    return as_string(s).upper()


@register("lower(string)", 1)
def _lower(s: Any) -> str:
    return as_string(s).lower()


@register("trimspace(string)", 1)
def _trimspace(s: Any) -> str:
    return as_string(s).strip()


@register("trimprefix(string, prefix)", 2)
def _trimprefix(s: Any, prefix: Any) -> str:
    return as_string(s).removeprefix(as_string(prefix, "prefix"))


@register("trimsuffix(string, suffix)", 2)
def _trimsuffix(s: Any, suffix: Any) -> str:
    return as_string(s).removesuffix(as_string(suffix, "suffix"))


@register("startswith(string, prefix)", 2)
def _startswith(s: Any, prefix: Any) -> bool:
    return as_string(s).startswith(as_string(prefix, "prefix"))


@register("endswith(string, suffix)", 2)
def _endswith(s: Any, suffix: Any) -> bool:
    return as_string(s).endswith(as_string(suffix, "suffix"))


@register("join(separator, list, ...)", 2, None)
def _join(sep: Any, *lists: Any) -> str:
    items = [item for value in lists for item in as_list(value, "each argument after the separator")]
    return as_string(sep, "separator").join(as_string(item, "each element") for item in items)


@register("split(separator, string)", 2)
def _split(sep: Any, s: Any) -> list[str]:
    separator = as_string(sep, "separator")
    text = as_string(s)
    if not separator:
        raise FunctionError("separator must not be empty")
    return [] if text == "" else text.split(separator)


@register("replace(string, search, replacement)", 3)
def _replace(s: Any, search: Any, replacement: Any) -> str:
    text, pattern, new = as_string(s), as_string(search, "search"), as_string(replacement, "replacement")
    if len(pattern) > 1 and pattern.startswith("/") and pattern.endswith("/"):
        try:
            regex = re.compile(pattern[1:-1])
        except re.error as exc:
            raise FunctionError(f"invalid regular expression {pattern}: {exc}") from None
        return regex.sub(lambda match: _expand(new, match), text)
    return text.replace(pattern, new)


_CAPTURE = re.compile(r"\$(?:\$|(\w+)|\{(\w+)\})")


def _expand(template: str, match: re.Match) -> str:
    """The replacement for one match, as Go's regexp (Terraform's) expands it: ``$1``, ``${1}`` and
    ``$name`` are captures, ``$$`` is a ``$``; a capture that does not exist or did not take part is
    empty, and any other ``$`` is kept as written (Python's own syntax fails on such input)."""

    def capture(found: re.Match) -> str:
        name = found.group(1) or found.group(2)
        if name is None:
            return "$"
        if name.isascii() and name.isdigit():
            index = int(name)
            return (match.group(index) or "") if index <= match.re.groups else ""
        return (match.group(name) or "") if name in match.re.groupindex else ""

    return _CAPTURE.sub(capture, template)


@register("substr(string, offset, length)", 3)
def _substr(s: Any, offset: Any, length: Any) -> str:
    text, start, count = characters(as_string(s)), as_whole(offset, "offset"), as_whole(length, "length")
    if start < 0:
        start += len(text)
    if not 0 <= start <= len(text):
        raise FunctionError(f"offset {as_whole(offset)} is outside the string (length {len(text)})")
    if count < -1:
        raise FunctionError("length must be -1 (the rest of the string) or more")
    return "".join(text[start:] if count == -1 else text[start : start + count])


@register("format(spec, values...)", 1, None)
def _format(spec: Any, *values: Any) -> str:
    return _Formatter(as_string(spec, "the format"), list(values)).run()


class _Formatter:
    """Terraform's format(): %s %d %f %g %e %x %o %b %t %q %v with flags, width and precision, and
    %[n] argument indexes (1-based; the verb after one goes on with n + 1). As in Terraform, an
    argument after the highest one the format uses is a mistake."""

    VERB = re.compile(r"%([-+ #0]*)(?:\[(\d+)\])?(\d*)(?:\.(\d+))?(?:\[(\d+)\])?([a-zA-Z%])")

    def __init__(self, spec: str, values: list[Any]) -> None:
        self.spec = spec
        self.values = values
        self.next = 1  # the argument the next verb without an index takes (1-based)
        self.highest = 0  # the highest argument used

    def run(self) -> str:
        text = self.VERB.sub(self._verb, self.spec)
        if self.highest < len(self.values):
            raise FunctionError(f"too many arguments: the format uses {self.highest}, got {len(self.values)}")
        return text

    def _take(self, verb: str, index: str | None) -> Any:
        number = int(index) if index else self.next
        if number == 0:
            raise FunctionError(f"%[0]{verb}: argument indexes start at 1")
        if number > len(self.values):
            needs = f"argument {number}" if index else f"more than {len(self.values)}"
            raise FunctionError(f"not enough arguments for %{'[' + index + ']' if index else ''}{verb}: the format needs {needs}")
        self.next, self.highest = number + 1, max(self.highest, number)
        return self.values[number - 1]

    def _verb(self, m: re.Match) -> str:
        flags, index, width, precision, late_index, verb = m.groups()
        if verb == "%":
            return "%"
        value = self._take(verb, index or late_index)
        spec = f"%{flags}{width}{'.' + precision if precision else ''}"
        if verb in "dboxX":
            number = as_whole(value, f"the value for %{verb}")
            return format(number, f"{flags.replace(' ', '')}{width}b") if verb == "b" else (spec + verb) % number
        if verb in "eEfFgG":
            return (spec + verb) % as_number(value, f"the value for %{verb}")
        if verb == "t":
            if not isinstance(value, bool):
                raise FunctionError(f"the value for %t must be a bool, got {type_name(value)}")
            return (spec + "s") % ("true" if value else "false")
        if verb == "s":
            return (spec + "s") % as_string(value, "the value for %s")
        if verb == "q":
            return (spec + "s") % json.dumps(as_string(value, "the value for %q"), ensure_ascii=False)
        if verb == "v":
            text = to_text(value)
            return (spec + "s") % (text if text is not None else _json(value))
        raise FunctionError(f"unsupported verb %{verb}")


# -- numbers ----------------------------------------------------------------------------


@register("abs(number)", 1)
def _abs(n: Any) -> int | float:
    return abs(as_number(n))


@register("ceil(number)", 1)
def _ceil(n: Any) -> int:
    return math.ceil(as_number(n))


@register("floor(number)", 1)
def _floor(n: Any) -> int:
    return math.floor(as_number(n))


@register("min(number, ...)", 1, None)
def _min(*numbers: Any) -> int | float:
    return min(as_number(n) for n in numbers)


@register("max(number, ...)", 1, None)
def _max(*numbers: Any) -> int | float:
    return max(as_number(n) for n in numbers)


@register("sum(list)", 1)
def _sum(values: Any) -> int | float:
    items = as_list(values)
    if not items:
        raise FunctionError("cannot sum an empty list")
    return decimal_sum([as_number(v, "each element") for v in items])


@register("pow(base, exponent)", 2)
def _pow(base: Any, exponent: Any) -> int | float:
    b, e = as_number(base, "base"), as_number(exponent, "exponent")
    if isinstance(b, int) and isinstance(e, int) and 0 <= e <= 1024:  # whole powers stay whole and exact
        return b**e
    try:
        return math.pow(b, e)
    except ValueError:
        raise FunctionError(f"{number_to_string(b)} to the power {number_to_string(e)} is not a real number") from None


@register("log(number, base)", 2)
def _log(number: Any, base: Any) -> float:
    x, b = as_number(number, "number"), as_number(base, "base")
    if x <= 0 or b <= 0 or b == 1:
        raise FunctionError("the number and the base must be positive, and the base not 1")
    return math.log(x, b)


@register("signum(number)", 1)
def _signum(number: Any) -> int:
    x = as_number(number)
    return (x > 0) - (x < 0)


_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


@register("parseint(string, base)", 2)
def _parseint(text: Any, base: Any) -> int:
    """A whole number written in ``base`` (2 to 62; up to 36 letters of either case), as Terraform
    reads it: an optional sign, then digits only (no "0x" prefix, no spaces)."""
    s, b = as_string(text), as_whole(base, "base")
    if not 2 <= b <= 62:
        raise FunctionError("base must be between 2 and 62")
    body = s[1:] if s[:1] in ("+", "-") else s
    if b <= 36:
        body = body.lower()
    value = 0
    for char in body:
        digit = _DIGITS.find(char)
        if not 0 <= digit < b:
            raise FunctionError(f'"{s}" is not a number in base {b}')
        value = value * b + digit
    if not body:
        raise FunctionError(f'"{s}" is not a number in base {b}')
    return -value if s.startswith("-") else value


@register("range(start?, limit, step?)", 1, 3)
def _range(*args: Any) -> list[int | float]:
    numbers = [as_number(a) for a in args]
    start, limit, step = (0, numbers[0], 1) if len(numbers) == 1 else (numbers[0], numbers[1], numbers[2] if len(numbers) == 3 else 1)
    if step == 0:
        raise FunctionError("step must not be zero")
    if (limit - start) * step < 0:
        raise FunctionError(f"step {number_to_string(step)} never reaches the limit {number_to_string(limit)} from {number_to_string(start)}")
    # HCL's numbers are decimals: range(0, 1, 0.1) holds 0.3, not 0.30000000000000004
    first, end, by = decimal(start), decimal(limit), decimal(step)
    span = DECIMALS.divide(DECIMALS.subtract(end, first), by)
    if span > RANGE_LIMIT:
        raise FunctionError(f"would make {math.ceil(span) if span < 10 ** 15 else 'too many'} elements; the limit is {RANGE_LIMIT}")
    count = max(0, math.ceil(span))
    if isinstance(start, float) or isinstance(step, float):
        return [float(DECIMALS.add(first, DECIMALS.multiply(i, by))) for i in range(count)]
    return [start + i * step for i in range(count)]


# -- conversions ------------------------------------------------------------------------


@register("tostring(value)", 1)
def _tostring(value: Any) -> str | None:
    return None if value is None else as_string(value)


@register("tonumber(value)", 1)
def _tonumber(value: Any) -> int | float | None:
    if value is None or is_number(value):
        return value
    if isinstance(value, str):
        parsed = parse_number(value)
        if parsed is not None:
            return parsed
        raise FunctionError(f'"{value}" is not a number')
    raise FunctionError(f"cannot convert {article(type_name(value))} to a number")


@register("tobool(value)", 1)
def _tobool(value: Any) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    if value in ("true", "false", "1", "0"):  # the text Terraform converts
        return value in ("true", "1")
    raise FunctionError(f"cannot convert {value!r} to a bool: only true, false, \"true\", \"false\", \"1\" and \"0\" convert")


@register("jsonencode(value)", 1)
def _jsonencode(value: Any) -> str:
    return _json(value)


def _json(value: Any) -> str:
    try:
        return json_text(value)
    except TypeError as exc:
        raise FunctionError(f"cannot encode as JSON: {exc}") from None


@register("jsondecode(string)", 1)
def _jsondecode(text: Any) -> Any:
    try:
        return valid_texts(json.loads(as_string(text), parse_constant=_not_json))  # a too large number is refused by the caller
    except json.JSONDecodeError as exc:
        raise FunctionError(f"invalid JSON: {exc}") from None


def _not_json(name: str) -> Any:
    raise FunctionError(f"invalid JSON: {name} is not a JSON number (Python writes it, JSON has no such value)")


# -- environment ------------------------------------------------------------------------


@register("env(name, default?)", 1, 2)
def _env(name: Any, *default: Any) -> Any:
    key = as_string(name, "name")
    if key in os.environ:
        value = os.environ[key]
        if valid_text(value) != value:  # bytes that are not UTF-8 reach Python as lone surrogates
            raise FunctionError(f"environment variable {key} is not UTF-8 text", quotes_values=False)
        return value
    if default:
        return default[0]
    raise FunctionError(f"environment variable {key} is not set and no default was given")


# -- files --------------------------------------------------------------------------------


@register("params_file(path)", 1, site=True)
def _params_file(site: Any, path: Any) -> Any:
    """A YAML, JSON or TOML document (DVC's params.yaml), parsed; relative to the folder of the
    file holding the call, like file(), and recorded so a saved plan notices an edit."""
    from zplan.config import params_files

    text = as_string(path, "path")
    found = site.path(text)
    site.record(found)
    try:
        return params_files.document(found, shown_as=text)
    except params_files.ParamsFileError as exc:
        raise FunctionError(f"{exc.summary}{'; ' + exc.detail if exc.detail else ''}") from None


@register("dvc_text(value, parsing?)", 1, 2)
def _dvc_text(value: Any, parsing: Any = None) -> str:
    """A params file's value as DVC's ``${...}`` writes it into a command (what `zplan import-dvc` keeps): Python's
    text for a number (2.0 stays 2.0, 1e-05 stays 1e-05, where HCL writes 2 and 0.00001), and a mapping as the
    ``--key value`` flags DVC unpacks it into, in the file's order. ``parsing``: the ``parsing`` settings of the
    DVC project's config, ``{ bool = "boolean_optional", list = "append" }`` (default: store_true and nargs)."""
    settings = _dvc_parsing(parsing)
    if isinstance(value, dict):
        return " ".join(_dvc_flags(value, "", settings))
    if isinstance(value, (list, tuple)):
        raise FunctionError(f"DVC cannot write {article(type_name(value))} into a command: give one element, or a mapping",
                            quotes_values=False)
    return _dvc_scalar(value)


_DVC_PARSING = {"bool": ("store_true", "boolean_optional"), "list": ("nargs", "append")}


def _dvc_parsing(parsing: Any) -> dict[str, str]:
    if parsing is None:
        return {}
    if not isinstance(parsing, dict) or any(k not in _DVC_PARSING or v not in _DVC_PARSING[k] for k, v in parsing.items()):
        raise FunctionError('parsing must be a map such as { bool = "boolean_optional", list = "append" }, as DVC\'s config sets them',
                            quotes_values=False)
    return parsing


def _dvc_scalar(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)  # None as None, as DVC writes it


def _dvc_flags(mapping: dict, prefix: str, settings: dict[str, str]) -> list[str]:
    """DVC's flags: nested keys joined with dots, a true bool ``--key`` alone and a false one nothing (``--no-key``
    with ``boolean_optional``), text shell-quoted, a list ``--key a b`` (``--key a --key b`` with ``append``)."""
    import shlex

    flags = []
    for key, value in mapping.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flags += _dvc_flags(value, f"{name}.", settings)
        elif isinstance(value, bool):
            flags += [f"--{name}"] if value else [f"--no-{name}"] if settings.get("bool") == "boolean_optional" else []
        elif isinstance(value, str):
            flags.append(f"--{name} {shlex.quote(value)}")
        elif isinstance(value, (list, tuple)):
            if any(isinstance(v, (dict, list, tuple)) for v in value):
                raise FunctionError(f"DVC cannot write the nested lists or mappings in {name} into a command", quotes_values=False)
            items = [shlex.quote(v) if isinstance(v, str) else str(v) for v in value]  # (True, not true)
            if settings.get("list") == "append":
                flags += [f"--{name} {item}" for item in items]
            else:
                flags += [" ".join([f"--{name}", *items])] if items else []
        else:
            flags.append(f"--{name} {_dvc_scalar(value)}")
    return flags
