"""What every HCL function shares: the registry, arity and argument checks.

A function is declared by its usage line (``register("upper(string)", 1)``); the
``as_*`` checks turn a bad argument into a ``FunctionError`` whose message the
calling expression completes with the function's name, file and line.
"""

from __future__ import annotations

import os
import posixpath
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from zplan.diags import Range
from zplan.config.values import FINITE_RULE, UNKNOWN, contains_unknown, find_symbolic, is_finite, is_number, non_finite, number_to_string, to_text, type_name


class FunctionError(Exception):
    """A bad argument; the message completes "NAME(): ...".

    ``quotes_values`` (the default) says the message may show an argument or something computed
    from one: when an argument is sensitive, the calling expression shows another message. The
    checks below that name only types say False."""

    def __init__(self, message: str, quotes_values: bool = True) -> None:
        super().__init__(message)
        self.quotes_values = quotes_values


@dataclass(frozen=True)
class CallSite:
    """Where a function that reads files is called: paths are relative to that file's folder
    (the module's), and each file read is added to ``reads`` so the plan depends on it."""

    filename: str
    range: Range
    reads: set[Path] | None
    sensitive: bool = False  # an argument was computed from a sensitive value
    marks: Any = None  # the calling evaluation's marks: a template calling sensitive() marks what called it
    module_folder: str | None = None  # path.module of the calling module ("modules/x"; "." at the root)

    def path(self, text: str) -> Path:
        return (Path(self.filename).parent / self._in_folder(os.path.expanduser(text))).resolve()

    def _in_folder(self, text: str) -> str:
        """``text`` relative to the calling module's folder. A path built from ``path.module``
        ("modules/x/t.tpl") is relative to the project folder, as Terraform reads every path, so
        the part naming the module's own folder is taken off (as written: "modules/x/../y" too)."""
        prefix = self.module_folder
        if prefix in (None, ".") or posixpath.isabs(text):
            return text
        if text == prefix:
            return "."
        return text[len(prefix) + 1:] if text.startswith(prefix + "/") else text

    def record(self, path: Path) -> None:
        if self.reads is not None:
            self.reads.add(path)


@dataclass(frozen=True)
class Function:
    name: str
    impl: Callable[..., Any]
    min_args: int
    max_args: int | None  # None: any number
    usage: str
    site: bool = False  # impl takes the CallSite first (functions that read files)
    lazy: bool = False  # impl takes (call node, context) and evaluates the arguments itself

    def call(self, args: list[Any], site: CallSite | None = None) -> Any:
        if len(args) < self.min_args or (self.max_args is not None and len(args) > self.max_args):
            raise FunctionError(f"expected {self._arity()}, got {len(args)}", quotes_values=False)
        for arg in args:
            symbolic = find_symbolic(arg)
            if symbolic is not None:
                raise FunctionError(f"{symbolic} is known only when it runs, so it cannot be passed to a function", quotes_values=False)
        if any(contains_unknown(arg) for arg in args):
            return UNKNOWN
        try:
            result = self.impl(site, *args) if self.site else self.impl(*args)
        except OverflowError:  # a number too large for a float on the way
            raise FunctionError(f"a number is too large to compute with; {FINITE_RULE}", quotes_values=False) from None
        except FunctionError:
            # a module instance read as a whole computes its outputs as the function reads them: one
            # known only after apply makes the result so, as any unknown argument does
            if any(contains_unknown(arg) for arg in args):
                return UNKNOWN
            raise
        found = non_finite(result)
        if found is not None:  # jsondecode("1e400"), sum([1e308, 1e308]): refused here, not at apply
            where, number = found
            raise FunctionError(f"the result{' at ' + where if where else ''} is {number_to_string(number)}, not a finite number; {FINITE_RULE}")
        return result

    def _arity(self) -> str:
        if self.max_args == self.min_args:
            return f"{self.min_args} argument{'s' if self.min_args != 1 else ''}"
        if self.max_args is None:
            return f"at least {self.min_args} argument{'s' if self.min_args != 1 else ''}"
        return f"{self.min_args} to {self.max_args} arguments"


FUNCTIONS: dict[str, Function] = {}


def register(usage: str, min_args: int, max_args: int | None = -1, site: bool = False, lazy: bool = False) -> Callable:
    """Declare a function by its usage line, e.g. ``register("upper(string)", 1)``."""

    def add(impl: Callable) -> Callable:
        name = usage.split("(", 1)[0]
        FUNCTIONS[name] = Function(name, impl, min_args, min_args if max_args == -1 else max_args, usage, site, lazy)
        return impl

    return add


# -- argument checks --------------------------------------------------------------------


