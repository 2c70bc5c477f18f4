"""Values as HCL expressions compute them, and the helpers every layer shares.

Plain Python values stand for HCL's (str, int/float, bool, None, list, dict);
``UNKNOWN`` is a value known only after apply and spreads through every
operation; a ``Template`` is a string that still holds symbolic references
(step outputs) and so is not text yet. The evaluator (``expr``) and the
functions (``functions``) both build on these; neither imports the other's
internals.
"""

from __future__ import annotations

import decimal as decimal_module
import json
import math
import re
from dataclasses import dataclass
from typing import Any


class _Unknown:
    """A value known only after apply; there is one instance, ``UNKNOWN``."""

    _instance: "_Unknown | None" = None

    def __new__(cls) -> "_Unknown":
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "(known after apply)"

    __str__ = __repr__

    def __reduce__(self) -> str:
        # pickling and deepcopy keep the singleton, so `is UNKNOWN` stays true
        return "UNKNOWN"


UNKNOWN = _Unknown()

# what an error message says in place of a value computed from a sensitive one (Terraform's words)
SENSITIVE_VALUE = "(sensitive value)"


@dataclass(frozen=True)
class Template:
    """A string template whose value is not text yet: it holds symbolic references.

    ``parts`` alternates text and the symbolic objects that were interpolated.
    """

    parts: tuple[Any, ...]
    __zplan_symbolic__ = True

    def __str__(self) -> str:
        return "".join(str(p) for p in self.parts)


def is_symbolic(value: Any) -> bool:
    return getattr(value, "__zplan_symbolic__", False) is True


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


FLOAT_MAX = 1.7976931348623157e308  # the largest float: step params and state hold numbers as JSON and floats
FINITE_RULE = "a number must be finite, at most about 1.8e308 either way"


def is_finite(value: int | float) -> bool:
    """Whether a number can be planned, stored and passed to a step: not NaN nor infinite,
    and no larger than a float can be (Python compares ints with floats exactly)."""
    return -FLOAT_MAX <= value <= FLOAT_MAX  # False for NaN too


# Decimal arithmetic with more digits than a float holds (Terraform's numbers have ~150): a
# private context, so a step changing decimal's thread context in-process changes nothing here.
DECIMALS = decimal_module.Context(prec=50, Emax=decimal_module.MAX_EMAX, Emin=decimal_module.MIN_EMIN)


def decimal(value: int | float) -> decimal_module.Decimal:
    """A number as the decimal it reads as. HCL's numbers are decimals, as Terraform's are
    (``0.1 + 0.2`` is ``0.3`` there); Python's floats are binary. Arithmetic on floats therefore goes
    through the shortest decimal that reads back as each float (which, for a literal, is what was
    written) and is rounded to a float once, at the end (``float``: infinite when too large, which
    ``is_finite`` refuses)."""
    return decimal_module.Decimal(repr(value) if isinstance(value, float) else value)


def decimal_sum(numbers: list[int | float]) -> int | float:
    """``sum`` with HCL's decimal arithmetic (whole numbers stay whole)."""
    if not any(isinstance(n, float) for n in numbers) or not all(map(math.isfinite, numbers)):
        return sum(numbers)
    total = decimal_module.Decimal(0)
    for n in numbers:
        total = DECIMALS.add(total, decimal(n))
    return float(total)


def non_finite(value: Any, path: str = "") -> tuple[str, Any] | None:
    """The first number inside ``value`` that is not finite, with its path (``a.b[0]``), or None."""
    if is_number(value):
        return None if is_finite(value) else (path, value)
    if isinstance(value, dict):
        items = ((f"{path}.{k}" if path else str(k), v) for k, v in dict.items(value))
    elif isinstance(value, (list, tuple)):
        items = ((f"{path}[{i}]", v) for i, v in enumerate(value))
    else:
        return None
    for where, item in items:
        found = non_finite(item, where)
        if found is not None:
            return found
    return None


def contains_unknown(value: Any) -> bool:
    if value is UNKNOWN:
        return True
    if isinstance(value, dict):
        return any(contains_unknown(v) for v in dict.values(value))  # (what is computed: reading a module as a whole is not)
    if isinstance(value, (list, tuple)):
        return any(contains_unknown(v) for v in value)
    return False


def find_symbolic(value: Any) -> Any:
    """The first symbolic object inside ``value``, or None."""
    if is_symbolic(value):
        return value
    items = dict.values(value) if isinstance(value, dict) else value if isinstance(value, (list, tuple)) else ()
    for item in items:
        found = find_symbolic(item)
        if found is not None:
            return found
    return None


