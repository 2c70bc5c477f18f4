"""Reading a command's usual flags without the command-line library (see zplan.cli.launch).

A ``Grammar`` names a command's flags by the field of its flags record they set. ``read``
accepts only plain forms: ``-name`` or ``--name`` for a switch, ``-name VALUE`` or
``-name=VALUE`` for a valued flag, and at most one positional word where the command takes
one. Anything else (help, a misspelt flag, ``--``, a value that looks like a flag or is not
a number where one is needed) gives None, and the full command line reads the words instead,
so that every error message and every unusual form stays its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator


@dataclass
class SharedFlags:
    """The flags `plan` and `apply` share: variables, the stack, and which addresses they take."""

    var: list[str | Path] = field(default_factory=list)  # every -var (text) and -var-file (a Path), in the order given
    stack: str | None = None
    target: list[str] = field(default_factory=list)
    exclude: list[str] = field(default_factory=list)
    replace: list[str] = field(default_factory=list)
    no_color: bool = False


SHARED_SWITCHES = {"no-color": "no_color"}
# their spellings (flag -> field), the flags among them whose values are paths, and the fields that are lists
SHARED_VALUED = {"var": "var", "var-file": "var", "stack": "stack", "target": "target", "exclude": "exclude",
                 "replace": "replace"}
SHARED_PATHS = frozenset({"var-file"})
SHARED_LISTS = frozenset({"var", "target", "exclude", "replace"})


@dataclass(frozen=True)
class Grammar:
    switches: dict[str, str]  # flag (without dashes) -> field set to True
    valued: dict[str, str]  # flag -> field set to its value
    paths: frozenset[str] = frozenset()  # flags whose values are paths (and the positional word's field, if it is one)
    lists: frozenset[str] = frozenset()  # fields that collect every value given (the others keep the last)
    numbers: frozenset[str] = frozenset()  # fields whose values are integers
    positional: str | None = None  # the field of the one positional word the command takes


def read(words: list[str], grammar: Grammar) -> dict[str, Any] | None:
    """The fields ``words`` set, or None when the full command line must read them."""
    found: dict[str, Any] = {}
    for name, value in _flags(iter(words), grammar):
        if name is None:  # a word it does not take
            return None
        if name == "":  # a positional word: one, where the command takes one
            key = grammar.positional
            if key is None or key in found:
                return None
        elif value is None:  # a switch
            key = grammar.switches.get(name)
            if key is None:
                return None
            found[key] = True
            continue
        else:
            key = grammar.valued.get(name)
            if key is None:
                return None
        typed = _typed(value, name or key, key, grammar)
        if typed is None:
            return None
        if key in grammar.lists:
            found.setdefault(key, []).append(typed)
        else:
            found[key] = typed  # given twice: the last one, as the full command line takes it
    return found


def _typed(value: str, name: str, key: str, grammar: Grammar) -> Any:
    if name in grammar.paths:
        return Path(value)
    if key in grammar.numbers:
        try:
            return int(value)
        except ValueError:
            return None
    return value


def _flags(words: Iterator[str], grammar: Grammar) -> Iterator[tuple[str | None, str | None]]:
    """(flag name, its value or None) for each flag, ("", word) for a positional word, and
    (None, None) for a word the quick reading does not take."""
    for word in words:
        if not word.startswith("-"):
            yield "", word
            continue
        dashes = 2 if word.startswith("--") else 1
        name, eq, value = word[dashes:].partition("=")
        if not name or name.startswith("-"):
            yield None, None
            return
        if not eq and name in grammar.valued:
            value = next(words, None)
            if value is None or value.startswith("-"):  # a missing value, or one the full reader judges
                yield None, None
                return
            yield name, value
        else:
            yield name, value if eq else None
