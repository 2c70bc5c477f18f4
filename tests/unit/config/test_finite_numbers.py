"""Numbers are finite: a literal, a result or a decoded value too large for a float (Infinity,
NaN) is refused where it is written, at plan time, never an internal error or a failed apply."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zplan.config import hcl, loader, variables
from zplan.config.values import is_number
from zplan.diags import DiagnosticError


def evaluate(source: str, filename: str = "t.zp.hcl"):
    return hcl.parse_text(f"v = {source}\n", filename).attributes["v"].expr.static_value()


def refused(source: str):
    with pytest.raises(DiagnosticError) as info:
        evaluate(source)
    (diag,) = info.value.diagnostics
    assert diag.range is not None and diag.range.file == "t.zp.hcl"
    return diag


@pytest.mark.parametrize("source, column, summary", [
    ("1e400", 5, "the number 1e400 is too large"),
    ("-1e400", 6, "the number 1e400 is too large"),
    ("1e400 - 1e400", 5, "the number 1e400 is too large"),
    ("tostring(1e400)", 14, "the number 1e400 is too large"),
    ("9" * 400, 5, "is too large"),
    ("1e308 * 10", 5, "the result of 1e308 * 10 is too large"),
    ("1 + 1e308 / 0.1", 9, "the result of 1e308 / 0.1 is too large"),
    ("floor(1e308) * 10", 5, "the result of floor(1e308) * 10 is too large"),
    ('jsondecode("NaN")', 5, "NaN is not a JSON number"),
    ('jsondecode("[1, -Infinity]")', 5, "-Infinity is not a JSON number"),
    ('jsondecode("{\\"a\\": 1e400}")', 5, "the result at a is Infinity, not a finite number"),
    ("sum([1e308, 1e308])", 5, "the result is Infinity"),
    ("range(0, 1e308, 1e-308)", 5, "would make too many elements"),
])
def test_a_number_that_is_not_finite_is_refused_where_it_is_written(source: str, column: int, summary: str) -> None:
    diag = refused(source)
    assert summary in diag.summary and diag.range.column == column
    assert "finite" in diag.summary + diag.detail or "JSON" in diag.summary or "too many" in diag.summary


@pytest.mark.parametrize("source", ["floor(1e400)", "ceil(-1e400)", "range(1e400)", "abs(1e400)", "max(1, 1e400)"])
def test_numeric_functions_never_see_infinity(source: str) -> None:
    assert "the number 1e400 is too large" in refused(source).summary


def test_a_variable_default_or_params_file_value_that_is_not_finite_is_refused(tmp_path: Path) -> None:
    (tmp_path / "main.zp.hcl").write_text('variable "v" {\n  default = 1e400\n}\n')
    with pytest.raises(DiagnosticError, match="main.zp.hcl:2:13: error: the number 1e400 is too large"):
        loader.load(tmp_path)
    (tmp_path / "main.zp.hcl").write_text('variable "v" {\n  type = number\n}\n')
    (tmp_path / "p.yaml").write_text("v: .inf\n")
    with pytest.raises(DiagnosticError, match="v is Infinity, not a finite number"):
        variables.resolve(loader.load(tmp_path), [tmp_path / "p.yaml"], environ={})


def test_the_largest_numbers_still_work() -> None:
    assert evaluate("1.7976931348623157e308") == 1.7976931348623157e308
    assert evaluate("-1e308 - 1e307") == -1.1e308
    assert evaluate("floor(1e308)") == int(1e308)


_NUMBERS = st.one_of(st.integers(-10**320, 10**320), st.floats(allow_nan=False, allow_infinity=False), st.sampled_from([1e308, -1e308, 1e-308]))
_CALLS = ["floor({0})", "ceil({0})", "abs({0})", "max({0}, {1})", "min({0}, {1})", "sum([{0}, {1}])", "range({0})",
          "range({0}, {1})", "range({0}, {1}, {0})", "{0} + {1}", "{0} - {1}", "{0} * {1}", "{0} / {1}", "{0} % {1}",
          "-{0}", 'format("%d %f", {0}, {1})', "tostring({0})", "substr(\"abc\", {0}, {1})", "element([1], {0})",
          'jsondecode("{0}")', "tonumber(\"{0}\")", "[1, 2][{0}]", "jsonencode({0})"]


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(_CALLS), _NUMBERS, _NUMBERS)
def test_numbers_give_a_finite_value_or_a_clear_error(call: str, a, b) -> None:
    source = call.format(*(repr(n) if isinstance(n, float) else str(n) for n in (a, b)))
    try:
        value = evaluate(source)
    except DiagnosticError:
        return
    if is_number(value):
        assert math.isfinite(value) and abs(value) <= 1.7976931348623157e308