def type_name(value: Any) -> str:
    """How a value's type is named in messages (HCL's words, not Python's)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if is_number(value):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, SetValue):
        return "set"
    if isinstance(value, (list, tuple)):
        return "list"
    if isinstance(value, dict):
        return "object"
    if is_symbolic(value):
        return f"{value} (known only when it runs)"
    return type(value).__name__


def article(noun: str) -> str:
    """``noun`` with its indefinite article: "a list", "an object"."""
    return f"an {noun}" if noun[:1] in "aeiou" else f"a {noun}"


def number_to_string(value: int | float) -> str:
    """Numbers as Terraform writes them: 3, 1.5, 0.00001 (never 3.0 or 1e-05)."""
    if isinstance(value, int):
        return str(value)
    if math.isinf(value) or math.isnan(value):  # only in the messages refusing them
        return "NaN" if math.isnan(value) else "Infinity" if value > 0 else "-Infinity"
    if value.is_integer() and abs(value) < 2**53:  # beyond, int() shows the float's binary digits: 1e23 -> 99999999999999991611392
        return str(int(value))
    from decimal import Decimal  # here: only fractional numbers need it, and it costs ~1 ms to import

    text = format(Decimal(repr(value)), "f")  # repr's shortest digits, without an exponent
    return text.rstrip("0").rstrip(".") if "." in text else text  # (2.0**53 -> "9007199254740992.0")


def json_text(value: Any, separators: tuple[str, str] = (",", ":"), ensure_ascii: bool = False) -> str:
    """``value`` as JSON, keys sorted, with numbers as HCL writes them (1000, 6, 0.00001: never
    1000.0), as Terraform's jsonencode does. TypeError for what JSON cannot hold."""
    item, key = separators
    if isinstance(value, dict):
        pairs = sorted(((str(k), v) for k, v in value.items()), key=lambda pair: pair[0])  # (a params file's keys may not be strings)
        return "{" + item.join(f"{json.dumps(k, ensure_ascii=ensure_ascii)}{key}{json_text(v, separators, ensure_ascii)}" for k, v in pairs) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + item.join(json_text(v, separators, ensure_ascii) for v in value) + "]"
    if is_number(value):
        if not is_finite(value):
            raise TypeError(f"{number_to_string(value)} is not valid JSON")
        return number_to_string(value)
    if value is None or isinstance(value, (str, bool)):
        return json.dumps(value, ensure_ascii=ensure_ascii)
    raise TypeError(f"{type_name(value)} is not JSON serializable")


def shown_value(value: Any) -> str:
    """An output's value as a person reads it (plan, apply, `zplan output`): JSON with spaces,
    numbers as HCL writes them. Only the display: what steps get and keys hash keeps 1.0 apart from 1."""
    return json_text(value, (", ", ": "))


def to_text(value: Any) -> str | None:
    """A primitive value as template text; None when it has no text form."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if is_number(value):
        return number_to_string(value)
    return None


_BOOL_TEXT = {"true": True, "false": False, "1": True, "0": False}


def truth(value: Any) -> Any:
    """``value`` where a condition wants a bool: text Terraform converts to one ("true", "false",
    "1", "0": what env() or an untyped -var gives) as that bool; anything else as it is."""
    return _BOOL_TEXT.get(value, value) if isinstance(value, str) else value


def equal(a: Any, b: Any) -> bool:
    """HCL equality: numbers compare by value, but a bool is never a number."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a is b
    if is_number(a) and is_number(b):
        return a == b
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(equal(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(equal(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


_SURROGATE = re.compile("[\ud800-\udfff]")


def valid_text(text: str) -> str:
    """``text`` as UTF-8 can hold it (state, cache keys, a step's params): a surrogate pair written
    as two escapes (``"\\ud83d\\ude00"`` in YAML) joined into its character, a lone one replaced by
    U+FFFD, as Go's JSON decoder (Terraform's jsondecode) does."""
    if _SURROGATE.search(text) is None:
        return text
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def valid_texts(value: Any) -> Any:
    """``value`` with ``valid_text`` applied to every string in it, keys included."""
    if isinstance(value, str):
        return valid_text(value)
    if isinstance(value, dict):
        return {valid_text(k) if isinstance(k, str) else k: valid_texts(v) for k, v in value.items()}
    if isinstance(value, list):
        return [valid_texts(v) for v in value]
    return value


class SetValue(list):
    """A set (``toset()``, a ``set(T)`` variable): a list without duplicates, in a canonical
    order. Everything that reads lists reads it; ``for_each`` can tell it from a list."""

    __slots__ = ()


def for_pairs(collection: Any) -> list[tuple[Any, Any]] | None:
    """The (key, value) pairs a ``for`` expression or ``%{for}`` walks, as HCL walks them: a map's
    in key order, a set's with each element as its own key, a list's by index; None for any other value."""
    if isinstance(collection, dict):
        return sorted(collection.items())
    if isinstance(collection, SetValue):
        return [(item, item) for item in collection]
    if isinstance(collection, (list, tuple)):
        return list(enumerate(collection))
    return None
