"""The HCL reader follows HCL's native syntax as Terraform reads it, and no input crashes it.

Each group below is a case the reader once got wrong: a RecursionError on deep
nesting, lines silently joined, splats and heredocs that disagreed with
Terraform, and characters HCL rejects that were taken as white space.
"""

from __future__ import annotations

import pytest

from zplan.config import hcl
from zplan.diags import DiagnosticError


def parse(text: str) -> hcl.Block:
    return hcl.parse_text(text, "main.zp.hcl")


def value(text: str, resolve=None):
    """The value of attribute ``v`` in ``text``."""
    expr = parse(text).attributes["v"].expr
    return expr.static_value() if resolve is None else expr.evaluate(resolve)


def error_of(text: str):
    with pytest.raises(DiagnosticError) as info:
        parse(text)
    (diag,) = info.value.diagnostics
    return diag


# -- 13: no input crashes the reader or the evaluator ---------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "v = " + "[" * 300 + "]" * 300 + "\n",
        "v = " + "{a = " * 300 + "1" + "}" * 300 + "\n",
        "v = " + "(" * 300 + "1" + ")" * 300 + "\n",
        "v = " + '"${' * 200 + "1" + '}"' * 200 + "\n",
        "a {\n" * 600 + "}\n" * 600,
        "v = " + "-" * 2000 + "1\n",
        "v = " + "!" * 2000 + "true\n",
        "v = " + "f(" * 300 + ")" * 300 + "\n",
        "v = " + "true ? 1 : " * 500 + "2\n",
        "v = " + "x[" * 300 + "0" + "]" * 300 + "\n",
        "v = f()" + ".a" * 2000 + "\n",
        "v = f()" + "[*]" * 2000 + "\n",
        'v = "' + "%{ if true }" * 300 + "%{ endif }" * 300 + '"\n',
    ],
    ids=["lists", "objects", "parens", "templates", "blocks", "negations", "nots", "calls", "conditionals",
         "indexes", "attributes", "splats", "directives"],
)
def test_deep_nesting_is_a_clean_error_at_its_line(text):
    diag = error_of(text)
    assert diag.summary == "nested too deeply"
    # blocks: the first block past the limit, one per line; everything else sits on line 1
    assert diag.range.file == "main.zp.hcl" and diag.range.line == (65 if text.startswith("a {") else 1)


def test_nesting_within_the_limit_parses():
    nested = value("v = " + "[" * 40 + "1" + "]" * 40 + "\n")
    for _ in range(40):
        (nested,) = nested
    assert nested == 1


def test_a_thousand_term_sum_evaluates():
    assert value("v = " + " + ".join(["1"] * 1000) + "\n") == 1000
    assert value("v = " + " && ".join(["true"] * 1000) + "\n") is True
    refs = parse("v = " + " + ".join(["x"] * 1000) + "\n").attributes["v"].expr
    assert len(refs.references()) == 1000
    assert refs.evaluate(lambda ref: 2) == 2000


def test_a_deep_value_from_jsondecode_is_a_clean_error():
    text = "v = jsondecode(\"" + "[" * 100_000 + "]" * 100_000 + "\")\n"
    with pytest.raises(DiagnosticError) as info:
        value(text)
    assert "nested too deeply" in str(info.value)


@pytest.mark.parametrize("escape", [r"\U00110000", r"\UFFFFFFFF", r"\ud800", r"\uDFFF", r"\U0000D800"])
def test_escapes_that_name_no_character_are_invalid(escape):
    diag = error_of(f'v = "{escape}"\n')
    assert diag.summary.startswith("invalid escape sequence")
    assert diag.range.line == 1


def test_escapes_at_the_edges_of_unicode_are_fine():
    assert value('v = "\\U0010FFFF\\uD7FF\\uE000"\n') == "\U0010ffff\ud7ff\ue000"


# -- 14: newlines end attributes --------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("v = 1\n-2\n", 2),
        ("v = [1,2]\n[0]\n", 2),
        ("v = true\n? 1 : 2\n", 2),
        ("v = x\n.y\n", 2),
        # an operator left at the end of its line is the error, as Terraform points at the newline after it
        ("v = 1 +\n2\n", 1),
        ("v = true ?\n1 : 2\n", 1),
        ("v = -\n1\n", 1),
        ("v = {\n a = 1\n + 2\n}\n", 3),
        ("v = {\n a =\n 1\n}\n", 2),
    ],
)
def test_a_newline_ends_an_attribute_value(text, line):
    diag = error_of(text)
    assert diag.range.line == line


