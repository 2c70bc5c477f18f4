"""Evaluating expressions: HCL semantics, references, UNKNOWN, symbolic templates, errors."""

from __future__ import annotations

import copy
import json
import math
import pickle
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zplan.config import hcl
from zplan.config.expr import IDENTIFIER, Expr, Ref
from zplan.config.values import UNKNOWN, Template
from zplan.diags import DiagnosticError, Range, fail


def expr_of(source: str) -> Expr:
    return hcl.parse_text(f"v = {source}\n", "t.zp.hcl").attributes["v"].expr


def value(source: str, **names: Any) -> Any:
    """Evaluate with a resolver that looks up the dotted reference in ``names``."""
    return expr_of(source).evaluate(lambda ref: names[".".join(str(p) for p in ref.parts)])


def error(source: str, **names: Any):
    with pytest.raises(DiagnosticError) as info:
        value(source, **names)
    (diag,) = info.value.diagnostics
    return diag


@dataclass(frozen=True)
class Marker:
    """Stands for a step output: symbolic until the step has run."""

    __zplan_symbolic__ = True
    name: str

    def __str__(self) -> str:
        return self.name


# -- literals ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ('"text"', "text"),
        ("42", 42),
        ("-7", -7),
        ("2.5", 2.5),
        ("1.0", 1.0),
        ("1e3", 1000.0),
        ("true", True),
        ("false", False),
        ("null", None),
        ('"tab\\tquote\\"back\\\\slash\\nnl"', 'tab\tquote"back\\slash\nnl'),
        ('"\\u00e9\\U0001F600"', "é\U0001F600"),
        ('"$${literal} %%{x} $ % 100%"', "${literal} %{x} $ % 100%"),
        ("[]", []),
        ("{}", {}),
        ('[1, "a", [true], {k = null},]', [1, "a", [True], {"k": None}]),
        ('{a = 1, "b c" = 2, ("d") = 3}', {"a": 1, "b c": 2, "d": 3}),
        ('{ a: 1, "b": 2 }', {"a": 1, "b": 2}),
        ("{\n  a = 1\n  b = 2\n}", {"a": 1, "b": 2}),
    ],
)
def test_literals(source, expected):
    result = value(source)
    assert result == expected and type(result) is type(expected)


def test_integral_literals_are_ints_and_decimal_ones_floats():
    assert isinstance(value("3"), int)
    assert isinstance(value("3.0"), float)


def test_heredocs():
    assert value("<<EOT\nline one\n  two ${1 + 1}\nEOT\n") == "line one\n  two 2\n"
    # <<- removes the indentation the non-blank lines share
    assert value("<<-EOT\n    a\n\n      b ${\"x\"}\n    EOT\n") == "a\n\n  b x\n"
    assert value("<<EOT\nEOT\n") == ""
    assert value('<<EOT\nno "escapes" \\n here\nEOT\n') == 'no "escapes" \\n here\n'


# -- templates --------------------------------------------------------------------------


def test_template_converts_primitives_to_text():
    assert value('"${1}-${2.5}-${true}-${"s"}-${0.1 + 0.2 > 0}"') == "1-2.5-true-s-true"
    assert value('"${1.0}"') == 1.0  # a lone interpolation keeps its type
    assert value('"n=${1.0}"') == "n=1"
    assert value('"${x}"', x=[1, 2]) == [1, 2]


def test_template_strip_markers():
    assert value('"a   ${~ "b" ~}   c"') == "abc"
    assert value('"a   ${ "b" ~}   c"') == "a   bc"


def test_template_rejects_collections_and_null():
    diag = error('"x ${v}"', v=[1])
    assert diag.summary == "cannot put a list into a string"
    assert "jsonencode" in diag.detail
    assert error('"x ${v}"', v={"a": 1}).summary == "cannot put an object into a string"
    assert error('"x ${v}"', v=None).summary == "cannot put a null into a string"


def test_template_with_symbolic_values_becomes_a_template_object():
    out = Marker("step.load.outputs.data")
    result = value('"gs://bucket/${m}/part-${n}"', m=out, n=3)
    assert isinstance(result, Template)
    assert result.parts == ("gs://bucket/", out, "/part-3")
    assert str(result) == "gs://bucket/step.load.outputs.data/part-3"
    # a lone interpolation is the marker itself, and templates nest flat
    assert value('"${m}"', m=out) is out
    assert value('"<${t}>"', t=result).parts == ("<gs://bucket/", out, "/part-3>")


