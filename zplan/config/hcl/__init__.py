"""Reading HCL: text -> a tree of ``Block``s whose attribute values are ``Expr``s.

A hand-written lexer (``lexer``) and recursive-descent parser (``parser`` for
bodies and blocks, ``expressions`` for values) rather than python-hcl2's Lark
grammar: Lark took about 2 s on a 1,000-step file where this takes about 0.1 s,
and owning the parser gives messages such as ``expected "=" or "{" after "foo"``
with the file and line.
"""

from typing import Any

from zplan.config.hcl.nodes import Attribute, Block

__all__ = ["Attribute", "Block", "END", "KIND", "NL", "START", "Token", "VALUE", "describe", "parse_file", "parse_template", "parse_text", "tokenize"]

_LEXER_NAMES = {"END", "KIND", "NL", "START", "Token", "VALUE", "describe", "tokenize"}
_PARSER_NAMES = {"parse_file", "parse_template", "parse_text"}


def __getattr__(name: str) -> Any:
    # The lexer and parser load on first use: a no-change plan reads every tree
    # from the parse cache and never needs them.
    if name in _LEXER_NAMES:
        from zplan.config.hcl import lexer

        return getattr(lexer, name)
    if name in _PARSER_NAMES:
        from zplan.config.hcl import parser

        return getattr(parser, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