def test_an_operator_on_the_next_line_says_to_use_parentheses():
    diag = error_of("v = 1\n-2\n")
    assert "parentheses" in diag.detail


def test_inside_brackets_newlines_are_white_space():
    assert value("v = (1\n+ 2)\n") == 3
    assert value("v = [1\n+ 2,\n3]\n") == [3, 3]
    assert value("v = max(1,\n2\n)\n") == 2
    assert value('v = [for x in [1, 2] :\n x * 2\n if x > 1]\n') == [4]
    assert value("v = {a = [1,\n2]}\n") == {"a": [1, 2]}
    assert value('v = "${1 +\n2}"\n') == 3


def test_a_newline_separates_object_elements():
    got = value("v = { a = b\n(c) = 2 }\n", lambda ref: {"b": "B", "c": "C"}[ref.parts[0]])
    assert got == {"a": "B", "C": 2}


def test_object_elements_on_one_line_need_a_comma():
    diag = error_of("v = { a = 1 b = 2 }\n")
    assert diag.summary.startswith('expected "," or a new line before the next element')


# -- 15: Terraform's semantics -----------------------------------------------------------------


def test_an_index_after_a_legacy_splat_indexes_the_result():
    assert value("v = [[1,2],[3,4]].*[0]\n") == [1, 2]
    assert value("v = [{a = 1}, {a = 2}].*.a[1]\n") == 2
    assert value("v = [[1,2],[3,4]][*][0]\n") == [1, 3]


def test_a_full_splat_applies_every_step_after_it():
    data = [{"b": [{"c": 1}, {"c": 2}]}, {"b": [{"c": 3}]}]
    assert value("v = x[*].b[*].c\n", lambda ref: data) == [[1, 2], [3]]


@pytest.mark.parametrize("splat", ["[ * ]", "[\t*\t]", "[*]"])
def test_a_splat_may_have_spaces(splat):
    assert value(f"v = [{{a = 1}}, {{a = 2}}]{splat}.a\n") == [1, 2]


def test_duplicate_object_keys_keep_the_last():
    assert value("v = {a = 1, a = 2}\n") == {"a": 2}
    assert value('v = {a = 1, "a" = 2, b = 3}\n') == {"a": 2, "b": 3}


def test_flush_heredoc_ignores_blank_and_white_space_only_lines():
    text = "v = <<-EOT\n    a\n\n  \n      b\n    EOT\n"
    assert value(text) == "a\n\n  \n  b\n"


def test_flush_heredoc_counts_unicode_spaces():
    text = "v = <<-EOT\n\u3000\u3000a\n\u3000\u3000\u3000b\nEOT\n"
    assert value(text) == "a\n\u3000b\n"


def test_flush_heredoc_with_a_line_starting_with_an_interpolation_keeps_indentation():
    assert value("v = <<-EOT\n  a\n${x}\nEOT\n", lambda ref: "X") == "  a\nX\n"
    assert value("v = <<-EOT\n    a\n  ${x}\nEOT\n", lambda ref: "X") == "  a\nX\n"


def test_if_directive_in_strings_and_heredocs():
    assert value('v = "a%{ if true }b%{ endif }c"\n') == "abc"
    assert value('v = "%{if x}yes%{else}no%{endif}"\n', lambda ref: False) == "no"
    assert value('v = "%{ if x == 1 }${x}%{ endif }"\n', lambda ref: 1) == "1"
    heredoc = "v = <<EOT\n%{ if true ~}\n  on\n%{~ endif }\nEOT\n"
    assert value(heredoc) == "  on\n"  # in a heredoc ~ strips only the line next to it, as Terraform does
    assert value('v = "%{ if true ~}\\n  on%{ endif }"\n') == "on"  # a quoted string is stripped whole


