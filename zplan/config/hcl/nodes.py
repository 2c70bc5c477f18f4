"""The parsed tree's node classes, apart from the lexer and parser.

A no-change plan loads each file's tree from the parse cache (a pickle): that
needs only these classes, so the lexer and parser are imported only when a
file is parsed again.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from zplan.diags import Range
from zplan.config.expr import Expr
from zplan.pickled import tuple_state


@tuple_state
@dataclass(frozen=True)
class Attribute:
    """``name = expression`` in a block body."""

    name: str
    expr: Expr
    range: Range  # where the attribute name is


@tuple_state
@dataclass
class Block:
    """A block (``type "label" ... { ... }``) with its attributes and nested blocks."""

    type: str  # "" for the body of a whole file
    labels: list[str]
    attributes: dict[str, Attribute] = field(default_factory=dict)
    blocks: list["Block"] = field(default_factory=list)
    range: Range = field(default_factory=lambda: Range(""))  # the block header's line
