"""``zplan fmt``: rewrite HCL in its canonical layout, as ``terraform fmt`` does.

Formatting works on the token stream and changes only whitespace: two spaces per
nesting level, one space between most tokens, ``=`` aligned within runs of
one-line attributes, trailing comments aligned, runs of blank lines collapsed to
one, no trailing whitespace, one final newline. Strings, heredocs and comments
are copied as written. Lines are never joined or split, so the result parses to
the same values; ``format_text`` checks that by comparing token streams.
"""

from __future__ import annotations

from dataclasses import dataclass

from zplan.config import hcl
from zplan.diags import fail

INDENT = "  "
OPENERS = frozenset("{[(")
CLOSERS = frozenset("}])")
# after one of these, a "-" is a negation, not a subtraction
_BEFORE_NEGATION = frozenset(
    {None, "(", "{", "[", "=", ":", ",", "?", "=>", "+", "-", "*", "/", "%", "==", "!=", "<", ">", "<=", ">=", "&&", "||", "!"}
)


@dataclass
class _Tok:
    kind: str  # hcl token kind: "ident", "{", "comment", ...
    text: str  # exactly as written
    key_colon: bool = False  # a ":" between an object key and its value (written tight: "a": 1)


@dataclass
class _Line:
    tokens: list[_Tok]
    indent: int = 0
    opens: bool = False  # the line leaves brackets open: the next lines are nested
    lead: str = ""  # text up to the aligned "=" (or the whole line)
    assign: str = ""  # "= value", when the line is a one-line attribute
    comment: str = ""  # a trailing line comment
    comment_column: int = 0  # where the trailing comment starts, counting the indentation


BOM = "\ufeff"


def format_text(text: str, filename: str = "<input>") -> str:
    """The canonical layout of ``text``; a syntax error raises ``DiagnosticError``.

    The layout is computed on the text without its byte-order mark and with LF
    line endings (token offsets count from there); both come back at the end.
    """
    hcl.parse_text(text, filename)  # reject what cannot be parsed, with file:line
    body = text.removeprefix(BOM)
    crlf = _ends_lines_with_crlf(body)
    result = _format_lf(body.replace("\r\n", "\n"), filename)
    if crlf:
        result = result.replace("\n", "\r\n")
    return (BOM if text.startswith(BOM) else "") + result


def _ends_lines_with_crlf(text: str) -> bool:
    """Whether the file's first line ends with CRLF: that is the file's convention."""
    first = text.find("\n")
    return first > 0 and text[first - 1] == "\r"


def _format_lf(text: str, filename: str) -> str:
    lines = _lines(text, filename)
    _mark_key_colons([t for line in lines for t in line.tokens])
    _indent(lines)
    for line in lines:
        _cells(line)
    _align(lines)
    result = _render(lines)
    _check_same_tokens(text, result, filename)
    return result


def _lines(text: str, filename: str) -> list[_Line]:
    lines = [_Line([])]
    for kind, _value, start, end, _nl in hcl.tokenize(text, filename, layout=True):
        if kind == "nl":
            lines.append(_Line([]))
        elif kind != "eof":
            raw = text[start:end]
            if kind == "comment":
                raw = "\n".join(part.rstrip() for part in raw.split("\n"))
            lines[-1].tokens.append(_Tok(kind, raw))
    return lines


def _mark_key_colons(tokens: list[_Tok]) -> None:
    """Tell object-key colons from those of ``c ? a : b`` and ``for x in xs : ...``."""
    pending = [0]  # per bracket depth: "?" and "for" still waiting for their ":"
    for token in tokens:
        kind = token.kind
        if kind in OPENERS:
            pending.append(0)
        elif kind in CLOSERS and len(pending) > 1:
            pending.pop()
        elif kind == "?" or (kind == "ident" and token.text == "for"):
            pending[-1] += 1
        elif kind == ":":
            if pending[-1]:
                pending[-1] -= 1
            else:
                token.key_colon = True


def _indent(lines: list[_Line]) -> None:
    """Nest one level inside each line that opens brackets, however many it opens.

    Every open bracket remembers the indentation of the line that opened it; a
    line starting with closers sits at that indentation, so ``}, {`` and ``})``
    line up with the ``merge({`` that opened them.
    """
    owners: list[int] = []  # per open bracket: the indentation of the line that opened it
    for line in lines:
        tokens = line.tokens
        indent = owners[-1] + 1 if owners else 0
        i = 0
        while i < len(tokens) and tokens[i].kind in CLOSERS:
            indent = owners.pop() if owners else 0
            i += 1
        line.indent = indent
        depth = len(owners)
        for token in tokens[i:]:
            if token.kind in OPENERS:
                owners.append(indent)
            elif token.kind in CLOSERS and owners:
                owners.pop()
        line.opens = len(owners) > depth


