"""Reading HCL, first half: text -> tokens.

A token is a plain tuple; quoted strings and heredocs become one "template"
token whose parts are text and the tokens of each ``${...}`` and ``%{...}``,
so the parser never sees template syntax. Only spaces, tabs and newlines
(LF or CRLF) separate tokens, as in HCL; templates nest at most ``MAX_DEPTH``.
"""

from __future__ import annotations

import re
import sys
from typing import Any

from zplan.diags import DiagnosticError, fail
from zplan.config.expr import Source


# A token is a plain tuple (kind, value, start, end, newline_before): building
# objects per token cost more than the whole scan. ``kind`` is "ident", "number",
# "string" (a plain quoted string, value = raw text), "template" (a quoted string
# or heredoc with parts, value = list of str | Interp), "nl", "comment", "eof",
# or the operator itself ("{", "==", ...). ``newline_before`` tells the parser
# that a line ended before the token, the only place newlines matter in HCL.

Token = tuple  # (kind: str, value: Any, start: int, end: int, newline_before: bool)
KIND, VALUE, START, END, NL = range(5)


MAX_DEPTH = 64  # nesting of blocks, brackets and templates: deeper input is an error, not a crash
SHARED_TEXT = 64  # quoted strings up to this length are shared, as names are (``shared``)


def shared(text: str) -> str:
    """One string object for every occurrence of a name or short literal (``step``, ``source``,
    ``"steps.py:train"`` once per step): the parse cache then stores and loads each once, and a
    big configuration keeps one copy in memory."""
    return sys.intern(text) if len(text) <= SHARED_TEXT else text


class Interp:
    """A ``${...}`` or ``%{...}`` inside a template: its tokens, and whether ``~`` strips the text around it."""

    __slots__ = ("tokens", "strip_left", "strip_right", "directive")

    def __init__(self, tokens: list[Token], strip_left: bool, strip_right: bool, directive: bool) -> None:
        self.tokens = tokens
        self.strip_left = strip_left
        self.strip_right = strip_right
        self.directive = directive  # %{ if }, %{ for }, ...: the parser gives it meaning


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


_TOKEN = re.compile(
    r"""
     (?P<nl>\r?\n)
    |(?P<heredoc><<-?(?P<marker>[^\W\d][\w-]*)[ \t]*\r?\n)
    |(?P<ident>[^\W\d][\w-]*)
    |(?P<string>"[^"\\$%\r\n]*")
    |(?P<number>[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)
    |(?P<comment>\#[^\n]*|//[^\n]*|/\*.*?\*/)
    |(?P<quote>")
    |(?P<op>\.\.\.|\.[ \t]*\*|\[[ \t]*\*[ \t]*\]|==|!=|<=|>=|&&|\|\||=>|[-+*%<>=!?:.,(){}\[\]~])
    |(?P<slash>/)
    |(?P<bad>[^ \t])
    """,
    re.VERBOSE | re.DOTALL,
)
_QUOTED_TEXT = re.compile(r'[^"\\$%\r\n]+')
_HEREDOC_TEXT = re.compile(r"[^$%\r\n]+")
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
        self.depth = 0  # templates open around the current scan

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
                if kind == "ident":
                    add((kind, sys.intern(m.group()), m.start(), m.end(), nl))
                    nl = False
                elif kind == "number" or kind == "string":
                    add((kind, m.group(), m.start(), m.end(), nl))
                    nl = False
                elif kind == "op":
                    op = m.group()
                    if len(op) > 2 and op[-1] in "*]" and op[0] in ".[":
                        op = "[*]" if op[0] == "[" else ".*"  # a splat written with spaces: [ * ]
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
        import unicodedata  # only for this message

        char = self.text[pos]
        if self.text.startswith("<<", pos):
            return self.error(pos, "invalid heredoc: write <<NAME (or <<-NAME) and end the line there", "the text starts on the next line")
        if char == "\r":
            return self.error(pos, "invalid character: a carriage return (CR) not followed by a newline", "save the file with LF or CRLF line endings")
        if char.isspace() or unicodedata.category(char) in ("Zs", "Zl", "Zp", "Cc", "Cf"):
            name = unicodedata.name(char, "control character").lower()
            return self.error(pos, f"invalid character U+{ord(char):04X} ({name})", "only spaces, tabs and newlines may separate tokens")
        return self.error(pos, f"invalid character {char!r}")

    # -- templates ----------------------------------------------------------------------

    def _template(self, pos: int, quoted: bool, limit: int, lf_only: bool = False) -> list[Any]:
        """Parts of a quoted string from ``pos`` (after the quote), or of a heredoc body up to ``limit``
        (``lf_only``: its CRLF line endings read as LF, so a file saved on Windows means the same)."""
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
            if c == "\r" and quoted and not text.startswith("\r\n", pos):
                raise self.error(pos, "invalid character in a string: a carriage return (CR)", 'write \\r for a carriage return')
            if c == "\n" or c == "\r":
                if quoted:
                    raise self.error(
                        opening,
                        "unterminated string: a quoted string cannot span lines",
                        'close the quote on the same line, or use a heredoc (<<EOT ... EOT) or "\\n"',
                    )
                if lf_only and text.startswith("\r\n", pos):
                    c, pos = "\n", pos + 1
                buf.append(c)
                pos += 1
            elif c == "\\":
                pos = self._escape(pos, buf)
            elif text.startswith("$${", pos) or text.startswith("%%{", pos):
                buf.append(text[pos + 1 : pos + 3])
                pos += 3
            elif text.startswith("${", pos) or text.startswith("%{", pos):
                parts.append("".join(buf))
                buf = []
                pos = self._interpolation(pos, parts)
            else:  # a lone $ or %
                buf.append(c)
                pos += 1
        parts.append("".join(buf))
        self.end = pos
        return _strip_parts(parts, by_line=not quoted)

    def _escape(self, pos: int, buf: list[str]) -> int:
        text = self.text
        c = text[pos + 1 : pos + 2]
        if c in _ESCAPES and c:
            buf.append(_ESCAPES[c])
            return pos + 2
        width = {"u": 4, "U": 8}.get(c, 0)
        digits = text[pos + 2 : pos + 2 + width]
        if width and len(digits) == width and all(d in "0123456789abcdefABCDEF" for d in digits):
            code = int(digits, 16)
            if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
                raise self.error(pos, f"invalid escape sequence \\{c}{digits}: not a Unicode character", "a \\u or \\U escape names a code point up to 10FFFF, and not a surrogate (D800-DFFF)")
            buf.append(chr(code))
            return pos + 2 + width
        raise self.error(
            pos,
            f"invalid escape sequence \\{c}",
            'use \\n \\r \\t \\" \\\\ \\uNNNN or \\UNNNNNNNN (write \\\\ for a backslash)',
        )

    def _interpolation(self, pos: int, parts: list[Any]) -> int:
        """A ``${...}`` or ``%{...}`` from ``pos``; returns where the text after it starts."""
        start = pos
        directive = self.text[pos] == "%"
        pos += 2
        strip_left = self.text.startswith("~", pos)
        if strip_left:
            pos += 1
        if self.depth >= MAX_DEPTH:
            raise self.error(start, "nested too deeply", f"templates may nest at most {MAX_DEPTH} levels; use locals for the inner parts")
        layout, self.layout = self.layout, False
        outer, self.interpolation_start = self.interpolation_start, start
        self.depth += 1
        tokens = self.scan(pos, inside=True)
        self.depth -= 1
        self.layout, self.interpolation_start = layout, outer
        if len(tokens) == 1:
            what = "%{} needs a directive inside (if, else, endif, for, endfor)" if directive else "${} needs an expression inside"
            raise self.error(start, f"empty {'directive' if directive else 'interpolation'}: {what}")
        parts.append(Interp(tokens, strip_left, self.strip_right, directive))
        return self.end

    def _heredoc(self, m: re.Match, nl: bool) -> Token:
        marker = m.group("marker")
        closing = re.compile(r"^[ \t]*" + re.escape(marker) + r"[ \t]*\r?$", re.MULTILINE)
        end = closing.search(self.text, m.end())
        if end is None:
            raise self.error(m.start(), f"unterminated heredoc: no line holding only {marker}", f"end the text with a line that reads {marker}")
        parts = self._template(m.end(), quoted=False, limit=end.start(), lf_only=True)
        if m.group().startswith("<<-"):
            parts = _flush(parts)
        self.end = end.end() - (1 if self.text[end.end() - 1 : end.end()] == "\r" else 0)
        return ("template", parts, m.start(), self.end, nl)


