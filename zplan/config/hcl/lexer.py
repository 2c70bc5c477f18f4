"""Reading HCL, first half: text -> tokens.

A token is a plain tuple; quoted strings and heredocs become one "template"
token whose parts are text and the tokens of each ``${...}``, so the parser
never sees template syntax.
"""

from __future__ import annotations

import re
from typing import Any

from zplan.diags import DiagnosticError, fail
from zplan.config.expr import Source


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
    return Lexer(Source(filename, text.removeprefix("\ufeff")), layout).scan(0, inside=False)


class Lexer:
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