def test_unknown_makes_the_whole_template_unknown():
    assert value('"a-${u}-b"', u=UNKNOWN) is UNKNOWN


# -- operators --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("1 + 2 * 3", 7),
        ("(1 + 2) * 3", 9),
        ("10 - 2 - 3", 5),
        ("7 / 2", 3.5),
        ("8 / 2", 4),
        ("1.5 + 1.5", 3.0),
        ("7 % 3", 1),
        ("-7 % 3", -1),
        ("7.5 % 2", 1.5),
        ("-(2 + 3)", -5),
        ("1 < 2", True),
        ("2 <= 2", True),
        ("3 > 4", False),
        ("1 >= 2", False),
        ("1 == 1.0", True),
        ('"a" == "a"', True),
        ('1 == "1"', False),
        ("true == 1", False),
        ("[1, {a = 2}] == [1, {a = 2}]", True),
        ("null != null", False),
        ("true && false || true", True),
        ("!true", False),
        ("!(1 > 2) && 2 > 1", True),
        ("1 + 2 > 2 == true", True),
        ("true ? 1 : 2", 1),
        ("false ? 1 : 2", 2),
        ("1 > 2 ? \"a\" : 2 > 1 ? \"b\" : \"c\"", "b"),
        # text that spells a number is that number in arithmetic and comparisons, as in Terraform
        # (an untyped variable set with -var n=3 holds "3"); equality still tells them apart
        ('"3" * 2', 6),
        ('"2.5" + 1', 3.5),
        ('-"4"', -4),
        ('"10" > 9', True),
        ('"3" == 3', False),
        # and text Terraform converts to a bool is that bool where a condition wants one (env() gives text)
        ('"true" ? 1 : 2', 1),
        ('!"false"', True),
        ('"true" && "0"', False),
        ('[for x in [1, 2] : x if "1"]', [1, 2]),
        ('"%{ if "false" }y%{ else }n%{ endif }"', "n"),
    ],
)
def test_operators(source, expected):
    result = value(source)
    assert result == expected and type(result) is type(expected)


@pytest.mark.parametrize(
    "source, expected",
    [
        ("0.1 + 0.2", 0.3),
        ("0.3 - 0.1", 0.2),
        ("1.1 * 3", 3.3),
        ("0.3 / 0.1", 3.0),
        ("0.3 % 0.1", 0.0),
        ("-0.7 % 0.2", -0.1),
        ("0.1 + 0.2 == 0.3", True),
        ("sum([0.1, 0.2, 0.3])", 0.6),
        ("range(0, 0.5, 0.1)", [0, 0.1, 0.2, 0.3, 0.4]),
        ("range(0, 0.3, 0.1)", [0, 0.1, 0.2]),
        ("7 / 2", 3.5),
        ("sum([1, 2])", 3),
    ],
)
def test_numbers_are_decimals_as_in_terraform(source, expected):
    """HCL's numbers are decimals: a learning rate written as 0.1 + 0.2 is the param 0.3, as
    Terraform computes it, not the binary float sum 0.30000000000000004."""
    result = value(source)
    assert result == expected and type(result) is type(expected)


_DECIMALS = st.decimals(min_value=-10**6, max_value=10**6, places=4, allow_nan=False, allow_infinity=False)


@given(a=_DECIMALS, b=_DECIMALS, op=st.sampled_from(["+", "-", "*"]))
@settings(max_examples=200, deadline=None)
def test_arithmetic_on_decimal_literals_is_the_decimal_result(a, b, op):
    """Whatever two decimals are written, the result is the float nearest to their exact decimal
    result, as Terraform computes it (never a binary float's rounding error)."""
    import decimal

    exact = {"+": decimal.Context(prec=60).add, "-": decimal.Context(prec=60).subtract, "*": decimal.Context(prec=60).multiply}[op](a, b)
    result = value(f"{a:f} {op} ({b:f})")
    assert float(result) == float(exact)


