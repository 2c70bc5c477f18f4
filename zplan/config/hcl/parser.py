"""Reading HCL, the top: files and bodies of attributes and blocks.

The syntax is HCL's native syntax as Terraform reads it: one attribute per
line, a newline ends an attribute's value (a value that spans lines is inside
brackets or parentheses), and nesting is bounded (``MAX_DEPTH``) so no input
can exhaust the stack. One allowance HCL does not make: a block whose header
line holds an attribute may go on over several lines (``step "a" { source = "x"``
newline ``params = {} }``).
"""

from __future__ import annotations

import gc
from pathlib import Path

from zplan.diags import Range, fail
from zplan.config.hcl.expressions import ExpressionParser
from zplan.config.hcl.lexer import KIND, NL, VALUE, Lexer, Token, describe, shared
from zplan.config.hcl.nodes import Attribute, Block
from zplan.config.expr import Expr, Source


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
        Parser(Lexer(source, layout=False).scan(0, inside=False), source).body(body, None)
    finally:
        if collecting:
            gc.enable()
    return body


class Parser(ExpressionParser):
    """A whole file: bodies, attributes and blocks, whose values ``ExpressionParser`` reads."""

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
                detail = _CONTINUATION_HINT if token[NL] and kind in _CONTINUATIONS else ""
                raise self.error(token, f"expected an attribute name or a block type, found {describe(token)}", detail)
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
        if not (after[NL] or after[KIND] in ("}", "eof")):
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
                labels.append(shared(token[VALUE][1:-1]) if kind == "string" else token[VALUE])
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
        self.enter(type_token)
        self.body(child, opener)
        self.depth -= 1
        parent.blocks.append(child)


# tokens that would continue the value before them, had they not started a new line
_CONTINUATIONS = frozenset(("-", "+", "*", "/", "%", "[", "[*]", ".", ".*", "?", ":", "(", "&&", "||", "==", "!=", "<", ">", "<=", ">="))
_CONTINUATION_HINT = "a newline ends an attribute's value: to continue it on the next line, wrap the value in parentheses ( ... )"


def parse_template(text: str, filename: str) -> Expr:
    """A whole file read as a template (``templatefile()``): text with ``${...}`` and ``%{...}``."""
    source = Source(filename, text.removeprefix("\ufeff"))
    end = len(source.text)
    parts = Lexer(source, layout=False)._template(0, quoted=False, limit=end)
    token: Token = ("template", parts, 0, end, False)
    return ExpressionParser([token, ("eof", None, end, end, False)], source).template(token)
