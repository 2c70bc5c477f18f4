"""Reading HCL: text -> a tree of ``Block``s whose attribute values are ``Expr``s.

A hand-written lexer and recursive-descent parser rather than python-hcl2's
Lark grammar: Lark took about 2 s on a 1,000-step file where this takes about
0.1 s, and owning the parser gives messages such as
``expected "=" or "{" after "foo"`` with the file and line.

The syntax is HCL's native syntax (as Terraform reads it) with two allowances
python-hcl2 also makes: several attributes may share a line
(``step "a" { source = "x"  params = {} }``) and object elements need no
separator. Template directives (``%{if}``/``%{for}``) are not supported.
"""

from __future__ import annotations

import gc
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zplan.diags import DiagnosticError, Range, fail
from zplan.config.expr import (
    SPLAT_ITEM,
    Binary,
    Call,
    Conditional,
    Expr,
    ForExpr,
    GetAttr,
    Index,
    Literal,
    ObjectExpr,
    Paren,
    Ref,
    RefExpr,
    Source,
    Splat,
    TemplateExpr,
    TupleExpr,
    Unary,
    is_number,
)


@dataclass(frozen=True)
class Attribute:
    name: str
    expr: Expr
    range: Range  # where the attribute name is


@dataclass
class Block:
    type: str  # "" for the body of a whole file
    labels: list[str]
    attributes: dict[str, Attribute] = field(default_factory=dict)
    blocks: list["Block"] = field(default_factory=list)
    range: Range = field(default_factory=lambda: Range(""))  # the block header's line


