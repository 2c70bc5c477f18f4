"""Reading HCL, second half: tokens -> ``Expr`` trees (see ``zplan.config.expr``).

``ExpressionParser`` is the recursive-descent core; ``parser.Parser`` adds
bodies and blocks on top of it.
"""

from __future__ import annotations

import re
from typing import Any

from zplan.diags import DiagnosticError, Range, fail
from zplan.config.expr import (
    SPLAT_ITEM,
    Call,
    Expr,
    GetAttr,
    Index,
    Literal,
    ObjectExpr,
    Paren,
    Ref,
    RefExpr,
    Source,
    Splat,
    TupleExpr,
)
from zplan.config.hcl.lexer import END, KIND, MAX_DEPTH, NL, START, VALUE, Token, describe, shared
from zplan.config.hcl.templates import TemplateParser
from zplan.config.operators import Binary, Conditional, ForExpr, Unary
from zplan.config.values import FINITE_RULE, is_finite, is_number


_BINARY = {"||": 1, "&&": 2, "==": 3, "!=": 3, "<": 4, ">": 4, "<=": 4, ">=": 4, "+": 5, "-": 5, "*": 6, "/": 6, "%": 6}
_KEYWORDS = {"true": True, "false": False, "null": None}


class ExpressionParser(TemplateParser):
    """Recursive descent over the token list; ``i`` indexes the next token."""

    def __init__(self, tokens: list[Token], source: Source) -> None:
        self.tokens = tokens
        self.kinds = [t[KIND] for t in tokens]  # the hot path looks only at kinds
        self.i = 0
        self.src = source
        self.file = source.filename
        self.lines = True  # a newline ends the expression (see below)
        self.depth = 0

    # -- helpers ------------------------------------------------------------------------

    def at(self, token: Token) -> Range:
        return self.src.range(token[START])

    def error(self, token: Token, summary: str, detail: str = "") -> DiagnosticError:
        return fail(summary, detail, self.at(token))

    def expect(self, kind: str, context: str) -> Token:
        token = self.tokens[self.i]
        if token[KIND] != kind:
            raise self.error(token, f'expected "{kind}" {context}, found {describe(token)}')
        self.i += 1
        return token

    def done(self, node: Expr, first: Token) -> Expr:
        """Record that ``node`` spans from ``first`` to the last token consumed."""
        node._src = self.src
        node._start = first[START]
        node._end = self.tokens[self.i - 1][END]
        return node

    def number(self, token: Token) -> int | float:
        """A number literal's value; one too large for a float (``1e400``) is refused here, where it is
        written, rather than becoming Infinity that no plan, step or state could hold."""
        text = token[VALUE]
        whole = not ("." in text or "e" in text or "E" in text)
        if not is_finite(float(text)) or whole and not is_finite(int(text)):  # float() first: int() of 5,000 digits is refused
            raise self.error(token, f"the number {text} is too large", f"{FINITE_RULE}: write a smaller number")
        return int(text) if whole else float(text)

    # -- expressions --------------------------------------------------------------------
    #
    # ``lines`` says whether a newline ends the expression, as in HCL: it does in an
    # attribute's value and in an object's elements, not inside (), [], calls, for
    # expressions and ${...}. ``depth`` counts open nestings, which are bounded.

    def expression(self) -> Expr:
        first = self.tokens[self.i]
        if first[KIND] in _ATOMS and self.kinds[self.i + 1] not in _CONTINUES:
            return self.atom(first)  # most values are one plain token: skip the call chain
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.too_deep(first)
        cond = self.binary(1)
        if self.kinds[self.i] != "?" or self.line_ends():
            self.depth -= 1
            return cond
        self.i += 1
        then = self.operand()
        self.expect(":", "after the true branch of a conditional (cond ? a : b)")
        otherwise = self.operand()
        self.depth -= 1
        return self.done(Conditional(cond, then, otherwise), first)

    def enter(self, token: Token) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.too_deep(token)

    def too_deep(self, token: Token) -> DiagnosticError:
        return self.error(token, "nested too deeply", f"blocks, brackets and templates may nest at most {MAX_DEPTH} levels")

    def line_ends(self) -> bool:
        """Whether the next token starts a new line where that ends the expression."""
        return self.lines and self.tokens[self.i][NL]

    def same_line(self, after: Token) -> None:
        """The operand after ``after`` (an operator, "=" or ":") must start on its line, where newlines count."""
        if self.lines and self.tokens[self.i][NL]:
            raise self.error(
                after,  # the operator left dangling at the end of its line, not whatever the next line holds
                f"expected an expression after {describe(after)} on the same line",
                "a value that spans lines must be wrapped in parentheses: ( ... )",
            )

    def operand(self) -> Expr:
        self.same_line(self.tokens[self.i - 1])
        return self.expression()

    def binary(self, min_prec: int) -> Expr:
        kinds = self.kinds
        first = self.tokens[self.i]
        if first[KIND] in _ATOMS and kinds[self.i + 1] not in _CONTINUES:
            left = self.atom(first)
        else:
            left = self.unary()
        while True:
            op = kinds[self.i]
            prec = _BINARY.get(op)
            if prec is None or prec < min_prec or self.line_ends():
                return left
            self.i += 1
            self.same_line(self.tokens[self.i - 1])
            right = self.binary(prec + 1)
            left = self.done(Binary(op, left, right), first)

    def atom(self, token: Token) -> Expr:
        self.i += 1
        kind, value = token[KIND], token[VALUE]
        if kind == "string":
            node: Expr = Literal(shared(value[1:-1]))
        elif kind == "number":
            node = Literal(self.number(token))
        elif value in _KEYWORDS:
            node = Literal(_KEYWORDS[value])
        else:
            node = RefExpr(Ref((value,), self.at(token)))
        node._src, node._start, node._end = self.src, token[START], token[END]
        return node

    def unary(self) -> Expr:
        first = self.tokens[self.i]
        kind = first[KIND]
        if kind == "-" or kind == "!":
            self.i += 1
            self.enter(first)
            self.same_line(first)
            operand = self.unary()
            self.depth -= 1
            if kind == "-" and isinstance(operand, Literal) and is_number(operand.value):
                return self.done(Literal(-operand.value), first)
            return self.done(Unary(kind, operand), first)
        first = self.tokens[self.i]
        expr = self.primary()
        if self.kinds[self.i] not in _POSTFIX:
            return expr
        return self.traversals(expr, first)

    def traversals(self, expr: Expr, first: Token) -> Expr:
        """``.name``, ``[key]`` and splats after ``expr``.

        A reference grows its static prefix (``a.b[0]``); any other value gets
        one node per step, bounded with the nesting so evaluating them cannot
        recurse without limit.
        """
        kinds = self.kinds
        parts: list[Any] | None = list(expr.ref.parts) if isinstance(expr, RefExpr) else None
        entered = self.depth
        tokens = self.tokens
        while not (self.lines and tokens[self.i][NL]):
            kind = kinds[self.i]
            splat = _splat_width(kinds, self.i)
            if splat:
                if parts is not None:
                    expr, parts = self.ref_node(parts, first, self.i - 1), None
                self.enter(self.tokens[self.i])
                if kind == "[*]":
                    expr = self.done(Splat(expr, self.full_splat(splat)), first)  # takes all the steps after it
                    break
                expr = self.done(Splat(expr, self.attribute_splat(splat)), first)
                continue
            if kind == ".":
                step = self.dot_step()
                if parts is not None:
                    parts.extend(step)
                    continue
                for key in step:
                    self.enter(self.tokens[self.i - 1])
                    expr = self.done(GetAttr(expr, key), first)
            elif kind == "[":
                bracket = self.i
                self.i += 1
                key = self.inside_brackets("]", "to close the index")
                static = _static_key(key)
                if parts is not None and static is not None:
                    parts.append(static)
                    continue
                if parts is not None:
                    expr, parts = self.ref_node(parts, first, bracket - 1), None
                self.enter(self.tokens[bracket])
                expr = self.done(Index(expr, key), first)
            else:
                break
        self.depth = entered
        return expr if parts is None else self.ref_node(parts, first, self.i - 1)

    def dot_step(self) -> list[str | int]:
        self.i += 1  # "."
        token = self.tokens[self.i]
        self.i += 1
        if token[KIND] == "ident":
            return [token[VALUE]]
        if token[KIND] == "number" and re.fullmatch(r"\d+(\.\d+)?", token[VALUE]):
            return [int(n) for n in token[VALUE].split(".")]  # legacy a.0 (and a.0.1) indexing
        raise self.error(token, f'expected an attribute name after ".", found {describe(token)}')

    def ref_node(self, parts: list[Any], first: Token, last: int) -> Expr:
        """A RefExpr for ``parts`` spanning ``first`` .. token number ``last``."""
        node = RefExpr(Ref(tuple(parts), self.at(first)))
        node._src, node._start, node._end = self.src, first[START], self.tokens[last][END]
        return node

    def full_splat(self, width: int) -> Expr:
        """``[*]`` applies every step after it to each element, nested splats included."""
        marker = self.tokens[self.i]
        self.i += width
        item = self.done(RefExpr(Ref((SPLAT_ITEM,), self.at(marker))), marker)
        return self.traversals(item, marker)

    def attribute_splat(self, width: int) -> Expr:
        """The legacy ``.*`` takes only the ``.name`` steps after it: ``xs.*.id[0]`` indexes the result."""
        marker = self.tokens[self.i]
        self.i += width
        parts: list[Any] = [SPLAT_ITEM]
        while self.kinds[self.i] == "." and self.kinds[self.i + 1] in ("ident", "number") and not self.line_ends():
            parts.extend(self.dot_step())
        return self.ref_node(parts, marker, self.i - 1)

    def primary(self) -> Expr:
        token = self.tokens[self.i]
        self.i += 1
        kind = token[KIND]
        if kind == "string":
            return self.done(Literal(shared(token[VALUE][1:-1])), token)
        if kind == "ident":
            name = token[VALUE]
            if name in _KEYWORDS:
                return self.done(Literal(_KEYWORDS[name]), token)
            if self.kinds[self.i] == "(" and not self.line_ends():
                return self.call(token)
            return self.done(RefExpr(Ref((name,), self.at(token))), token)
        if kind == "number":
            return self.done(Literal(self.number(token)), token)
        if kind == "template":
            return self.template(token)
        if kind == "{":
            return self.object(token)
        if kind == "[":
            return self.tuple(token)
        if kind == "(":
            inner = self.inside_brackets(")", "to close the parenthesis")
            return self.done(Paren(inner), token)
        self.i -= 1
        raise self.error(token, f"expected an expression, found {describe(token)}")

    def inside_brackets(self, closer: str, context: str) -> Expr:
        """One expression up to ``closer``; newlines inside brackets are only white space."""
        outer, self.lines = self.lines, False
        expr = self.expression()
        self.expect(closer, context)
        self.lines = outer
        return expr

    def call(self, name: Token) -> Expr:
        self.i += 1  # "("
        outer, self.lines = self.lines, False
        args: list[Expr] = []
        expand = False
        while self.kinds[self.i] != ")":
            if self.kinds[self.i] == "eof":
                raise self.error(name, f'the call to {name[VALUE]}() is not closed: missing ")"')
            args.append(self.expression())
            token = self.tokens[self.i]
            if token[KIND] == "...":
                self.i += 1
                expand = True
                if self.kinds[self.i] != ")":
                    raise self.error(self.tokens[self.i], '"..." may follow only the last argument')
            elif token[KIND] == ",":
                self.i += 1
            elif token[KIND] == "eof":
                raise self.error(name, f'the call to {name[VALUE]}() is not closed: missing ")"')
            elif token[KIND] != ")":
                raise self.error(token, f'expected "," or ")" in the arguments of {name[VALUE]}(), found {describe(token)}')
        self.i += 1
        self.lines = outer
        return self.done(Call(name[VALUE], args, expand), name)

    def tuple(self, opener: Token) -> Expr:
        if self.is_for():
            return self.for_expr(opener, "]")
        outer, self.lines = self.lines, False
        items: list[Expr] = []
        while self.kinds[self.i] != "]":
            if self.kinds[self.i] == "eof":
                raise self.error(opener, 'the list opened here is not closed: missing "]"')
            items.append(self.expression())
            token = self.tokens[self.i]
            if token[KIND] == ",":
                self.i += 1
            elif token[KIND] == "eof":
                raise self.error(opener, 'the list opened here is not closed: missing "]"')
            elif token[KIND] != "]":
                raise self.error(token, f'expected "," or "]" in the list, found {describe(token)}', "separate list elements with commas")
        self.i += 1
        self.lines = outer
        return self.done(TupleExpr(items), opener)

    def object(self, opener: Token) -> Expr:
        if self.is_for():
            return self.for_expr(opener, "}")
        outer, self.lines = self.lines, True
        tokens, kinds = self.tokens, self.kinds
        items: list[tuple[str | Expr, Expr]] = []
        while True:
            token = tokens[self.i]
            kind = token[KIND]
            if kind == "}":
                break
            if kind == "eof":
                raise self.error(opener, 'the object opened here is not closed: missing "}"')
            if items and not (token[NL] or kinds[self.i - 1] == ","):
                raise self.error(token, f"expected \",\" or a new line before the next element of the object, found {describe(token)}")
            if kind == "ident" and kinds[self.i + 1] in ("=", ":"):
                key: str | Expr = token[VALUE]
                self.i += 1
            else:
                key = self.expression()
            sep = tokens[self.i]
            if (sep[KIND] != "=" and sep[KIND] != ":") or self.line_ends():
                raise self.error(sep, f"expected \"=\" after the object key {describe(token)}, found {describe(sep)}")
            self.i += 1
            if self.lines and tokens[self.i][NL]:
                self.same_line(sep)
            items.append((key, self.expression()))
            if kinds[self.i] == ",":
                self.i += 1
        self.i += 1
        self.lines = outer
        return self.done(ObjectExpr(items), opener)

    def is_for(self) -> bool:
        token = self.tokens[self.i]
        return token[KIND] == "ident" and token[VALUE] == "for" and self.kinds[self.i + 1] == "ident"

    def for_expr(self, opener: Token, closer: str) -> Expr:
        outer, self.lines = self.lines, False
        self.i += 1  # "for"
        key_var, value_var = self.for_variables()
        collection = self.expression()
        self.expect(":", "after the collection of a for expression")
        key = None
        if closer == "}":
            key = self.expression()
            self.expect("=>", "between key and value in an object for expression")
        value = self.expression()
        group = False
        if closer == "}" and self.kinds[self.i] == "...":
            self.i += 1
            group = True
        cond = None
        token = self.tokens[self.i]
        if token[KIND] == "ident" and token[VALUE] == "if":
            self.i += 1
            cond = self.expression()
        self.expect(closer, "to close the for expression")
        self.lines = outer
        return self.done(ForExpr(key_var, value_var, collection, key, value, cond, group), opener)

    def for_variables(self) -> tuple[str | None, str]:
        """``k, v in`` / ``v in`` after ``for``: the key and value variable names."""
        first_var = self.expect("ident", "after for")[VALUE]
        key_var, value_var = None, first_var
        if self.kinds[self.i] == ",":
            self.i += 1
            key_var, value_var = first_var, self.expect("ident", "after the comma in a for expression")[VALUE]
        token = self.tokens[self.i]
        if token[KIND] != "ident" or token[VALUE] != "in":
            raise self.error(token, f'expected "in" in the for expression, found {describe(token)}')
        self.i += 1
        return key_var, value_var


def _splat_width(kinds: list[str], i: int) -> int:
    """How many tokens the splat marker at ``i`` spans (the lexer makes ``[ * ]`` one token), or 0."""
    kind = kinds[i]
    return 1 if kind == "[*]" or kind == ".*" else 0


_POSTFIX = frozenset((".", "[", "[*]", ".*"))
_ATOMS = frozenset(("string", "number", "ident"))
_CONTINUES = _POSTFIX | set(_BINARY) | {"?", "("}  # tokens that extend an atom into a larger expression


def _static_key(key: Expr) -> str | int | None:
    """The literal in ``x["k"]`` / ``x[0]``, which extends a reference prefix."""
    if isinstance(key, Literal):
        value = key.value
        if isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool) and value >= 0):
            return value
    return None