def test_only_the_taken_branch_is_evaluated():
    assert value("true ? 1 : 1 / 0") == 1
    assert value("false && (1 / 0 == 1)") is False
    assert value("true || 1 / 0 == 1") is True


@pytest.mark.parametrize(
    ("source", "summary"),
    [
        ('"a" + 1', "cannot add string and number"),
        ("1 - true", "cannot subtract number and bool"),
        ("[1] * 2", "cannot multiply list and number"),
        ("1 / 0", "division by zero"),
        ("5 % 0", "division by zero"),
        ('"a" < "b"', "cannot compare string and string with <"),
        ("1 && true", '"&&" needs true or false, got number'),
        ('!"x"', "cannot apply ! to a string"),
        ('-"x"', "cannot negate a string"),
        ('"yes" ? 1 : 2', "the condition must be true or false, got string"),
        ("null + 1", "cannot add null and number"),
    ],
)
def test_operator_type_errors(source, summary):
    diag = error(source)
    assert diag.summary == summary
    assert diag.range.file == "t.zp.hcl" and diag.range.line == 1


def test_error_range_is_the_failing_subexpression():
    diag = error("[\n  1,\n  2 + \"x\",\n]")
    assert diag.range == Range("t.zp.hcl", 3, 3)
    assert '2 + "x"' in diag.detail


# -- indexing, splat, for ---------------------------------------------------------------


def test_index_and_attribute_access_on_values():
    assert value('[10, 20][1]') == 20
    assert value('{a = {b = [1, 2]}}.a.b[1]') == 2
    assert value('{a = 1}["a"]') == 1
    assert value("[[1, 2]][0][1]") == 2
    assert value("[1, 2][1.0]") == 2
    assert value('{"1" = "one"}[1]') == "one"
    assert value('[10, 20]["1"]') == 20  # a key that spells a number indexes a list, as in Terraform
    assert value('[for k in ["0", "1"] : [10, 20][k]]') == [10, 20]
    assert value("[{n = 1}, {n = 2}][*].n") == [1, 2]
    assert value("x[*].id", x=[{"id": "a"}, {"id": "b"}]) == ["a", "b"]
    assert value("x.*.id", x={"id": "solo"}) == ["solo"]
    assert value("x[*].id", x=None) == []


@pytest.mark.parametrize(
    ("source", "summary"),
    [
        ("[1, 2][2]", "index 2 out of range for a list of 2 element(s)"),
        ("[1, 2][-1]", "index -1 out of range for a list of 2 element(s)"),
        ('[1, 2]["a"]', 'a list index must be a whole number, got "a"'),
        ("[1, 2][0.5]", "a list index must be a whole number, got 0.5"),
        ('[1, 2]["0.5"]', 'a list index must be a whole number, got "0.5"'),
        ('{a = 1}["b"]', 'no key "b" in this object'),
        ('{a = 1}.b', 'no key "b" in this object'),
        ('"abc"[0]', "cannot index a string with 0"),
        ("null.x", 'cannot index a null value with "x"'),
    ],
)
def test_index_errors(source, summary):
    assert error(source, x="a").summary == summary


def test_for_expressions():
    assert value('[for s in ["a", "b", "c"] : upper(s) if s != "b"]') == ["A", "C"]
    assert value("[for i, v in [10, 20] : i + v]") == [10, 21]
    assert value('{for k, v in {b = 2, a = 1} : v => k}') == {"1": "a", "2": "b"}
    assert list(value('{for k, v in {b = 2, a = 1} : k => v}')) == ["a", "b"]  # map keys in order
    assert value('{for s in ["ab", "ac", "b"] : substr(s, 0, 1) => s...}') == {"a": ["ab", "ac"], "b": ["b"]}
    assert value("[for x in xs : x * n]", xs=[1, 2], n=3) == [3, 6]
    # a set's key is the element itself, as in HCL (a list's is its index)
    assert value('[for k, v in toset(["b", "a"]) : "${k}=${v}"]') == ["a=a", "b=b"]
    assert value('"%{ for k, v in toset(["x"]) }${k}%{ endfor }"') == "x"