def _cells(line: _Line) -> None:
    tokens = line.tokens
    if not tokens:
        return
    end = len(tokens)
    if end > 1 and tokens[-1].kind == "comment" and "\n" not in tokens[-1].text:  # a trailing comment, either style
        end -= 1
        line.comment = tokens[-1].text
    body = _spaced(tokens[:end])
    split = 1 if end > 2 and tokens[1].kind == "=" and _balanced(tokens[1:end]) else 0
    if split:
        line.lead = tokens[0].text
        line.assign = "".join(body[2:])  # body[1] is the space before "="
    else:
        line.lead = "".join(body)


def _balanced(tokens: list[_Tok]) -> bool:
    return sum((t.kind in OPENERS) - (t.kind in CLOSERS) for t in tokens) == 0


def _spaced(tokens: list[_Tok]) -> list[str]:
    """Token texts interleaved with the canonical space (or not) between them."""
    out = [tokens[0].text]
    before: str | None = None  # the last non-comment token before the subject
    for i in range(1, len(tokens)):
        subject = tokens[i - 1]
        out.append(" " if _space_after(subject, before, tokens[i]) else "")
        out.append(tokens[i].text)
        if subject.kind != "comment":
            before = subject.kind
    return out


def _space_after(subject: _Tok, before: str | None, after: _Tok) -> bool:
    s, a = subject.kind, after.kind
    if s == "ident" and a == "(" and subject.text not in ("in", "if"):
        return False  # a call: f(x)
    if s in (".", ".*", "(", "[") or a in (".", ".*", "[*]", ",", "...", ")", "]"):
        return False
    if s == "comment" or a == "comment":
        return True
    if a == ":" and after.key_colon:
        return False
    if s == ",":
        return True
    if a == "[" and (s in ("ident", "number", "string", "template", "[*]", "]", ")", "}") and subject.text not in ("in", "if")):
        return False  # an index: x[0]
    if s == "-":
        return before not in _BEFORE_NEGATION
    if s == "!":
        return False
    if s == "{" or a == "}":
        return not (s == "{" and a == "}")  # braces breathe: { a = 1 }, but {} stays tight
    return True


def _align(lines: list[_Line]) -> None:
    """Pad leads so "=" lines up in runs of attribute lines, then trailing comments."""
    # a heredoc spans lines inside its one token: like a multi-line list, it is no member of a run
    _pad_runs(lines, lambda ln: bool(ln.assign) and "\n" not in ln.assign, lambda ln: len(ln.lead), _set_lead_width)
    _pad_runs(lines, lambda ln: bool(ln.comment), _width_before_comment, _set_comment_column)


def _pad_runs(lines: list[_Line], member, width, apply) -> None:
    run: list[_Line] = []
    for line in lines + [_Line([])]:
        if member(line):
            run.append(line)
            continue
        if run:
            widest = max(width(ln) for ln in run)
            for ln in run:
                apply(ln, widest)
        run = []


def _set_lead_width(line: _Line, width: int) -> None:
    line.lead = line.lead.ljust(width)


def _width_before_comment(line: _Line) -> int:
    return len(INDENT) * line.indent + len(line.lead) + (len(line.assign) + 1 if line.assign else 0)


def _set_comment_column(line: _Line, width: int) -> None:
    line.comment_column = width + 1


def _render(lines: list[_Line]) -> str:
    out: list[str] = []
    blank = False
    previous: _Line | None = None
    for line in lines:
        if not line.tokens:
            # keep one blank line between items, none at the start of a file or block
            blank = previous is not None and not previous.opens
            continue
        if blank and line.tokens[0].kind not in CLOSERS:
            out.append("")
        blank = False
        text = INDENT * line.indent + line.lead + (" " + line.assign if line.assign else "")
        if line.comment:
            text = text.ljust(line.comment_column) + line.comment
        out.append(text.rstrip())
        previous = line
    return "\n".join(out) + "\n" if out else ""


def _check_same_tokens(before: str, after: str, filename: str) -> None:
    """Formatting may only move whitespace: the significant tokens must be identical."""

    def significant(text: str) -> list[tuple[str, bool]]:
        # a token's text, and whether a line ended before it (the start of the file counts as one)
        return [(text[t[hcl.START] : t[hcl.END]], t[hcl.NL] or i == 0) for i, t in enumerate(hcl.tokenize(text, filename))]

    if significant(before) != significant(after):
        raise fail(
            f"cannot format {filename} safely",
            "formatting would change its tokens; please report this file as a bug",
        )
