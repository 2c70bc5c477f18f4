"""``fmt``: canonical layout, idempotent, comments kept, meaning unchanged."""

from __future__ import annotations

import textwrap
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zplan.config import hcl
from zplan.config.fmt import format_text
from zplan.diags import DiagnosticError

from tests.unit.config.test_expr import quote, render, same, values


def fmt(text: str) -> str:
    return format_text(textwrap.dedent(text))


def dedent(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def test_indents_with_two_spaces_and_normalises_spacing():
    assert fmt(
        """
        pipeline   "training"{
        \tstep "load"{
               source="steps/data.py:load"
        params={a=1,b=[1,2 ,3]}
          }
        }
        """
    ) == dedent(
        """
        pipeline "training" {
          step "load" {
            source = "steps/data.py:load"
            params = { a = 1, b = [1, 2, 3] }
          }
        }
        """
    )


def test_aligns_equals_in_runs_of_one_line_attributes():
    assert fmt(
        """
        resource "gcp_storage_bucket" "artifacts" {
          name = "acme"
          location = "EU"
          tags = {
            team = "ml"
            cost_center = 42
          }
          force_destroy = true

          labels = {}
        }
        """
    ) == dedent(
        """
        resource "gcp_storage_bucket" "artifacts" {
          name     = "acme"
          location = "EU"
          tags = {
            team        = "ml"
            cost_center = 42
          }
          force_destroy = true

          labels = {}
        }
        """
    )


def test_comments_are_kept_and_trailing_ones_aligned():
    assert fmt(
        """
        # leading comment   
        // slash comment
        a = 1 # one
        bbb = 2    // two
        /* block
           comment */
        c = [1, /* inline */ 2]
        """
    ) == dedent(
        """
        # leading comment
        // slash comment
        a   = 1 # one
        bbb = 2 // two
        /* block
           comment */
        c = [1, /* inline */ 2]
        """
    )


def test_blank_lines_collapse_and_vanish_at_edges():
    assert fmt("\n\n\na = 1\n\n\n\nb {\n\n  c = 2\n\n}\n\n\n") == "a = 1\n\nb {\n  c = 2\n}\n"


def test_expression_spacing():
    source = (
        "a = -1\n"
        "b = x - 1\n"
        "c = 2* -x\n"
        "d = !  flag\n"
        "e = foo( 1 , [ 2 ] )[ 0 ]\n"
        "f = cond?1:2\n"
        "g = [ for s in xs : upper(s) if s!=\"\" ]\n"
        "h = { for k , v in m : k => v ... }\n"
        "i = xs [*] . id\n"
        "j = concat( xs ... )\n"
        "k = var . a [ \"b\" ] . c\n"
        "l = a-b\n"
        "m = {}\n"
        "n = ( 1+2 )*3\n"
    )
    assert format_text(source) == (
        "a = -1\n"
        "b = x - 1\n"
        "c = 2 * -x\n"
        "d = !flag\n"
        "e = foo(1, [2])[0]\n"
        "f = cond ? 1 : 2\n"
        'g = [for s in xs : upper(s) if s != ""]\n'
        "h = { for k, v in m : k => v... }\n"
        "i = xs[*].id\n"
        "j = concat(xs...)\n"
        'k = var.a["b"].c\n'
        "l = a-b\n"
        "m = {}\n"
        "n = (1 + 2) * 3\n"
    )


def test_colons_of_object_keys_stay_tight_and_comments_do_not_change_spacing():
    source = 'a = { "k" : 1, x : c ? 1 : 2 }\nb = cond ? {\n  a = 1\n} : {}\nc = [/* c */ - 0.5, - 1 /* d */]\n'
    assert format_text(source) == 'a = { "k": 1, x: c ? 1 : 2 }\nb = cond ? {\n  a = 1\n} : {}\nc = [/* c */ -0.5, -1 /* d */]\n'


def test_multi_line_values_and_closers():
    assert fmt(
        """
        x = merge({
        a = 1
        }, {
        b = [
        1,
        2,
        ]
        })
        y = 1
        """
    ) == dedent(
        """
        x = merge({
          a = 1
        }, {
          b = [
            1,
            2,
          ]
        })
        y = 1
        """
    )


def test_strings_and_heredocs_are_copied_verbatim():
    source = 'a {\n      s = "  spaced ${ var.x }  "\n  h = <<EOT\n   keep   \n\tthis\n EOT\n        t = <<-EOT\n    x\n    EOT\n}\n'
    assert format_text(source) == (
        'a {\n  s = "  spaced ${ var.x }  "\n  h = <<EOT\n   keep   \n\tthis\n EOT\n  t = <<-EOT\n    x\n    EOT\n}\n'
    )


def test_crlf_and_missing_final_newline():
    assert format_text("a {\r\n  b = 1\r\n}") == "a {\r\n  b = 1\r\n}\r\n"  # the file's line endings stay
    assert format_text("") == ""


def test_syntax_error_names_the_line():
    with pytest.raises(DiagnosticError) as info:
        format_text("a = 1\nb = [1 2]\n", "bad.zp.hcl")
    assert str(info.value.diagnostics[0].range) == "bad.zp.hcl:2:8"


def test_design_example_is_stable():
    from tests.unit.config.test_hcl import DESIGN_EXAMPLE

    once = format_text(DESIGN_EXAMPLE)
    assert format_text(once) == once
    assert "orchestrator   = \"local\"" in once
    assert same_config(DESIGN_EXAMPLE, once)


# -- properties -------------------------------------------------------------------------

_names = st.from_regex(r"[a-z][a-z0-9_]{0,7}", fullmatch=True).filter(lambda n: n not in ("true", "false", "null", "for", "in", "if"))
_space = st.sampled_from(["", " ", "   ", "\t"])
_gap = st.sampled_from(["", " ", "  ", "\n", "\n   ", " \n\n  ", " # note\n", " /* c */ "])  # where newlines are allowed


@st.composite
def layouts(draw, value: Any) -> str:
    """``value`` as HCL source with random (valid) spacing, newlines and comments."""
    if isinstance(value, list) and value:
        items = [draw(layouts(v)) for v in value]
        seps = [draw(_gap) + "," + draw(_gap) for _ in items[1:]]
        body = items[0] + "".join(s + i for s, i in zip(seps, items[1:]))
        trailing = draw(st.sampled_from(["", ",", ",\n"]))
        return "[" + draw(_gap) + body + trailing + draw(_gap) + "]"
    if isinstance(value, dict) and value:
        parts = []
        for k, v in value.items():
            key = k if _plain(k) else quote(k)
            parts.append(key + draw(_space) + draw(st.sampled_from(["=", ":"])) + draw(_space) + draw(layouts(v)))
        seps = [draw(st.sampled_from([",", ", ", "\n", ",\n  ", " # c\n"])) for _ in parts[1:]]
        body = parts[0] + "".join(s + p for s, p in zip(seps, parts[1:]))
        return "{" + draw(_gap) + body + draw(_gap) + "}"
    return render(value)


def _plain(key: str) -> bool:
    return bool(key) and key not in ("true", "false", "null", "for", "in", "if") and key.isidentifier() and key.isascii()


_references = st.sampled_from(["var.env", 'var.cfg["a"]', "step.load.outputs.data", "local.x[0]", "upper(var.env)", '"${var.env}-${local.n}"', "var.n + 1"])


@st.composite
def bodies(draw, depth: int = 0) -> str:
    """A block body: attributes (literals, references, templates), nested blocks, comments, blank lines."""
    lines: list[str] = []
    indent = draw(st.sampled_from(["", " ", "    ", "\t"]))
    names = draw(st.lists(_names, max_size=5, unique=True))
    for name in names:
        kind = draw(st.sampled_from(["value", "value", "ref", "heredoc", "comment", "blank", "block"] if depth < 2 else ["value", "ref", "blank"]))
        if kind == "comment":
            lines.append(indent + draw(st.sampled_from(["# c", "// c  ", "/* c */"])))
        elif kind == "blank":
            lines.append(draw(st.sampled_from(["", "   "])))
        if kind == "heredoc":
            lines.append(f"{indent}{name} = {draw(heredocs())}")
        elif kind == "block":
            labels = " ".join(quote(label) for label in draw(st.lists(_names, max_size=2)))
            inner = draw(bodies(depth + 1))
            lines.append(f"{indent}{name} {labels}{draw(_space)}{{\n{inner}\n{indent}}}")
        else:
            expr = draw(_references) if kind == "ref" else draw(layouts(draw(values)))
            comment = draw(st.sampled_from(["", "", " # trailing", "  // t"]))
            lines.append(f"{indent}{name}{draw(_space)}={draw(_space)}{expr}{comment}{draw(_space)}")
    return "\n".join(lines)


@st.composite
def heredocs(draw) -> str:
    """A heredoc (plain or <<- with indented lines), sometimes with an interpolation."""
    flush = draw(st.booleans())
    text = st.text(st.sampled_from("ab ${}\t#/*"), max_size=10).map(lambda t: t.replace("${", "$${"))
    body = draw(st.lists(text, max_size=3))
    if draw(st.booleans()):
        body.append("v=${var.env}")
    pad = draw(st.sampled_from(["", "  ", "\t"])) if flush else ""
    closing = draw(st.sampled_from(["", "  "]))
    return ("<<-EOT\n" if flush else "<<EOT\n") + "".join(f"{pad}{line}\n" for line in body) + closing + "EOT"


def resolve(ref) -> Any:
    return 7 if ref.parts == ("var", "n") else "/".join(str(p) for p in ref.parts)


def structure(block: hcl.Block) -> Any:
    attrs = {name: attr.expr.evaluate(resolve) for name, attr in block.attributes.items()}
    return (block.type, block.labels, attrs, [structure(b) for b in block.blocks])


def same_config(a: str, b: str) -> bool:
    left, right = structure(hcl.parse_text(a, "a")), structure(hcl.parse_text(b, "b"))
    return _same_structure(left, right)


def _same_structure(a: Any, b: Any) -> bool:
    if isinstance(a, tuple):
        return a[:2] == b[:2] and same(a[2], b[2]) and len(a[3]) == len(b[3]) and all(_same_structure(x, y) for x, y in zip(a[3], b[3]))
    return same(a, b)


@settings(max_examples=80, deadline=None)
@given(bodies())
def test_format_keeps_meaning_and_is_idempotent(source):
    once = format_text(source)
    assert same_config(source, once)
    assert format_text(once) == once
    assert once == "" or (once.endswith("\n") and not once.endswith("\n\n"))
    if "<<" not in source:  # blank lines inside a heredoc are its content
        assert "\n\n\n" not in once
    in_heredoc = False  # heredoc bodies are content: copied as written
    for line in once.split("\n"):
        if in_heredoc:
            in_heredoc = line.strip() != "EOT"
            continue
        in_heredoc = "<<" in line
        assert line == line.rstrip()
        indent = len(line) - len(line.lstrip(" "))
        assert indent % 2 == 0 and not line[indent:].startswith("\t")


def test_splats_with_spaces_and_template_directives_format_safely():
    text = 'a = [1,2][ * ]\nb = "%{ if true }x%{ endif }"\nc = <<-EOT\n  %{ for x in [1] }${x}%{ endfor }\n  EOT\n'
    assert format_text(text) == 'a = [1, 2][ * ]\nb = "%{ if true }x%{ endif }"\nc = <<-EOT\n  %{ for x in [1] }${x}%{ endfor }\n  EOT\n'


def test_alignment_groups_break_as_in_terraform():
    # a blank line, a comment line, a nested block (one-line or not) and a multi-line value (a heredoc too)
    # each end a group; a trailing comment of either style is aligned after it
    assert fmt(
        """
        resource "local_file" "f" {
          a = 1
          bbb = 2

          cc = 3
          # a comment line
          dddd = 4
          e = 5
          lifecycle { prevent_destroy = true }
          ff = 6
          g = 7
          tags = {
            k = "v"
          }
          hhhhh = 8
          i = <<EOT
          text
        EOT
          jj = 9 /* block */
          k = 10 # hash
        }
        """
    ) == dedent(
        """
        resource "local_file" "f" {
          a   = 1
          bbb = 2

          cc = 3
          # a comment line
          dddd = 4
          e    = 5
          lifecycle { prevent_destroy = true }
          ff = 6
          g  = 7
          tags = {
            k = "v"
          }
          hhhhh = 8
          i = <<EOT
          text
        EOT
          jj = 9  /* block */
          k  = 10 # hash
        }
        """
    )


def test_keeps_a_byte_order_mark_and_crlf_line_endings():
    assert format_text("\ufefflocals {\n  a = 1\n}\n") == "\ufefflocals {\n  a = 1\n}\n"
    assert format_text('\ufefflocals {\r\na=1\r\n  s = "x"\r\n}\r\n') == '\ufefflocals {\r\n  a = 1\r\n  s = "x"\r\n}\r\n'
    heredoc = "locals {\r\n  h = <<EOT\r\nline\r\nEOT\r\n}\r\n"
    assert format_text(heredoc) == heredoc


def test_a_heredoc_ends_a_run_of_aligned_attributes():
    source = dedent(
        """
        locals {
          a = 1
          h = <<-EOT
            x
          EOT
          longer_name = 2
        }
        """
    )
    assert format_text(source) == source


@st.composite
def attribute_runs(draw) -> tuple[str, list[list[str]]]:
    """Attributes between the things that break an alignment group; returns the source and
    the names of each group, in order."""
    lines: list[str] = []
    groups: list[list[str]] = [[]]
    for name in draw(st.lists(_names, min_size=1, max_size=12, unique=True)):
        brk = draw(st.sampled_from([None, None, None, "", "# note", "Blk {\n  x = 1\n}", "Blk { x = 1 }", "Multi = [\n  1,\n]"]))
        if brk is not None:
            lines.append(brk.replace("Multi", f"Multi{len(lines)}"))
            groups.append([])
        value = draw(st.sampled_from(["1", '"text"', "var.env", "[1, 2]", "{ a = 1 }", "true # c"]))
        lines.append(f"{name}{draw(_space)}={draw(_space)}{value}")
        groups[-1].append(name)
    return "\n".join(lines) + "\n", [g for g in groups if g]


@settings(max_examples=100, deadline=None)
@given(attribute_runs())
def test_equals_line_up_within_each_group_and_nowhere_else(case):
    source, groups = case
    once = format_text(source)
    assert format_text(once) == once
    columns = {line.split(" ", 1)[0]: line.index(" = ") + 1 for line in once.splitlines() if line[:1].islower()}
    for group in groups:
        widest = max(len(name) for name in group)
        assert {columns[name] for name in group} == {widest + 1}, once