def _strip_parts(parts: list[Any], by_line: bool = False) -> list[Any]:
    """Apply ``${~`` / ``~}`` markers to the text around them; drop empty text.

    HCL reads a heredoc or a template file line by line (``by_line``), and a marker strips only
    the line next to it, as Terraform does: ``~}`` the rest of its line with the newline (the next
    line keeps its indentation), ``${~`` the text before it on its line, or the line before with
    its newline when it starts a line. A quoted string is one piece of text, stripped whole.
    """
    if len(parts) == 1:
        return parts
    for i, part in enumerate(parts):
        if isinstance(part, Interp):
            if part.strip_left and i > 0:
                parts[i - 1] = _rstrip_last_line(parts[i - 1]) if by_line else parts[i - 1].rstrip()
            if part.strip_right and i + 1 < len(parts):
                parts[i + 1] = _lstrip_first_line(parts[i + 1]) if by_line else parts[i + 1].lstrip()
    return [p for p in parts if not (isinstance(p, str) and p == "")] or [""]


def _lstrip_first_line(text: str) -> str:
    end = text.find("\n") + 1 or len(text)  # the first line, with its newline
    return text[:end].lstrip() + text[end:]


def _rstrip_last_line(text: str) -> str:
    start = text.rfind("\n", 0, len(text) - 1) + 1  # the last line, with its newline if the text ends with one
    return text[:start] + text[start:].rstrip()


# What HCL counts as leading space in a ``<<-`` heredoc: Unicode white space, not only " " and tab.
_SPACE = "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"


def _flush(parts: list[Any]) -> list[Any]:
    """``<<-`` heredocs lose the indentation common to their lines, as HCL defines it.

    Lines holding only white space neither count nor change; a line that starts
    with an interpolation or directive has no indentation, so nothing is cut.
    """
    split = [p.split("\n") if isinstance(p, str) else None for p in parts]
    cut: int | None = None
    line_starts: list[tuple[int, int]] = []  # (part, line within it) of each counted line start
    at_line_start = True
    for i, lines in enumerate(split):
        if lines is None:
            if at_line_start:
                cut = 0
            at_line_start = False
            continue
        last = len(lines) - 1
        for j, line in enumerate(lines):
            at_line_start = at_line_start or j > 0
            if not at_line_start or (j == last and not line):
                continue  # mid-line, or the next part starts the line
            at_line_start = False
            rest = line.lstrip(_SPACE)
            if not rest and j < last:
                continue  # a blank line
            indent = len(line) - len(rest)
            cut = indent if cut is None else min(cut, indent)
            line_starts.append((i, j))
    if not cut:
        return parts
    for i, j in line_starts:
        split[i][j] = split[i][j][cut:]
    return [part if lines is None else "\n".join(lines) for part, lines in zip(parts, split)]