def test_for_expression_errors():
    assert error('{for s in ["a", "a"] : s => 1}').summary == 'duplicate key "a" in for expression'
    assert error("[for s in 3 : s]").summary == "a for expression needs a list or an object, got number"
    assert error("[for s in [1] : s if 1]").summary == "the for expression's if condition must be true or false, got number"


def test_for_variables_are_not_references():
    expr = expr_of("[for k, v in var.m : v.name if k != local.skip]")
    assert [r.parts for r in expr.references()] == [("var", "m"), ("local", "skip")]


# -- references -------------------------------------------------------------------------


def test_resolver_gets_each_reference_once_with_its_whole_prefix():
    calls: list[tuple] = []

    def resolve(ref: Ref) -> Any:
        calls.append(ref.parts)
        return {("var", "cfg", "a", "b"): [5, 6], ("var", "k"): 1}[ref.parts]

    source = '[for i in [1, 2, 3] : var.cfg["a"].b[var.k]]'
    expr = expr_of(source)
    assert expr.evaluate(resolve) == [6, 6, 6]
    assert calls == [("var", "cfg", "a", "b"), ("var", "k")]
    columns = [len("v = ") + source.index(text) + 1 for text in ("var.cfg", "var.k")]
    assert [r.range.column for r in expr.references()] == columns


def test_resolver_errors_pass_through_and_key_errors_become_diagnostics():
    def strict(ref: Ref) -> Any:
        raise fail(f'undeclared "{ref}"', "declare it", ref.range)

    with pytest.raises(DiagnosticError) as info:
        expr_of("1 + var.nope").evaluate(strict)
    assert info.value.diagnostics[0].summary == 'undeclared "var.nope"'
    assert info.value.diagnostics[0].range == Range("t.zp.hcl", 1, 9)
    assert error("foo.bar").summary == 'unknown reference "foo.bar"'


def test_static_value_refuses_references():
    with pytest.raises(DiagnosticError) as info:
        expr_of('"prefix-${var.env}"').static_value()
    diag = info.value.diagnostics[0]
    assert diag.summary == '"var.env" cannot be used here'
    assert diag.range == Range("t.zp.hcl", 1, 15)
    assert expr_of("[for x in [1, 2] : x * 2]").static_value() == [2, 4]


def test_source_text_of_subexpressions():
    assert expr_of("upper( var.x )  # note").source() == "upper( var.x )"


# -- UNKNOWN ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "source",
    ["u + 1", "-u", "!u", "u == 1", "[u] == [1]", "u ? 1 : 2", "(u)[0]", "(u).x", "upper(u)", "join(\",\", [u])",
     "[for x in u : x]", "true && u", "u || false", "{(u) = 1}", "u[*].id"],
)
def test_unknown_propagates(source):
    assert value(source, u=UNKNOWN) is UNKNOWN


def test_unknown_inside_collections_and_decided_logic():
    assert value("[u, 1]", u=UNKNOWN) == [UNKNOWN, 1]
    assert value("false && u", u=UNKNOWN) is False
    assert value("u || true", u=UNKNOWN) is True
    assert value("length(x)", x=[1, 2]) == 2


def test_unknown_is_one_object_even_after_pickling_and_copying():
    assert pickle.loads(pickle.dumps(UNKNOWN)) is UNKNOWN
    assert copy.deepcopy({"a": [UNKNOWN]})["a"][0] is UNKNOWN
    assert str(UNKNOWN) == "(known after apply)"


def test_symbolic_values_cannot_be_computed_with():
    out = Marker("step.a.outputs.b")
    assert error("m + 1", m=out).summary == '"+" cannot use step.a.outputs.b: its value is known only when it runs'
    assert error("m == null", m=out).summary.startswith('"==" cannot use step.a.outputs.b')
    diag = error("upper(m)", m=out)
    assert diag.summary == "upper(): step.a.outputs.b is known only when it runs, so it cannot be passed to a function"
    assert value("{data = m}", m=out) == {"data": out}
    assert value("[m][0]", m=out) is out


