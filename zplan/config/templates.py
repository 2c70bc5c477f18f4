"""String templates: ``"a ${x} b"``, heredocs, and the ``%{if}`` / ``%{for}`` directives in them.

A template's value is text, except that ``"${x}"`` alone keeps ``x``'s type (as
in Terraform), ``UNKNOWN`` anywhere makes the whole value unknown, and a
symbolic value (a step output) makes it a ``Template`` that still shows which
references were inside.
"""

from __future__ import annotations

from typing import Any

from zplan.config.expr import Expr, Ref, _Ctx
from zplan.config.values import UNKNOWN, Template, article, for_pairs, is_symbolic, to_text, truth, type_name


class TemplateExpr(Expr):
    """A quoted string or heredoc; parts are text, interpolated ``Expr``s and directives."""

    __slots__ = ("parts",)

    def __init__(self, parts: list[str | Expr]) -> None:
        self.parts = parts

    def _refs(self, bound: frozenset, out: list[Ref]) -> None:
        for part in self.parts:
            if isinstance(part, Expr):
                part._refs(bound, out)

    def _eval(self, ctx: _Ctx) -> Any:
        if len(self.parts) == 1 and isinstance(self.parts[0], Expr) and not isinstance(self.parts[0], _Directive):
            return self.parts[0]._eval(ctx)  # "${x}" keeps x's type, as in Terraform
        return self._text(ctx)

    def _text(self, ctx: _Ctx) -> Any:
        """The parts joined: text, a ``Template`` when symbolic values are inside, or UNKNOWN."""
        pieces: list[Any] = []
        unknown = False
        for part in self.parts:
            if isinstance(part, str):
                pieces.append(part)
                continue
            value = part._eval(ctx)
            if value is UNKNOWN:
                unknown = True
            elif isinstance(value, Template):
                pieces.extend(value.parts)
            elif is_symbolic(value):
                pieces.append(value)
            else:
                text = to_text(value)
                if text is None:
                    raise part._fail(
                        f"cannot put {article(type_name(value))} into a string",
                        f"${{{part.source()}}} must be a string, number or bool; use jsonencode() or join() for collections",
                    )
                pieces.append(text)
        return UNKNOWN if unknown else _joined(pieces)


def _joined(pieces: list[Any]) -> Any:
    """Text pieces joined into a str, or into a ``Template`` if symbolic values are among them."""
    if all(isinstance(piece, str) for piece in pieces):
        return "".join(pieces)
    merged: list[Any] = []
    for piece in pieces:
        if isinstance(piece, str):
            if not piece:
                continue
            if merged and isinstance(merged[-1], str):
                merged[-1] += piece
                continue
        merged.append(piece)
    return Template(tuple(merged))


class _Directive(Expr):
    """A ``%{...}`` directive: its value is always text (or a Template, or UNKNOWN)."""

    __slots__ = ()


class TemplateIf(_Directive):
    """``%{if cond}then%{else}otherwise%{endif}``."""

    __slots__ = ("cond", "then", "otherwise")

    def __init__(self, cond: Expr, then: TemplateExpr, otherwise: TemplateExpr) -> None:
        self.cond = cond
        self.then = then
        self.otherwise = otherwise

    def _refs(self, bound: frozenset, out: list[Ref]) -> None:
        for node in (self.cond, self.then, self.otherwise):
            node._refs(bound, out)

    def _eval(self, ctx: _Ctx) -> Any:
        cond = truth(self.cond._eval(ctx))
        if cond is UNKNOWN:
            return UNKNOWN
        if not isinstance(cond, bool):
            raise self.cond._fail(f"the %{{if}} condition must be true or false, got {type_name(cond)}", f"in {self.cond.source()}")
        return (self.then if cond else self.otherwise)._text(ctx)


class TemplateFor(_Directive):
    """``%{for k, v in coll}body%{endfor}``: the body once per element, joined."""

    __slots__ = ("key_var", "value_var", "collection", "body")

    def __init__(self, key_var: str | None, value_var: str, collection: Expr, body: TemplateExpr) -> None:
        self.key_var = key_var
        self.value_var = value_var
        self.collection = collection
        self.body = body

    def _refs(self, bound: frozenset, out: list[Ref]) -> None:
        self.collection._refs(bound, out)
        self.body._refs(bound | {self.value_var} | ({self.key_var} if self.key_var else set()), out)

    def _eval(self, ctx: _Ctx) -> Any:
        collection, sensitive = ctx.marked(self.collection)
        if collection is UNKNOWN:
            return UNKNOWN
        pairs = for_pairs(collection)
        if pairs is None:
            raise self.collection._fail(f"%{{for}} needs a list or an object, got {type_name(collection)}", f"in {self.collection.source()}")
        pieces: list[Any] = []
        for k, v in pairs:
            names = {self.value_var: v, **({self.key_var: k} if self.key_var else {})}
            text = self.body._text(ctx.with_locals(names, sensitive))
            if text is UNKNOWN:
                return UNKNOWN
            pieces.extend(text.parts if isinstance(text, Template) else [text])
        return _joined(pieces)
