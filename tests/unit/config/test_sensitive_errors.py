"""An error about a value computed from a sensitive one never quotes it: the message says
"(sensitive value)" (zplan.config.context marks the operands; calls, indexes, for
expressions, conversions and validations word their errors by the marks)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zplan.config import hcl, loader, variables
from zplan.config.expr import Expr
from zplan.config.scope import Scope
from zplan.diags import DiagnosticError

SECRET = "/supersecret"

HCL = """
variable "pw" {
  type      = string
  sensitive = true
}

variable "plain" {
  default = "public"
}

locals {
  wrapped = { k = var.pw }
}
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    root: Path = tmp_path_factory.mktemp("secret-errors")
    (root / "main.zp.hcl").write_text(HCL)
    (root / "t.tpl").write_text("${tonumber(x)}\n")
    return root


@pytest.fixture(scope="module")
def scope(project: Path) -> Scope:
    return Scope(loader.load(project), {"pw": SECRET, "plain": "public"})


def expr_in(project: Path, source: str) -> Expr:
    return hcl.parse_text(f"v = {source}\n", str(project / "main.zp.hcl")).attributes["v"].expr


def message(scope: Scope, project: Path, source: str) -> str:
    with pytest.raises(DiagnosticError) as info:
        scope.eval(expr_in(project, source))
    return "\n".join(f"{d.summary}\n{d.detail}" for d in info.value.diagnostics)


@pytest.mark.parametrize("source", [
    "tonumber(var.pw)",
    "file(var.pw)",
    "lookup({a = 1}, var.pw)",
    "{a = 1}[var.pw]",
    "tobool(var.pw)",
    "env(var.pw)",
    "{for x in [var.pw, var.pw] : x => 1}",
    "tonumber(local.wrapped.k)",
    "local.wrapped[var.pw]",
    "[for k, v in local.wrapped : tonumber(v)]",
    'templatefile("t.tpl", { x = var.pw })',
    "[1, 2][length(var.pw)]",
    'tonumber("x${var.pw}")',
])
def test_an_error_about_a_sensitive_value_does_not_show_it(scope: Scope, project: Path, source: str) -> None:
    text = message(scope, project, source)
    assert "supersecret" not in text and "(sensitive value)" in text


@pytest.mark.parametrize("source, shown", [
    ("tonumber(var.plain)", '"public" is not a number'),
    ("{a = 1}[var.plain]", 'no key "public" in this object'),
    ("{for x in [var.plain, var.plain] : x => 1}", 'duplicate key "public"'),
    ("upper([var.pw])", "argument must be a string, got list"),  # names only a type: kept
])
def test_other_errors_keep_their_values(scope: Scope, project: Path, source: str, shown: str) -> None:
    assert shown in message(scope, project, source)


def test_a_sensitive_default_that_does_not_fit_is_not_shown(tmp_path: Path) -> None:
    (tmp_path / "main.zp.hcl").write_text('variable "pw" {\n  type      = number\n  sensitive = true\n  default   = "supersecretdefault"\n}\n')
    with pytest.raises(DiagnosticError) as info:
        loader.load(tmp_path)
    text = str(info.value)
    assert "supersecretdefault" not in text and "a number is required" in text


def test_a_validation_of_a_sensitive_variable_does_not_show_it(tmp_path: Path) -> None:
    (tmp_path / "main.zp.hcl").write_text(
        'variable "pw" {\n  sensitive = true\n  validation {\n    condition     = tonumber(var.pw) > 1\n    error_message = "bad"\n  }\n}\n'
        'variable "raw" {\n  sensitive = true\n  validation {\n    condition     = var.raw\n    error_message = "bad"\n  }\n}\n')
    with pytest.raises(DiagnosticError) as info:
        variables.resolve(loader.load(tmp_path), ["pw=supersecret", "raw=supersecret"], environ={})
    text = str(info.value)
    assert "supersecret" not in text and text.count("(sensitive value)") == 2


# -- whatever the expression, the secret stays out of the message -------------------------

# expressions that give the secret, or something computed from it
_SOURCES = ["var.pw", "upper(var.pw)", '"x${var.pw}"', "local.wrapped.k", "[var.pw][0]", "trimspace(var.pw)",
            "{ k = var.pw }.k", '"%{for c in [var.pw]}${c}%{endfor}"', "try(var.pw, 1)"]
# places where an error may quote what is put in them
_PLACES = ["tonumber({})", "tobool({})", "file({})", "env({})", "lookup({{a = 1}}, {})", "{{a = 1}}[{}]",
           "[1][{}]", "{{for v in [{0}, {0}] : v => 1}}", "element([1], {})", "jsondecode({})", "range({})",
           "substr({}, 100, 1)", 'format("%d", {})', "split({0}, {0})[5]", "{}.attr",
           "{{for k, v in {{ a = {0} }} : k => tonumber(v)}}", "[for c in [{}] : tobool(c)]", "{} + 1",
           'replace("a", "/{{1,0}}/", {})', "sum([{}])", "{{ ({0}) = 1 }}[upper({0})]", "fileexists({})",
           "zipmap([{0}], [])", 'can(tonumber({0})) ? 1 : tonumber({0})']


@st.composite
def _expressions(draw) -> str:
    source = draw(st.sampled_from(_SOURCES))
    for _ in range(draw(st.integers(1, 3))):
        source = draw(st.sampled_from(_PLACES)).format(source)
    return source


@settings(max_examples=200, deadline=None)
@given(_expressions(), st.text("abcdefghijklmnopqrstuvwxyz", min_size=4, max_size=12))
def test_no_error_shows_the_secret(scope: Scope, project: Path, source: str, letters: str) -> None:
    secret = "zq" + letters  # no word of a message
    scope = Scope(scope.config, {"pw": secret, "plain": "public"})
    try:
        scope.eval(expr_in(project, source))
    except DiagnosticError as exc:
        text = "\n".join(f"{d.summary}\n{d.detail}" for d in exc.diagnostics).lower()
        assert secret not in text, source