# -- functions --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ('upper("abc")', "ABC"),
        ('lower("ABC")', "abc"),
        ('format("%s-%03d-%.2f-%t-%q-%v-%v-%%-%x", "a", 7, 3.14159, true, "q", 1.5, [1], 255)', 'a-007-3.14-true-"q"-1.5-[1]-%-ff'),
        ('format("%5s|%-4d|%b", "ab", 3, 5)', "   ab|3   |101"),
        ('format("%[2]s %[1]s", "a", "b")', "b a"),  # argument indexes, as in Terraform
        ('format("%[2]s %s %[1]q", "a", "b", "c")', 'b c "a"'),
        ('format("%-4[2]s|%6.2[1]f|%[2]05d", 3.14159, 42)', '42  |  3.14|00042'),
        ('join("-", ["a", "b"], ["c"])', "a-b-c"),
        ('join(",", [1, true])', "1,true"),
        ("concat([1], [], [2, 3])", [1, 2, 3]),
        ('length("héllo")', 5),
        ("length({a = 1})", 1),
        ("length([1, 2])", 2),
        ("keys({b = 1, a = 2})", ["a", "b"]),
        ("values({b = 1, a = 2})", [2, 1]),
        ("merge({a = 1, b = 1}, null, {b = 2})", {"a": 1, "b": 2}),
        ('lookup({a = 1}, "a")', 1),
        ('lookup({a = 1}, "b", "d")', "d"),
        ("min(3, 1.5, 2)", 1.5),
        ("max([4, 9]...)", 9),
        ("abs(-3)", 3),
        ("ceil(1.2)", 2),
        ("floor(-1.2)", -2),
        ("tostring(1.0)", "1"),
        ("tostring(null)", None),
        ('tonumber("2.5")', 2.5),
        ('tonumber("7")', 7),
        ('tobool("true")', True),
        ('tobool("0")', False),
        ('coalesce(null, "", "x", "y")', "x"),
        ('jsonencode({b = [1, 2.5, null], a = "é"})', '{"a":"é","b":[1,2.5,null]}'),
        ("jsonencode(1e3)", "1000"),  # a number's value, as Terraform writes it: never 1000.0
        ("jsonencode([2 * 3.0, 1.50, 1e-5, 1e23])", "[6,1.5,0.00001,100000000000000000000000]"),
        ('"x${1.50}|${1.5e3}|${10 % 3.5}"', "x1.5|1500|3"),
        ("tostring(1e23)", "100000000000000000000000"),
        ('jsondecode("{\\"a\\": [1, 2.5]}")', {"a": [1, 2.5]}),
        ('replace("a-b-c", "-", "+")', "a+b+c"),
        ('replace("v1.2.3", "/v(\\\\d+)\\\\..*/", "major $1")', "major 1"),
        # the replacement is expanded as Go's regexp (Terraform's) expands it
        ('replace("abc", "/b/", "$$")', "a$c"),
        ('replace("abc", "/(b)/", "[$1|$${1}|$2|$x|$]")', "a[b|b|||$]c"),
        ('replace("abc", "/(?P<x>b)/", "$x$${x}|$xy")', "abb|c"),
        ('replace("abc", "/(b)/", "$1x")', "ac"),  # $1x names a capture "1x", which does not exist
        ('replace("ab", "/(a)|(b)/", "[$1$2]")', "[a][b]"),
        ('replace("ab", "/b/", "\\\\1")', "a\\1"),
        ('split(",", "a,b,,c")', ["a", "b", "", "c"]),
        ('split(",", "")', []),
        ('trimspace("  x \\n")', "x"),
        ('substr("hello", 1, 3)', "ell"),
        ('substr("hello", -3, -1)', "llo"),
        # characters as a reader sees them, as Terraform counts them (Unicode grapheme clusters)
        ('length("e\\u0301tude")', 5),  # "e" and a combining accent
        ('length("👍🏽 🇫🇷🇩🇪 👨\\u200d👩\\u200d👧 1\\ufe0f\\u20e3")', 8),  # skin tone, flags, a family, a keycap
        ('length("a\\r\\nb 한국")', 6),
        ('substr("e\\u0301tude", 0, 2)', "e\u0301t"),
        ('substr("🇫🇷🇩🇪!", -2, 1)', "🇩🇪"),
        ('contains(["a", 1], 1)', True),
        ('contains(["a"], "b")', False),
        ("range(3)", [0, 1, 2]),
        ("range(1, 4)", [1, 2, 3]),
        ("range(10, 0, -4)", [10, 6, 2]),
        ("range(0, 1, 0.5)", [0, 0.5]),
        ('flatten([1, [2, [3]]])', [1, 2, 3]),
        ('distinct([1, 1.0, 2, "1"])', [1, 2, "1"]),
        ('sort(["b", "a"])', ["a", "b"]),
        ('element(["a", "b"], 3)', "b"),
        ('slice([1, 2, 3], 1, 3)', [2, 3]),
        ('reverse([1, 2])', [2, 1]),
        ('zipmap(["a", "b"], [1, 2])', {"a": 1, "b": 2}),
        ('compact(["a", "", null, "b"])', ["a", "b"]),
        ('startswith("abc", "ab")', True),
        ('endswith("abc", "x")', False),
        ('trimprefix("abc", "a")', "bc"),
        ('trimsuffix("abc", "c")', "ab"),
        ("sum([1, 2.5])", 3.5),
    ],
)
def test_functions(source, expected):
    assert value(source) == expected


