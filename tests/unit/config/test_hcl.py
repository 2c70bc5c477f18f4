"""The HCL reader: blocks, attributes, positions, and syntax errors with file:line."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from zplan.config import hcl
from zplan.config.expr import Literal, RefExpr
from zplan.config.templates import TemplateExpr
from zplan.diags import DiagnosticError, Range

DESIGN_EXAMPLE = '''\
variable "env" { default = "dev" }

stack "local" {                      # the embedded default
  orchestrator   = "local"
  artifact_store = "file://.zplan/artifacts"
}

resource "gcp_storage_bucket" "artifacts" {
  name     = "acme-ml-${var.env}"
  location = "EU"
}

pipeline "training" {
  step "load" {
    source = "steps/data.py:load_csv"
    params = { path = "data/iris.csv" }
  }
  step "split" { source = "steps/data.py:split"
                 inputs = { data = step.load.outputs.data }
                 params = { test_size = 0.2, seed = 42 } }
  step "evaluate" {
    source = "steps/train.py:evaluate"
    inputs = { model = step.train.outputs.model,
               test  = step.split.outputs.test }
  }
}

output "accuracy" { value = step.evaluate.outputs.accuracy }
'''


def parse(text: str) -> hcl.Block:
    return hcl.parse_text(text, "main.zp.hcl")


def error_of(text: str) -> tuple[Range, str, str]:
    with pytest.raises(DiagnosticError) as info:
        parse(text)
    (diag,) = info.value.diagnostics
    return diag.range, diag.summary, diag.detail


# -- structure ------------------------------------------------------------------------


def test_design_example_structure_and_lines():
    body = parse(DESIGN_EXAMPLE)
    assert body.type == "" and body.labels == []
    assert [(b.type, b.labels, b.range.line) for b in body.blocks] == [
        ("variable", ["env"], 1),
        ("stack", ["local"], 3),
        ("resource", ["gcp_storage_bucket", "artifacts"], 8),
        ("pipeline", ["training"], 13),
        ("output", ["accuracy"], 28),
    ]
    pipeline = body.blocks[3]
    steps = {s.labels[0]: s for s in pipeline.blocks}
    assert list(steps) == ["load", "split", "evaluate"]
    assert steps["split"].range == Range("main.zp.hcl", 18, 3)
    # a block may go on after an attribute on its header line, and a value continues inside brackets
    assert set(steps["split"].attributes) == {"source", "inputs", "params"}
    assert steps["split"].attributes["params"].range.line == 20
    refs = [str(r) for r in steps["evaluate"].attributes["inputs"].expr.references()]
    assert refs == ["step.train.outputs.model", "step.split.outputs.test"]
    assert steps["load"].attributes["params"].expr.static_value() == {"path": "data/iris.csv"}


def test_attribute_range_points_at_the_name():
    body = parse('a = 1\n\n  long_name   =   "x"\n')
    assert body.attributes["a"].range == Range("main.zp.hcl", 1, 1)
    assert body.attributes["long_name"].range == Range("main.zp.hcl", 3, 3)


def test_nested_blocks_keep_source_order_and_labels_strip_quotes():
    body = parse('resource "t" "n" {\n  lifecycle { prevent_destroy = true }\n  x = 1\n  sub bare "q" {}\n}\n')
    (res,) = body.blocks
    assert [b.type for b in res.blocks] == ["lifecycle", "sub"]
    assert res.blocks[1].labels == ["bare", "q"]
    assert res.blocks[0].attributes["prevent_destroy"].expr.static_value() is True


def test_keywords_are_not_reserved_as_names():
    body = parse("for = 1\nin = 2\nif { true = false }\n")
    assert body.attributes["for"].expr.static_value() == 1
    assert body.blocks[0].type == "if"
    assert body.blocks[0].attributes["true"].expr.static_value() is False


def test_comments_of_every_kind_are_ignored():
    body = parse("# hash\n// slashes\n/* block\n spanning */ a = 1 # trailing\nb = [1, /* inline */ 2] // end\n")
    assert body.attributes["a"].expr.static_value() == 1
    assert body.attributes["b"].expr.static_value() == [1, 2]
    assert body.attributes["a"].range.line == 4


def test_expression_source_is_the_text_as_written():
    body = parse('x = upper( "a" )  # c\ny = [\n  1,\n  2,\n]\n')
    assert body.attributes["x"].expr.source() == 'upper( "a" )'
    assert body.attributes["y"].expr.source() == "[\n  1,\n  2,\n]"
    assert body.attributes["y"].expr.range == Range("main.zp.hcl", 2, 5)


def test_crlf_line_endings_and_byte_order_mark():
    body = parse('\ufeffa = "x"\r\nb {\r\n  c = <<EOT\r\nline\r\nEOT\r\n}\r\n')
    assert body.attributes["a"].expr.static_value() == "x"
    assert body.blocks[0].attributes["c"].expr.static_value() == "line\n"  # HCL reads CRLF as LF
    assert body.blocks[0].range.line == 2


def test_a_heredoc_in_a_crlf_file_has_lf_line_endings_and_keeps_a_lone_cr():
    body = parse('a = <<-EOT\r\n  line1\r\n  line2\r\n  EOT\r\nb = <<EOT\r\nx\ry\r\nEOT\r\n')
    assert body.attributes["a"].expr.static_value() == "line1\nline2\n"
    assert body.attributes["b"].expr.static_value() == "x\ry\n"


def test_unicode_identifiers_and_strings():
    body = parse('größe = "wert ✓"\n')
    assert body.attributes["größe"].expr.static_value() == "wert ✓"


def test_an_empty_file_is_an_empty_body():
    body = parse("")
    assert body.attributes == {} and body.blocks == []
    assert parse("# only a comment\n\n").blocks == []


# -- expressions as parsed ----------------------------------------------------------------


def test_plain_strings_and_numbers_parse_to_literals():
    body = parse('a = "x"\nb = 1\nc = -2.5\nd = "a${b}"\ne = var.x\n')
    assert isinstance(body.attributes["a"].expr, Literal)
    assert body.attributes["c"].expr.static_value() == -2.5
    assert isinstance(body.attributes["d"].expr, TemplateExpr)
    assert isinstance(body.attributes["e"].expr, RefExpr)


def test_reference_prefixes():
    body = parse(
        "a = var.cfg[\"a\"].b[0]\n"
        "b = step.load.outputs.data\n"
        "c = var.m[var.k].x\n"
        "d = [for s in var.list : s.name if s.on]\n"
        "e = resource.local_directory.d.path\n"
        "f = local.a.0\n"
        "g = things[*].id\n"
        "h = (var.o).x\n"
        'i = "${var.env}-${local.n}"\n'
        "j = foo(var.a, 1)\n"
        "type = string\n"
    )
    refs = {name: [r.parts for r in attr.expr.references()] for name, attr in body.attributes.items()}
    assert refs == {
        "a": [("var", "cfg", "a", "b", 0)],
        "b": [("step", "load", "outputs", "data")],
        "c": [("var", "m"), ("var", "k")],
        "d": [("var", "list")],
        "e": [("resource", "local_directory", "d", "path")],
        "f": [("local", "a", 0)],
        "g": [("things",)],
        "h": [("var", "o")],
        "i": [("var", "env"), ("local", "n")],
        "j": [("var", "a")],
        "type": [("string",)],
    }
    ref = body.attributes["c"].expr.references()[1]
    assert ref.range == Range("main.zp.hcl", 3, 11)
    assert str(body.attributes["a"].expr.references()[0]) == "var.cfg.a.b[0]"


# -- syntax errors ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "line", "summary"),
    [
        ("a = 1\nfoo\nb = 2\n", 2, 'expected "=" or "{" after "foo"'),
        ("foo bar\n", 1, 'expected "{" on the same line as the block header "foo"'),
        ('x "a" = 1\n', 1, 'expected a label or "{" in the block header "x", found "="'),
        ("a = 1 2\n", 1, 'unexpected number 2 after the value of "a"'),
        ("a =\n1\n", 1, 'expected a value after "a ="'),
        ("a = [1 2]\n", 1, 'expected "," or "]" in the list, found number 2'),
        ("x {\n  a = [1,\n  2\n}\n", 4, 'expected "," or "]" in the list, found "}"'),
        ("a = [1,\n  2\n", 1, 'the list opened here is not closed: missing "]"'),
        ("a = f(1\n", 1, 'the call to f() is not closed: missing ")"'),
        ('pipeline "p" {\n  step "s" {\n    a = 1\n}\n', 1, 'the pipeline "p" block is not closed: missing "}"'),
        ("b { c = 1 }\n}\n", 2, 'unexpected "}": no block is open here'),
        ('a = "x\n', 1, "unterminated string: a quoted string cannot span lines"),
        ('a = "x', 1, "unterminated string: missing closing quote"),
        ('a = "\\q"\n', 1, "invalid escape sequence \\q"),
        ("a = <<EOT\nx\n", 1, "unterminated heredoc: no line holding only EOT"),
        ("a = 1 /* x\n", 1, "unterminated comment: /* has no matching */"),
        ("a = @\n", 1, "invalid character '@'"),
        ('a = "${}"\n', 1, "empty interpolation: ${} needs an expression inside"),
        ("a = 1\nb = <<EOT\nx ${foo(\nEOT\n", 3, "unterminated interpolation: missing }"),
        ('a = "${x y}"\n', 1, 'unexpected "y" in ${...}'),
        ("a = {x = }\n", 1, 'expected an expression, found "}"'),
        ("a = b ? c\n", 1, 'expected ":" after the true branch of a conditional (cond ? a : b), found end of file'),
        ('a "${x}" {}\n', 1, "a block label cannot contain interpolations"),
        ("a = f(x..., y)\n", 1, '"..." may follow only the last argument'),
        ("x = [for a b]\n", 1, 'expected "in" in the for expression, found "b"'),
        ("a = x.\n", 1, 'expected an attribute name after ".", found end of file'),
        ("= 1\n", 1, 'expected an attribute name or a block type, found "="'),
    ],
)
def test_syntax_errors_name_the_line_and_the_problem(text, line, summary):
    where, got, _detail = error_of(text)
    assert got == summary
    assert where.file == "main.zp.hcl" and where.line == line and where.column > 0


def test_error_column_points_at_the_offending_token():
    where, summary, detail = error_of("a = 1\nfoo = [1 2]\n")
    assert (where.line, where.column) == (2, 10)
    assert "separate list elements with commas" in detail
    assert str(where) == "main.zp.hcl:2:10"


def test_an_operator_ending_its_line_is_the_error_position():
    where, summary, _detail = error_of("locals {\n  x = 1 +\n    2\n}\n")
    assert summary == 'expected an expression after "+" on the same line'
    assert (where.line, where.column) == (2, 9)


def test_duplicate_attribute_names_both_lines():
    where, summary, detail = error_of('step "s" {\n  a = 1\n\n  a = 2\n}\n')
    assert summary == 'duplicate attribute "a"'
    assert where.line == 4
    assert "line 2" in detail and "line 4" in detail


def test_errors_inside_interpolations_and_heredocs_have_their_own_lines():
    where, summary, _ = error_of('a = <<EOT\nfirst\nsecond ${1 +}\nEOT\n')
    assert where.line == 3 and summary == 'expected an expression, found end of file'
    where, summary, _ = error_of('a = 1\nb = "x ${foo(}"\n')
    assert where.line == 2


def test_diagnostic_prints_file_line_and_hint():
    with pytest.raises(DiagnosticError) as info:
        parse("a = 1\nfoo\n")
    text = str(info.value)
    assert text.startswith('main.zp.hcl:2:1: error: expected "=" or "{" after "foo"')
    assert 'foo "LABEL" { ... }' in text


def test_parsed_trees_survive_pickling():
    """The loader caches parsed files with pickle."""
    import pickle

    body = pickle.loads(pickle.dumps(parse(DESIGN_EXAMPLE)))
    bucket = body.blocks[2]
    assert bucket.attributes["name"].expr.evaluate(lambda ref: "prod") == "acme-ml-prod"
    assert bucket.attributes["name"].expr.source() == '"acme-ml-${var.env}"'
    assert bucket.attributes["name"].expr.references()[0].range == Range("main.zp.hcl", 9, 25)


EVERY_NODE = """
locals {
  a = [for k, v in var.m : "${k}=${v}" if v != null]
  b = { for x in var.xs : x => -x... }
  c = var.on ? step.s[*].outputs.y : (var.n + 1) * 2
  d = "%{ for x in var.xs }${x}%{ endfor }%{ if var.on }on%{ else }off%{ endif }"
  e = upper(var.s)[0].z["k"]
  f = f(var.xs...)
  g = <<-EOT
    text ${var.s}
  EOT
  h = { k = [1, "two", null, true] }
}
"""


def _fields(node):
    """Every field of a parsed node (slots or dataclass fields), recursively, as plain values."""
    import dataclasses

    from zplan.config.expr import Expr

    if isinstance(node, (list, tuple)):
        return [type(node).__name__, *map(_fields, node)]
    if isinstance(node, dict):
        return {k: _fields(v) for k, v in node.items()}
    if isinstance(node, Expr):
        names = [n for klass in type(node).__mro__ for n in klass.__dict__.get("__slots__", ())]
        return [type(node).__name__, node.range, node.source()] + [_fields(getattr(node, n)) for n in names if n != "_src"]
    if dataclasses.is_dataclass(node):
        return [type(node).__name__] + [_fields(getattr(node, f.name)) for f in dataclasses.fields(node)]
    return node


@pytest.mark.parametrize("source", [EVERY_NODE, DESIGN_EXAMPLE] + [
    path for folder in ("examples", "modules", "tests/testdata") for path in sorted((Path(__file__).resolve().parents[3] / folder).rglob("*.zp.hcl"))
], ids=lambda s: s.name if isinstance(s, Path) else "text")
def test_a_parsed_tree_is_the_same_tree_after_pickling(source):
    """The parse cache pickles each node as the tuple of its fields (zplan.pickled): every field comes back."""
    import pickle

    body = hcl.parse_file(source) if isinstance(source, Path) else parse(source)
    again = pickle.loads(pickle.dumps(body, protocol=pickle.HIGHEST_PROTOCOL))
    assert _fields(again) == _fields(body)


def test_every_kind_of_node_is_pickled_as_a_tuple():
    from zplan.config.expr import Expr

    body = parse(EVERY_NODE)
    kinds = {type(n).__name__ for n in _walk(body)}
    assert kinds >= {"ForExpr", "Conditional", "Splat", "TemplateExpr", "TemplateFor", "TemplateIf", "Call", "Index", "GetAttr", "Binary", "Unary", "Paren",
                     "ObjectExpr", "TupleExpr", "Literal", "RefExpr"}
    for node in _walk(body):
        state = node.__getstate__()
        assert type(state) is tuple, type(node)
        if isinstance(node, Expr):
            assert len(state) == len([n for klass in type(node).__mro__ for n in klass.__dict__.get("__slots__", ())])


def _walk(node):
    import dataclasses

    from zplan.config.expr import Expr

    if isinstance(node, (list, tuple)):
        for item in node:
            yield from _walk(item)
    elif isinstance(node, dict):
        for item in node.values():
            yield from _walk(item)
    elif isinstance(node, Expr) or dataclasses.is_dataclass(node):
        yield node
        names = [n for klass in type(node).__mro__ for n in klass.__dict__.get("__slots__", ()) if n != "_src"] if isinstance(node, Expr) \
            else [f.name for f in dataclasses.fields(node)]
        for name in names:
            yield from _walk(getattr(node, name))


# -- files --------------------------------------------------------------------------------


def test_parse_file_reads_utf8_and_records_the_path(tmp_path: Path):
    path = tmp_path / "main.zp.hcl"
    path.write_text('x = "é"\n', encoding="utf-8")
    body = hcl.parse_file(path)
    assert body.attributes["x"].expr.static_value() == "é"
    assert body.attributes["x"].range.file == str(path)


def test_missing_file_is_a_diagnostic(tmp_path: Path):
    with pytest.raises(DiagnosticError) as info:
        hcl.parse_file(tmp_path / "nope.zp.hcl")
    diag = info.value.diagnostics[0]
    assert "cannot read" in diag.summary and "nope.zp.hcl" in diag.summary


def test_non_utf8_file_names_the_line(tmp_path: Path):
    path = tmp_path / "bad.zp.hcl"
    path.write_bytes(b'a = 1\nb = "\xff"\n')
    with pytest.raises(DiagnosticError) as info:
        hcl.parse_file(path)
    diag = info.value.diagnostics[0]
    assert diag.summary.endswith("is not UTF-8 text") and diag.range.line == 2


def generate_steps(count: int) -> str:
    lines = ['variable "env" { default = "dev" }', 'pipeline "big" {']
    for i in range(count):
        upstream = f"step.s{i - 1}.outputs.data" if i else '"data/x.csv"'
        lines.append(
            f'  step "s{i}" {{\n'
            f'    source = "steps/s.py:f{i}"\n'
            f"    inputs = {{ data = {upstream} }}\n"
            f'    params = {{ c = {i}.5, name = "n-${{var.env}}-{i}", tags = ["a", "b"] }}\n'
            "  }"
        )
    lines.append("}")
    return "\n".join(lines) + "\n"


def test_a_thousand_step_file_parses(tmp_path: Path):
    path = tmp_path / "big.zp.hcl"
    path.write_text(generate_steps(1000))
    started = time.perf_counter()
    body = hcl.parse_file(path)
    elapsed = time.perf_counter() - started
    print(f"\nparsed 1,000 steps ({path.stat().st_size:,} bytes) in {elapsed * 1000:.0f} ms")
    steps = body.blocks[1].blocks
    assert len(steps) == 1000
    assert steps[999].attributes["inputs"].expr.references()[0].parts == ("step", "s998", "outputs", "data")
    assert steps[500].attributes["params"].expr.evaluate(lambda ref: "prod")["name"] == "n-prod-500"
