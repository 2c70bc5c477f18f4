"""Reading HCL: text -> a tree of ``Block``s whose attribute values are ``Expr``s.

A hand-written lexer (``lexer``) and recursive-descent parser (``parser`` for
bodies and blocks, ``expressions`` for values) rather than python-hcl2's Lark
grammar: Lark took about 2 s on a 1,000-step file where this takes about 0.1 s,
and owning the parser gives messages such as ``expected "=" or "{" after "foo"``
with the file and line.
"""

from zplan.config.hcl.lexer import END, KIND, NL, START, VALUE, Token, describe, tokenize
from zplan.config.hcl.parser import Attribute, Block, parse_file, parse_text

__all__ = ["Attribute", "Block", "END", "KIND", "NL", "START", "Token", "VALUE", "describe", "parse_file", "parse_text", "tokenize"]