def test_env_function(monkeypatch):
    monkeypatch.setenv("ZPLAN_TEST_VALUE", "from-env")
    monkeypatch.delenv("ZPLAN_TEST_MISSING", raising=False)
    assert value('env("ZPLAN_TEST_VALUE")') == "from-env"
    assert value('env("ZPLAN_TEST_MISSING", "fallback")') == "fallback"
    diag = error('env("ZPLAN_TEST_MISSING")')
    assert diag.summary == "env(): environment variable ZPLAN_TEST_MISSING is not set and no default was given"
    monkeypatch.setenv("ZPLAN_TEST_VALUE", "\udcfe")  # a byte that is not UTF-8, as Python reads it
    assert error('env("ZPLAN_TEST_VALUE")').summary == "env(): environment variable ZPLAN_TEST_VALUE is not UTF-8 text"


@pytest.mark.parametrize(
    ("source", "summary", "detail"),
    [
        ("nosuch(1)", 'unknown function "nosuch"', "available functions: abs, alltrue, anytrue,"),
        ('setprodcut([1], [2])', 'unknown function "setprodcut"', 'did you mean "setproduct"? available functions: abs,'),
        ('upper("a", "b")', "upper(): expected 1 argument, got 2", "usage: upper(string)"),
        ("lookup({})", "lookup(): expected 2 to 3 arguments, got 1", "usage: lookup(map, key, default?)"),
        ("min()", "min(): expected at least 1 argument, got 0", ""),
        ("upper([1])", "upper(): argument must be a string, got list", "upper([1])"),
        ('keys("a")', "keys(): argument must be a map or object, got string", ""),
        ('tonumber("x")', 'tonumber(): "x" is not a number', ""),
        ('jsondecode("{")', "jsondecode(): invalid JSON", ""),
        ('format("%d %d", 1)', "format(): not enough arguments for %d", ""),
        ('format("%d", 1, 2)', "format(): too many arguments: the format uses 1, got 2", ""),
        ('format("%[1]s", "a", "b")', "format(): too many arguments: the format uses 1, got 2", ""),
        ('format("%[3]s", "a")', "format(): not enough arguments for %[3]s: the format needs argument 3", ""),
        ('format("%[0]s", "a")', "format(): %[0]s: argument indexes start at 1", ""),
        ("range(1e6)", "range(): would make 1000000 elements; the limit is 10000", ""),
        ("coalesce(null)", "coalesce(): every argument is null or an empty string", ""),
        ('substr("ab", 5, 1)', "substr(): offset 5 is outside the string (length 2)", ""),
        ("concat(1...)", "only a list can be expanded with ..., got number", ""),
    ],
)
def test_function_errors(source, summary, detail):
    diag = error(source)
    assert diag.summary.startswith(summary)
    assert detail in diag.detail
    assert diag.range.line == 1


# -- properties -------------------------------------------------------------------------