def as_string(value: Any, what: str = "argument") -> str:
    text = to_text(value)
    if text is None:
        raise FunctionError(f"{what} must be a string, got {type_name(value)}", quotes_values=False)
    return text


def as_number(value: Any, what: str = "argument") -> int | float:
    if is_number(value):
        if not is_finite(value):  # nothing should make one; a function must not fail on it
            raise FunctionError(f"{what} must be a finite number", quotes_values=False)
        return value
    if isinstance(value, str):
        parsed = parse_number(value)
        if parsed is not None:
            return parsed
    raise FunctionError(f"{what} must be a number, got {type_name(value)}", quotes_values=False)


def as_whole(value: Any, what: str = "argument") -> int:
    number = as_number(value, what)
    if isinstance(number, float) and not number.is_integer():
        raise FunctionError(f"{what} must be a whole number, got {number_to_string(number)}")
    return int(number)


def as_list(value: Any, what: str = "argument") -> list:
    if not isinstance(value, (list, tuple)):
        raise FunctionError(f"{what} must be a list, got {type_name(value)}", quotes_values=False)
    return list(value)


def as_map(value: Any, what: str = "argument") -> dict:
    if not isinstance(value, dict):
        raise FunctionError(f"{what} must be a map or object, got {type_name(value)}", quotes_values=False)
    return value


# A number written as text, as Terraform reads one (``-var n=3``, ``tonumber("2.5")``): ASCII digits
# with an optional sign, point and exponent. Python's own parsers also take ``1_000``, spaces around,
# other scripts' digits, ``nan`` and ``infinity``, which Terraform refuses.
_NUMBER_TEXT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def parse_number(text: str) -> int | float | None:
    """The number ``text`` spells, or None (also for one that is not finite: ``1e400``)."""
    if not _NUMBER_TEXT.fullmatch(text):
        return None
    try:
        whole = int(text)  # (Python refuses over 4,300 digits: ValueError, so None)
        return whole if is_finite(whole) else None
    except ValueError:
        pass
    try:
        number = float(text)
    except ValueError:
        return None
    return number if is_finite(number) else None


# -- characters as Terraform counts them ------------------------------------------------------

_ZWJ = "\u200d"


def characters(text: str) -> list[str]:
    """``text`` split into the characters a reader sees (Unicode's extended grapheme clusters, in
    the common cases), as Terraform's length() and substr() count: "e" with a combining accent,
    an emoji with its skin tone or joined by zero-width joiners, a flag, CR LF are one each."""
    if text.isascii() and "\r" not in text:
        return list(text)
    out: list[str] = []
    for i, char in enumerate(text):
        if out and _joins(text[i - 1], char, out[-1]):
            out[-1] += char
        else:
            out.append(char)
    return out


def _joins(before: str, char: str, cluster: str) -> bool:
    """Whether ``char`` continues the cluster ending with ``before``."""
    if before == "\r":
        return char == "\n"
    if before == "\n" or char in "\r\n":
        return False
    if _extends(char) or (before == _ZWJ and unicodedata.category(char) == "So"):  # (a joined emoji)
        return True
    if _regional(char) and _regional(before):  # flags: regional indicators pair up
        return sum(map(_regional, cluster)) % 2 == 1
    return _hangul(before, char)


def _extends(char: str) -> bool:
    code = ord(char)
    return (unicodedata.category(char) in ("Mn", "Me", "Mc") or char == _ZWJ or char == "\u200c"
            or 0xFE00 <= code <= 0xFE0F or 0x1F3FB <= code <= 0x1F3FF or 0xE0020 <= code <= 0xE01EF)


def _regional(char: str) -> bool:
    return 0x1F1E6 <= ord(char) <= 0x1F1FF


def _hangul(before: str, char: str) -> bool:
    """Conjoining jamo make one syllable: L x (L|V|LV|LVT), (LV|V) x (V|T), (LVT|T) x T."""
    a, b = _jamo(before), _jamo(char)
    return (a == "L" and b in ("L", "V", "LV", "LVT")) or (a in ("LV", "V") and b in ("V", "T")) or (a in ("LVT", "T") and b == "T")


def _jamo(char: str) -> str:
    code = ord(char)
    if 0x1100 <= code <= 0x115F or 0xA960 <= code <= 0xA97C:
        return "L"
    if 0x1160 <= code <= 0x11A7 or 0xD7B0 <= code <= 0xD7C6:
        return "V"
    if 0x11A8 <= code <= 0x11FF or 0xD7CB <= code <= 0xD7FB:
        return "T"
    if 0xAC00 <= code <= 0xD7A3:
        return "LV" if (code - 0xAC00) % 28 == 0 else "LVT"
    return ""