def test_for_directive_in_strings_and_heredocs():
    assert value('v = "%{ for x in [1, 2, 3] }${x},%{ endfor }"\n') == "1,2,3,"
    assert value('v = "%{ for k, x in {b = 2, a = 1} }${k}=${x} %{ endfor }"\n') == "a=1 b=2 "
    heredoc = "v = <<-EOT\n  %{~ for n in [\"a\", \"b\"] ~}\n  - ${n}\n  %{~ endfor ~}\n  EOT\n"
    assert value(heredoc) == "  - a\n  - b\n"  # (a line starting with a directive has no indentation to cut)
    assert value('v = "%{ for x in [] }never%{ endfor }"\n') == ""


def test_strip_markers_in_a_heredoc_or_template_file_strip_only_the_line_next_to_them():
    # HCL reads these line by line, and ~ strips the one line next to it: the lines of a loop keep
    # their indentation (YAML written by a template depends on it), as in Terraform
    yaml = "containers:\n%{ for c in [\"a\", \"b\"] ~}\n  - name: ${c}\n%{ endfor ~}\ndone\n"
    assert value(f"v = <<EOT\n{yaml}EOT\n") == "containers:\n  - name: a\n  - name: b\ndone\n"
    assert hcl.parse_template(yaml, "t.tpl").static_value() == "containers:\n  - name: a\n  - name: b\ndone\n"
    assert value("v = <<EOT\na  \n\n  %{~ if true }b%{ endif }\nEOT\n") == "a  \n\nb\n"  # before it: its own line
    assert value("v = <<EOT\na\n\n%{~ if true }b%{ endif }\nEOT\n") == "a\nb\n"  # at a line start: the line before


def test_directives_nest():
    text = 'v = "%{ for x in [1, 2, 3] }%{ if x != 2 }${x}%{ else }-%{ endif }%{ endfor }"\n'
    assert value(text) == "1-3"


def test_directive_references_are_found():
    expr = parse('v = "%{ for s in var.list }${s}${local.sep}%{ endfor }%{ if var.on }x%{ endif }"\n').attributes["v"].expr
    assert [str(r) for r in expr.references()] == ["var.list", "local.sep", "var.on"]


@pytest.mark.parametrize(
    ("text", "summary"),
    [
        ('v = "%{ if true }x"\n', "%{if} has no matching %{endif}: the template ends first"),
        ('v = "x%{ endif }"\n', "unexpected %{endif}: no %{if} or %{for} is open here"),
        ('v = "%{ for x in [] }x%{ endif }"\n', "%{for} has no matching %{endfor}: found %{endif}"),
        ('v = "%{ while true }x"\n', "unknown template directive %{while}"),
        ('v = "%{}"\n', "empty directive: %{} needs a directive inside (if, else, endif, for, endfor)"),
    ],
)
def test_directive_errors(text, summary):
    assert error_of(text).summary == summary


def test_a_literal_percent_brace_is_escaped_by_doubling():
    assert value('v = "%%{ if }"\n') == "%{ if }"


# -- 16: what HCL rejects ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "summary"),
    [
        ("a = 1\rb = 2\n", "invalid character: a carriage return (CR) not followed by a newline"),
        ("a =\v1\n", "invalid character U+000B (control character)"),
        ("a =\u00a01\n", "invalid character U+00A0 (no-break space)"),
        ("a = 1\u2028b = 2\n", "invalid character U+2028 (line separator)"),
        ("a = 1\n\u3000b = 2\n", "invalid character U+3000 (ideographic space)"),
        ('a = "x\ry"\n', "invalid character in a string: a carriage return (CR)"),
        ("a = 1 b = 2\n", 'unexpected "b" after the value of "a"'),
        ('step "s" { a = 1  b = 2 }\n', 'unexpected "b" after the value of "a"'),
    ],
)
def test_input_hcl_rejects(text, summary):
    diag = error_of(text)
    assert diag.summary == summary
    assert diag.range.file == "main.zp.hcl"


def test_what_hcl_accepts_around_those():
    body = parse('a = 1\r\nb = "x\\ry"\r\nc = "\u00a0"\n\td = 2\n')
    assert [attr.expr.static_value() for attr in body.attributes.values()] == [1, "x\ry", "\u00a0", 2]
    assert parse("# comment with \u00a0 and \u2028\nx = 1\n").attributes["x"].expr.static_value() == 1
    assert parse('s "x" { a = 1 }\n').blocks[0].attributes["a"].expr.static_value() == 1
