"""Parsing the inside of templates: ``${...}`` interpolations and ``%{if}`` / ``%{for}`` directives.

The lexer hands over a template as a flat list of text and ``Interp`` parts;
here the directives are paired (``if`` / ``else`` / ``endif``, ``for`` /
``endfor``) into the nested nodes of ``zplan.config.templates``.
"""

from __future__ import annotations

from typing import Any

from zplan.config.expr import Expr, Literal
from zplan.config.hcl.lexer import KIND, VALUE, Token, Interp, describe
from zplan.config.templates import TemplateExpr, TemplateFor, TemplateIf

_OPENERS = {"if", "for"}
_CLOSERS = {"if": "endif", "for": "endfor"}


class TemplateParser:
    """Methods of the expression parser that read templates (mixed into ``ExpressionParser``)."""

    def template(self, token: Token) -> Expr:
        parts = token[VALUE]
        if not any(isinstance(part, Interp) and part.directive for part in parts):
            items: list[Any] = [part if isinstance(part, str) else self.interpolation(part.tokens) for part in parts]
        else:
            items, end, stop = self.template_sequence(parts, 0, ())
            if stop is not None:
                raise self.error(stop.tokens[0], f"unexpected %{{{stop.tokens[0][VALUE]}}}: no %{{if}} or %{{for}} is open here")
        if len(items) == 1 and isinstance(items[0], str):
            return self.done(Literal(items[0]), token)
        return self.done(TemplateExpr(items), token)

    def template_sequence(self, parts: list[Any], k: int, stops: tuple[str, ...]) -> tuple[list[Any], int, Any]:
        """Parts from ``k`` up to a directive named in ``stops``: (items, index after it, that directive)."""
        items: list[Any] = []
        while k < len(parts):
            part = parts[k]
            k += 1
            if isinstance(part, str):
                items.append(part)
            elif not part.directive:
                items.append(self.interpolation(part.tokens))
            else:
                keyword = _keyword(part)
                if keyword in _OPENERS:
                    node, k = self.directive(parts, k, part, keyword)
                    items.append(node)
                elif keyword in stops or keyword in ("else", "endif", "endfor"):
                    return items, k, part
                else:
                    raise self.error(part.tokens[0], f"unknown template directive %{{{keyword or describe(part.tokens[0])}}}", "directives are %{if cond}, %{else}, %{endif}, %{for x in xs} and %{endfor}")
        return items, k, None

    def directive(self, parts: list[Any], k: int, opener: Interp, keyword: str) -> tuple[Expr, int]:
        """The ``%{if}`` or ``%{for}`` opened by ``opener``, through its closing directive."""
        first = opener.tokens[0]
        self.enter(first)
        closer = _CLOSERS[keyword]
        body, k, stop = self.template_sequence(parts, k, (closer, "else") if keyword == "if" else (closer,))
        otherwise: list[Any] = []
        if stop is not None and _keyword(stop) == "else" and keyword == "if":
            self.directive_end(stop, "else")
            otherwise, k, stop = self.template_sequence(parts, k, (closer,))
        if stop is None or _keyword(stop) != closer:
            found = f"found %{{{_keyword(stop)}}}" if stop is not None else "the template ends first"
            raise self.error(first, f"%{{{keyword}}} has no matching %{{{closer}}}: {found}")
        self.directive_end(stop, closer)
        node = self.directive_head(opener, keyword, self.template_node(body, first), self.template_node(otherwise, first))
        self.depth -= 1
        return node, k

    def directive_head(self, opener: Interp, keyword: str, body: TemplateExpr, otherwise: TemplateExpr) -> Expr:
        """Parse ``if COND`` or ``for [K,] V in COLL`` from the opening directive's tokens."""
        first = opener.tokens[0]
        outer = self.tokens, self.kinds, self.i, self.lines
        self.tokens, self.kinds, self.i, self.lines = opener.tokens, [t[KIND] for t in opener.tokens], 1, False
        if keyword == "if":
            node: Expr = TemplateIf(self.expression(), body, otherwise)
        else:
            key_var, value_var = self.for_variables()
            node = TemplateFor(key_var, value_var, self.expression(), body)
        rest = self.tokens[self.i]
        if rest[KIND] != "eof":
            raise self.error(rest, f"unexpected {describe(rest)} in %{{{keyword}}}")
        node = self.done(node, first)
        self.tokens, self.kinds, self.i, self.lines = outer
        return node

    def directive_end(self, part: Interp, keyword: str) -> None:
        if len(part.tokens) > 2:
            raise self.error(part.tokens[1], f"unexpected {describe(part.tokens[1])} in %{{{keyword}}}", f"%{{{keyword}}} takes nothing else")

    def template_node(self, items: list[Any], first: Token) -> TemplateExpr:
        node = TemplateExpr(items or [""])
        node._src, node._start, node._end = self.src, first[2], first[3]
        return node

    def interpolation(self, tokens: list[Token]) -> Expr:
        """Parse the tokens of one ``${...}`` with this parser, then resume the outer ones."""
        outer = self.tokens, self.kinds, self.i, self.lines
        self.tokens, self.kinds, self.i, self.lines = tokens, [t[KIND] for t in tokens], 0, False
        expr = self.expression()
        rest = self.tokens[self.i]
        if rest[KIND] != "eof":
            raise self.error(rest, f"unexpected {describe(rest)} in ${{...}}", "an interpolation holds one expression")
        self.tokens, self.kinds, self.i, self.lines = outer
        return expr


def _keyword(part: Interp) -> str | None:
    token = part.tokens[0]
    return token[VALUE] if token[KIND] == "ident" else None