_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
_keys = st.one_of(st.from_regex(r"[a-z_][a-z0-9_-]{0,8}", fullmatch=True), _text)
_numbers = st.one_of(st.integers(-(10**12), 10**12), st.floats(allow_nan=False, allow_infinity=False, width=64))
values = st.recursive(
    st.one_of(st.none(), st.booleans(), _numbers, _text),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(_keys, inner, max_size=4)),
    max_leaves=12,
)


def quote(text: str) -> str:
    """An HCL string literal for ``text``."""
    out = []
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ord(ch) < 32 or ch in "\x7f\u2028\u2029\x85":
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out).replace("${", "$${").replace("%{", "%%{") + '"'


def render(v: Any) -> str:
    """HCL source text that evaluates to ``v``."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return quote(v)
    if isinstance(v, list):
        return "[" + ", ".join(render(x) for x in v) + "]"
    items = (f"{k if _is_ident(k) else quote(k)} = {render(x)}" for k, x in v.items())
    return "{" + ", ".join(items) + "}"


def _is_ident(key: str) -> bool:
    return bool(key) and key not in ("true", "false", "null", "for") and IDENTIFIER.fullmatch(key) is not None


def same(a: Any, b: Any) -> bool:
    """Equal values of the same types (so 1 and 1.0, or 0 and False, differ)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    return a == b


@settings(max_examples=100, deadline=None)
@given(values)
def test_rendered_values_evaluate_back_to_themselves(v):
    assert same(expr_of(render(v)).static_value(), v)


def close(a: Any, b: Any) -> bool:
    """Equal values, numbers equal as decimals are (1e23 is written 100000000000000000000000)."""
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(close(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(close(a[k], b[k]) for k in a)
    if isinstance(a, (int, float)) and not isinstance(a, bool):
        return isinstance(b, (int, float)) and not isinstance(b, bool) and math.isclose(a, b, rel_tol=1e-15)
    return a == b


@settings(max_examples=100, deadline=None)
@given(values)
def test_jsonencode_writes_json_as_terraform(v):
    text = expr_of(f"jsonencode({render(v)})").static_value()
    assert close(json.loads(text), v)


@settings(max_examples=100, deadline=None)
@given(_numbers)
def test_jsonencode_writes_numbers_as_hcl(n):
    text = expr_of(f"jsonencode({render(n)})").static_value()
    assert "e" not in text.lower() and ("." not in text) is (float(n).is_integer())


def _arith(depth: int):
    leaf = st.integers(-50, 50).map(lambda n: (f"({n})" if n < 0 else str(n), n))
    if depth == 0:
        return leaf

    def combine(args):
        (ls, lv), op, (rs, rv) = args
        return f"({ls} {op} {rs})", {"+": lv + rv, "-": lv - rv, "*": lv * rv}[op]

    sub = _arith(depth - 1)
    return st.one_of(leaf, st.tuples(sub, st.sampled_from("+-*"), sub).map(combine))


@settings(max_examples=100, deadline=None)
@given(_arith(3))
def test_integer_arithmetic_matches_python(case):
    source, expected = case
    assert expr_of(source).static_value() == expected


def template_source(pieces: list[tuple[str, str]]) -> str:
    """A quoted template: text pieces quoted, references as ${var.NAME}."""
    out, text = [], ""
    for kind, piece in pieces + [("end", "")]:
        if kind == "text":
            text += piece
            continue
        body = quote(text)[1:-1]
        if kind == "ref":  # "$${" (or "%%{") before the reference would be an escape: each trailing $ or % as ${"$"}
            kept = body.rstrip("$%")
            body = kept + "".join('${"' + c + '"}' for c in body[len(kept):])
        out.append(body + ("${var." + piece + "}" if kind == "ref" else ""))
        text = ""
    return '"' + "".join(out) + '"'


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(_text.map(lambda t: ("text", t)), st.sampled_from(["a", "b"]).map(lambda n: ("ref", n))), max_size=6))
def test_templates_interpolate_references(pieces):
    names = {"var.a": "Ä${x}", "var.b": 12}
    expected = "".join(p if kind == "text" else str(names["var." + p]) for kind, p in pieces)
    result = value(template_source(pieces), **names)
    if [p for p in pieces if p != ("text", "")] == [("ref", "b")]:
        assert result == 12  # a lone interpolation keeps its type
    else:
        assert result == expected