def parse_file(path: Path) -> Block:
    """Parse one file; an unreadable or non-UTF-8 file is a diagnostic, not a traceback."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise fail(f"cannot read {path}: {exc.strerror or exc}", "check that the file exists and is readable", Range(str(path))) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise fail(f"{path} is not UTF-8 text", "save the file as UTF-8", Range(str(path), line)) from None
    return parse_text(text, str(path))


def parse_text(text: str, filename: str) -> Block:
    """Parse HCL text; returns a synthetic body block (type "", no labels)."""
    source = Source(filename, text.removeprefix("\ufeff"))  # a byte-order mark is not content
    body = Block(type="", labels=[], range=Range(filename, 1))
    # Parsing allocates tens of thousands of small containers that all live on;
    # the cyclic collector would rescan them again and again for nothing.
    collecting = gc.isenabled()
    gc.disable()
    try:
        _Parser(_Lexer(source, layout=False).scan(0, inside=False), source).body(body, None)
    finally:
        if collecting:
            gc.enable()
    return body


# -- tokens -----------------------------------------------------------------------------
#
# A token is a plain tuple (kind, value, start, end, newline_before): building
# objects per token cost more than the whole scan. ``kind`` is "ident", "number",
# "string" (a plain quoted string, value = raw text), "template" (a quoted string
# or heredoc with parts, value = list of str | _Interp), "nl", "comment", "eof",
# or the operator itself ("{", "==", ...). ``newline_before`` tells the parser
# that a line ended before the token, the only place newlines matter in HCL.

Token = tuple  # (kind: str, value: Any, start: int, end: int, newline_before: bool)
KIND, VALUE, START, END, NL = range(5)


class _Interp:
    """A ``${...}`` inside a template: its tokens, and whether ``~`` strips the text around it."""

    __slots__ = ("tokens", "strip_left", "strip_right")

    def __init__(self, tokens: list[Token], strip_left: bool, strip_right: bool) -> None:
        self.tokens = tokens
        self.strip_left = strip_left
        self.strip_right = strip_right


_TOKEN = re.compile(
    r"""
     (?P<nl>\n)
    |(?P<heredoc><<-?(?P<marker>[^\W\d][\w-]*)[ \t]*\r?\n)
    |(?P<ident>[^\W\d][\w-]*)
    |(?P<string>"[^"\\$%\n]*")
    |(?P<number>[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)
    |(?P<comment>\#[^\n]*|//[^\n]*|/\*.*?\*/)
    |(?P<quote>")
    |(?P<op>\.\.\.|\.\*|\[\*\]|==|!=|<=|>=|&&|\|\||=>|[-+*%<>=!?:.,(){}\[\]~])
    |(?P<slash>/)
    |(?P<bad>\S)
    """,
    re.VERBOSE | re.DOTALL,
)
_QUOTED_TEXT = re.compile(r'[^"\\$%\n]+')
_HEREDOC_TEXT = re.compile(r"[^$%\n]+")
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\"}


def tokenize(text: str, filename: str, layout: bool = False) -> list[Token]:
    """Split ``text`` into tokens ending with an "eof" token.

    The parser needs no newline or comment tokens (each token says whether a
    newline came before it); ``layout=True`` keeps them, for ``fmt``.
    """
    return _Lexer(Source(filename, text.removeprefix("\ufeff")), layout).scan(0, inside=False)


class _Lexer:
    def __init__(self, source: Source, layout: bool) -> None:
        self.src = source
        self.text = source.text
        self.layout = layout
        self.end = 0  # where the last scan or template stopped
        self.strip_right = False  # whether the last interpolation ended with ~}
        self.interpolation_start = 0  # where the innermost open ${ began, for errors

    def error(self, offset: int, summary: str, detail: str = "") -> DiagnosticError:
        return fail(summary, detail, self.src.range(offset))

    def scan(self, pos: int, inside: bool) -> list[Token]:
        """Tokens from ``pos``; ``inside`` a ``${`` the scan stops at its closing ``}``."""
        text, layout = self.text, self.layout
        tokens: list[Token] = []
        add = tokens.append
        nl = False
        depth = 0
        while True:
            resume = -1
            for m in _TOKEN.finditer(text, pos):
                kind = m.lastgroup
                if kind == "ident" or kind == "number" or kind == "string":
                    add((kind, m.group(), m.start(), m.end(), nl))
                    nl = False
                elif kind == "op":
                    op = m.group()
                    if inside and depth == 0 and (op == "}" or op == "~"):
                        return self._close_interpolation(m, tokens, nl)
                    if op == "{":
                        depth += 1
                    elif op == "}":
                        depth -= 1
                    elif op == "~":
                        raise self.error(m.start(), 'unexpected "~"', "a strip marker (~) is allowed only next to ${ and } in templates")
                    add((op, op, m.start(), m.end(), nl))
                    nl = False
                elif kind == "nl":
                    if layout:
                        add(("nl", "\n", m.start(), m.end(), nl))
                    nl = True
                elif kind == "comment":
                    if layout:
                        add(("comment", m.group(), m.start(), m.end(), nl))
                    nl = nl or "\n" in m.group()
                elif kind == "quote":
                    parts = self._template(m.start() + 1, quoted=True, limit=len(text))
                    add(("template", parts, m.start(), self.end, nl))
                    nl, resume = False, self.end
                    break
                elif kind == "heredoc":
                    add(self._heredoc(m, nl))
                    nl, resume = False, self.end
                    break
                elif kind == "slash":
                    if text.startswith("/*", m.start()):
                        raise self.error(m.start(), "unterminated comment: /* has no matching */")
                    add(("/", "/", m.start(), m.end(), nl))
                    nl = False
                else:
                    raise self._bad(m.start())
            if resume < 0:
                break
            pos = resume
        if inside:
            raise self.error(self.interpolation_start, "unterminated interpolation: missing }", "close the ${ ... }")
        end = len(text.rstrip())  # errors at the end of the file point at its last line
        tokens.append(("eof", None, end, end, True))
        return tokens

    def _close_interpolation(self, m: re.Match, tokens: list[Token], nl: bool) -> list[Token]:
        end = m.end()
        self.strip_right = m.group() == "~"
        if self.strip_right:
            if not self.text.startswith("}", end):
                raise self.error(m.start(), 'unexpected "~": a strip marker goes right before the closing }')
            end += 1
        tokens.append(("eof", None, m.start(), m.start(), nl))
        self.end = end
        return tokens

    def _bad(self, pos: int) -> DiagnosticError:
        if self.text.startswith("<<", pos):
            return self.error(pos, "invalid heredoc: write <<NAME (or <<-NAME) and end the line there", "the text starts on the next line")
        return self.error(pos, f"invalid character {self.text[pos]!r}")

    # -- templates ----------------------------------------------------------------------

    def _template(self, pos: int, quoted: bool, limit: int) -> list[Any]:
        """Parts of a quoted string from ``pos`` (after the quote), or of a heredoc body up to ``limit``."""
        text = self.text
        opening = pos - 1
        parts: list[Any] = []
        buf: list[str] = []
        literal = _QUOTED_TEXT if quoted else _HEREDOC_TEXT
        while True:
            m = literal.match(text, pos, limit)
            if m:
                buf.append(m.group())
                pos = m.end()
            if pos >= limit:
                if quoted:
                    raise self.error(opening, "unterminated string: missing closing quote")
                break
            c = text[pos]
            if c == '"':  # only reachable when quoted
                pos += 1
                break
            if c == "\n":
                if quoted:
                    raise self.error(
                        opening,
                        "unterminated string: a quoted string cannot span lines",
                        'close the quote on the same line, or use a heredoc (<<EOT ... EOT) or "\\n"',
                    )
                buf.append(c)
                pos += 1
            elif c == "\\":
                pos = self._escape(pos, buf)
            elif text.startswith("$${", pos) or text.startswith("%%{", pos):
                buf.append(text[pos + 1 : pos + 3])
                pos += 3
            elif text.startswith("${", pos):
                parts.append("".join(buf))
                buf = []
                pos = self._interpolation(pos, parts)
            elif text.startswith("%{", pos):
                raise self.error(
                    pos,
                    "template directives (%{...}) are not supported",
                    "use a conditional or a for expression inside ${...}, or write %%{ for a literal %{",
                )
            else:  # a lone $ or %
                buf.append(c)
                pos += 1
        parts.append("".join(buf))
        self.end = pos
        return _strip_parts(parts)

    def _escape(self, pos: int, buf: list[str]) -> int:
        text = self.text
        c = text[pos + 1 : pos + 2]
        if c in _ESCAPES and c:
            buf.append(_ESCAPES[c])
            return pos + 2
        width = {"u": 4, "U": 8}.get(c, 0)
        digits = text[pos + 2 : pos + 2 + width]
        if width and len(digits) == width and all(d in "0123456789abcdefABCDEF" for d in digits):
            buf.append(chr(int(digits, 16)))
            return pos + 2 + width
        raise self.error(
            pos,
            f"invalid escape sequence \\{c}",
            'use \\n \\r \\t \\" \\\\ \\uNNNN or \\UNNNNNNNN (write \\\\ for a backslash)',
        )

    def _interpolation(self, pos: int, parts: list[Any]) -> int:
        start = pos
        pos += 2
        strip_left = self.text.startswith("~", pos)
        if strip_left:
            pos += 1
        layout, self.layout = self.layout, False
        outer, self.interpolation_start = self.interpolation_start, start
        tokens = self.scan(pos, inside=True)
        self.layout, self.interpolation_start = layout, outer
        if len(tokens) == 1:
            raise self.error(start, "empty interpolation: ${} needs an expression inside")
        parts.append(_Interp(tokens, strip_left, self.strip_right))
        return self.end

    def _heredoc(self, m: re.Match, nl: bool) -> Token:
        marker = m.group("marker")
        closing = re.compile(r"^[ \t]*" + re.escape(marker) + r"[ \t]*\r?$", re.MULTILINE)
        end = closing.search(self.text, m.end())
        if end is None:
            raise self.error(m.start(), f"unterminated heredoc: no line holding only {marker}", f"end the text with a line that reads {marker}")
        parts = self._template(m.end(), quoted=False, limit=end.start())
        if m.group().startswith("<<-"):
            parts = _flush(parts)
        self.end = end.end() - (1 if self.text[end.end() - 1 : end.end()] == "\r" else 0)
        return ("template", parts, m.start(), self.end, nl)


def _strip_parts(parts: list[Any]) -> list[Any]:
    """Apply ``${~`` / ``~}`` markers to the text around them; drop empty text."""
    if len(parts) == 1:
        return parts
    for i, part in enumerate(parts):
        if isinstance(part, _Interp):
            if part.strip_left and i > 0:
                parts[i - 1] = parts[i - 1].rstrip()
            if part.strip_right and i + 1 < len(parts):
                parts[i + 1] = parts[i + 1].lstrip()
    return [p for p in parts if not (isinstance(p, str) and p == "")] or [""]


def _flush(parts: list[Any]) -> list[Any]:
    """``<<-`` heredocs lose the indentation common to their non-blank lines."""
    lines = "".join(p if isinstance(p, str) else "\x00" for p in parts).split("\n")
    cut = min((len(ln) - len(ln.lstrip(" \t")) for ln in lines if ln.strip(" \t")), default=0)
    if not cut:
        return parts
    result: list[Any] = []
    at_line_start = True
    for part in parts:
        if not isinstance(part, str):
            result.append(part)
            at_line_start = False
            continue
        pieces = part.split("\n")
        for j, piece in enumerate(pieces):
            if j > 0:
                at_line_start = True
            if at_line_start and piece:
                indent = len(piece) - len(piece.lstrip(" \t"))
                pieces[j] = piece[min(cut, indent) :]
                at_line_start = False
        result.append("\n".join(pieces))
    return result


# -- parser -----------------------------------------------------------------------------

_BINARY = {"||": 1, "&&": 2, "==": 3, "!=": 3, "<": 4, ">": 4, "<=": 4, ">=": 4, "+": 5, "-": 5, "*": 6, "/": 6, "%": 6}
_KEYWORDS = {"true": True, "false": False, "null": None}


def describe(token: Token) -> str:
    """A token as messages name it."""
    kind, value = token[KIND], token[VALUE]
    if kind == "eof":
        return "end of file"
    if kind == "ident":
        return f'"{value}"'
    if kind == "number":
        return f"number {value}"
    if kind in ("string", "template"):
        return "string"
    return f'"{kind}"'


class _Parser:
    """Recursive descent over the token list; ``i`` indexes the next token."""

    def __init__(self, tokens: list[Token], source: Source) -> None:
        self.tokens = tokens
        self.kinds = [t[KIND] for t in tokens]  # the hot path looks only at kinds
        self.i = 0
        self.src = source
        self.file = source.filename

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

    # -- bodies -------------------------------------------------------------------------

    def body(self, block: Block, opener: Token | None) -> None:
        tokens, kinds = self.tokens, self.kinds
        while True:
            token = tokens[self.i]
            kind = token[KIND]
            if kind == "}":
                if opener is None:
                    raise self.error(token, 'unexpected "}": no block is open here', "remove it, or check the braces above")
                self.i += 1
                return
            if kind == "eof":
                if opener is not None:
                    header = " ".join([block.type] + [f'"{label}"' for label in block.labels])
                    raise fail(
                        f'the {header} block is not closed: missing "}}"',
                        f"the file ends before the block opened at line {block.range.line} is closed",
                        block.range,
                    )
                return
            if kind != "ident":
                raise self.error(token, f"expected an attribute name or a block type, found {describe(token)}")
            self.i += 1
            following = kinds[self.i]
            if tokens[self.i][NL] and following != "=":
                raise self.error(
                    token,
                    f'expected "=" or "{{" after "{token[VALUE]}"',
                    f'write {token[VALUE]} = VALUE for an attribute, or {token[VALUE]} "LABEL" {{ ... }} for a block',
                )
            if following == "=":
                self.attribute(block, token)
            elif following in ("string", "template", "ident", "{"):
                self.block(block, token)
            else:
                name = token[VALUE]
                raise self.error(
                    tokens[self.i],
                    f'expected "=" or "{{" after "{name}", found {describe(tokens[self.i])}',
                    f'write {name} = VALUE for an attribute, or {name} "LABEL" {{ ... }} for a block',
                )

    def attribute(self, block: Block, name_token: Token) -> None:
        name = name_token[VALUE]
        self.i += 1  # "="
        value = self.tokens[self.i]
        if value[NL] or value[KIND] in ("eof", "}"):
            raise self.error(name_token, f'expected a value after "{name} ="', "write the value on the same line as the attribute name")
        expr = self.expression()
        after = self.tokens[self.i]
        if not (after[NL] or after[KIND] in ("}", "eof", "ident")):
            raise self.error(
                after,
                f'unexpected {describe(after)} after the value of "{name}"',
                "an attribute is NAME = VALUE; start the next one on a new line",
            )
        where = self.at(name_token)
        previous = block.attributes.get(name)
        if previous is not None:
            raise fail(
                f'duplicate attribute "{name}"',
                f'"{name}" is set twice in this block: at line {previous.range.line} and at line {where.line}',
                where,
            )
        block.attributes[name] = Attribute(name, expr, where)

    def block(self, parent: Block, type_token: Token) -> None:
        labels: list[str] = []
        while True:
            token = self.tokens[self.i]
            kind = token[KIND]
            if token[NL]:
                raise self.error(token, f'expected "{{" on the same line as the block header "{type_token[VALUE]}"')
            if kind == "{":
                break
            if kind == "string" or kind == "ident":
                labels.append(token[VALUE][1:-1] if kind == "string" else token[VALUE])
            elif kind == "template":
                parts = token[VALUE]
                if len(parts) != 1 or not isinstance(parts[0], str):
                    raise self.error(token, "a block label cannot contain interpolations", 'write a plain "label"')
                labels.append(parts[0])
            else:
                raise self.error(token, f'expected a label or "{{" in the block header "{type_token[VALUE]}", found {describe(token)}')
            self.i += 1
        opener = self.tokens[self.i]
        self.i += 1
        child = Block(type=type_token[VALUE], labels=labels, range=self.at(type_token))
        self.body(child, opener)
        parent.blocks.append(child)

    # -- expressions --------------------------------------------------------------------

    def expression(self) -> Expr:
        first = self.tokens[self.i]
        if first[KIND] in _ATOMS and self.kinds[self.i + 1] not in _CONTINUES:
            return self.atom(first)  # most values are one plain token: skip the call chain
        cond = self.binary(1)
        if self.kinds[self.i] != "?":
            return cond
        self.i += 1
        then = self.expression()
        self.expect(":", "after the true branch of a conditional (cond ? a : b)")
        otherwise = self.expression()
        return self.done(Conditional(cond, then, otherwise), first)

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
            if prec is None or prec < min_prec:
                return left
            self.i += 1
            right = self.binary(prec + 1)
            left = self.done(Binary(op, left, right), first)

    def atom(self, token: Token) -> Expr:
        self.i += 1
        kind, value = token[KIND], token[VALUE]
        if kind == "string":
            node: Expr = Literal(value[1:-1])
        elif kind == "number":
            node = Literal(float(value) if ("." in value or "e" in value or "E" in value) else int(value))
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
            operand = self.unary()
            if kind == "-" and isinstance(operand, Literal) and is_number(operand.value):
                return self.done(Literal(-operand.value), first)
            return self.done(Unary(kind, operand), first)
        return self.postfix()

    def postfix(self) -> Expr:
        first = self.tokens[self.i]
        expr = self.primary()
        kinds = self.kinds
        if kinds[self.i] not in _POSTFIX:
            return expr
        parts: list[Any] | None = list(expr.ref.parts) if isinstance(expr, RefExpr) else None
        while True:
            kind = kinds[self.i]
            if kind == ".":
                step = self.dot_step()
                if parts is not None:
                    parts.extend(step)
                    continue
                for key in step:
                    expr = self.done(GetAttr(expr, key), first)
            elif kind == "[":
                bracket = self.i
                self.i += 1
                key = self.expression()
                self.expect("]", "to close the index")
                static = _static_key(key)
                if parts is not None and static is not None:
                    parts.append(static)
                    continue
                if parts is not None:
                    expr, parts = self.ref_node(parts, first, bracket - 1), None
                expr = self.done(Index(expr, key), first)
            elif kind == "[*]" or kind == ".*":
                if parts is not None:
                    expr, parts = self.ref_node(parts, first, self.i - 1), None
                token = self.tokens[self.i]
                self.i += 1
                expr = self.done(Splat(expr, self.splat_body(token)), first)
            else:
                break
        if parts is not None:
            expr = self.ref_node(parts, first, self.i - 1)
        return expr

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

    def splat_body(self, token: Token) -> Expr:
        """The traversals after ``[*]`` / ``.*``, applied to each element."""
        body: Expr = self.done(RefExpr(Ref((SPLAT_ITEM,), self.at(token))), token)
        while True:
            kind = self.kinds[self.i]
            if kind == ".":
                for key in self.dot_step():
                    body = self.done(GetAttr(body, key), token)
            elif kind == "[":
                self.i += 1
                key = self.expression()
                self.expect("]", "to close the index")
                body = self.done(Index(body, key), token)
            else:
                return body

    def primary(self) -> Expr:
        token = self.tokens[self.i]
        self.i += 1
        kind = token[KIND]
        if kind == "string":
            return self.done(Literal(token[VALUE][1:-1]), token)
        if kind == "ident":
            name = token[VALUE]
            if name in _KEYWORDS:
                return self.done(Literal(_KEYWORDS[name]), token)
            if self.kinds[self.i] == "(":
                return self.call(token)
            return self.done(RefExpr(Ref((name,), self.at(token))), token)
        if kind == "number":
            text = token[VALUE]
            return self.done(Literal(float(text) if ("." in text or "e" in text or "E" in text) else int(text)), token)
        if kind == "template":
            return self.template(token)
        if kind == "{":
            return self.object(token)
        if kind == "[":
            return self.tuple(token)
        if kind == "(":
            inner = self.expression()
            self.expect(")", "to close the parenthesis")
            return self.done(Paren(inner), token)
        self.i -= 1
        raise self.error(token, f"expected an expression, found {describe(token)}")

    def template(self, token: Token) -> Expr:
        parts: list[str | Expr] = []
        for part in token[VALUE]:
            parts.append(part if isinstance(part, str) else self.interpolation(part.tokens))
        if len(parts) == 1 and isinstance(parts[0], str):
            return self.done(Literal(parts[0]), token)
        return self.done(TemplateExpr(parts), token)

    def interpolation(self, tokens: list[Token]) -> Expr:
        """Parse the tokens of one ``${...}`` with this parser, then resume the outer ones."""
        outer = self.tokens, self.kinds, self.i
        self.tokens, self.kinds, self.i = tokens, [t[KIND] for t in tokens], 0
        try:
            expr = self.expression()
            rest = self.tokens[self.i]
            if rest[KIND] != "eof":
                raise self.error(rest, f"unexpected {describe(rest)} in ${{...}}", "an interpolation holds one expression")
        finally:
            self.tokens, self.kinds, self.i = outer
        return expr

    def call(self, name: Token) -> Expr:
        self.i += 1  # "("
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
        return self.done(Call(name[VALUE], args, expand), name)

    def tuple(self, opener: Token) -> Expr:
        if self.is_for():
            return self.for_expr(opener, "]")
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
        return self.done(TupleExpr(items), opener)

    def object(self, opener: Token) -> Expr:
        if self.is_for():
            return self.for_expr(opener, "}")
        tokens, kinds = self.tokens, self.kinds
        items: list[tuple[str | Expr, Expr]] = []
        seen: dict[str, Token] = {}
        while True:
            token = tokens[self.i]
            kind = token[KIND]
            if kind == "}":
                break
            if kind == "eof":
                raise self.error(opener, 'the object opened here is not closed: missing "}"')
            if kind == "ident" and kinds[self.i + 1] in ("=", ":"):
                key: str | Expr = token[VALUE]
                self.i += 1
            else:
                key = self.expression()
            name = key if isinstance(key, str) else (key.value if isinstance(key, Literal) and isinstance(key.value, str) else None)
            if name is not None:
                if name in seen:
                    raise self.error(token, f'duplicate key "{name}" in object', f"it is already set at line {self.at(seen[name]).line}")
                seen[name] = token
            sep = tokens[self.i]
            if sep[KIND] != "=" and sep[KIND] != ":":
                raise self.error(sep, f"expected \"=\" after the object key {describe(token)}, found {describe(sep)}")
            self.i += 1
            items.append((key, self.expression()))
            if kinds[self.i] == ",":
                self.i += 1
        self.i += 1
        return self.done(ObjectExpr(items), opener)

    def is_for(self) -> bool:
        token = self.tokens[self.i]
        return token[KIND] == "ident" and token[VALUE] == "for" and self.kinds[self.i + 1] == "ident"

    def for_expr(self, opener: Token, closer: str) -> Expr:
        self.i += 1  # "for"
        first_var = self.expect("ident", "after for")[VALUE]
        key_var, value_var = None, first_var
        if self.kinds[self.i] == ",":
            self.i += 1
            key_var, value_var = first_var, self.expect("ident", "after the comma in a for expression")[VALUE]
        token = self.tokens[self.i]
        if token[KIND] != "ident" or token[VALUE] != "in":
            raise self.error(token, f'expected "in" in the for expression, found {describe(token)}')
        self.i += 1
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
        return self.done(ForExpr(key_var, value_var, collection, key, value, cond, group), opener)


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
