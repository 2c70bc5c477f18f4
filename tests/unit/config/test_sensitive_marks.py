"""Sensitivity follows expressions (zplan.config.scope): what is computed from a sensitive
value is sensitive, through templates, calls, collections, locals and the branch taken."""

from __future__ import annotations

from pathlib import Path

import pytest

from zplan.config import loader
from zplan.config.scope import Scope
from zplan.secrets import Sensitive

HCL = """
variable "pw" {
  sensitive = true
}

variable "pin" {
  type      = number
  sensitive = true
}

variable "env" {
  default = "dev"
}

locals {
  url   = "postgres://app:${var.pw}@db/x"
  plain = "${var.env}-app"
}

output "template" { value = "x${var.pw}" }
output "call" { value = length(replace(var.pw, "h", "")) }
output "number" { value = var.pin + 1 }
output "collection" { value = { a = [1, var.pin], b = "b" } }
output "local" { value = upper(local.url) }
output "condition" { value = var.pin > 0 ? "yes" : "no" }
output "taken" { value = var.env == "dev" ? var.pw : "none" }
output "not_taken" { value = var.env == "prod" ? var.pw : "none" }
output "for" { value = [for c in [var.pw] : c] }
output "plain_local" { value = local.plain }
output "resource" { value = resource.local_file.f.content }
output "resource_plain" { value = resource.local_file.f.path }
output "marked" { value = "${sensitive(var.env)}-app" }
output "lifted" { value = nonsensitive(sha256(var.pw)) }
output "lifted_plain" { value = nonsensitive(var.env) }
output "marked_inside" { value = [for c in [sensitive(var.env)] : upper(c)] }
"""


@pytest.fixture(scope="module")
def scope(tmp_path_factory) -> Scope:
    root: Path = tmp_path_factory.mktemp("marks")
    (root / "main.zp.hcl").write_text(HCL + 'resource "local_file" "f" {\n  path = "f"\n  content = "c"\n}\n')
    config = loader.load(root)

    def resource_value(address: str, attr: str):
        return Sensitive("secret content") if attr == "content" else "f"

    return Scope(config, {"pw": "hunter2", "pin": 918273645, "env": "dev"}, resource_value)


@pytest.mark.parametrize("name, sensitive", [
    ("template", True), ("call", True), ("number", True), ("collection", True), ("local", True), ("condition", True),
    ("taken", True), ("not_taken", False), ("for", True), ("plain_local", False), ("resource", True), ("resource_plain", False),
    ("marked", True), ("lifted", False), ("lifted_plain", False), ("marked_inside", True),
])
def test_what_reads_a_secret_is_marked(scope: Scope, name: str, sensitive: bool) -> None:
    expr = scope.config.outputs[name].expr
    value, marked = scope.eval_marked(expr)
    assert marked is sensitive and scope.was_sensitive(expr) is sensitive
    assert not isinstance(value, Sensitive)  # the mark is the scope's, the value stays plain


def test_a_cached_local_keeps_its_mark(scope: Scope) -> None:
    first = scope.eval_marked(scope.config.outputs["local"].expr)
    again = scope.eval_marked(scope.config.outputs["local"].expr)
    assert first == again and first[1] is True


def test_sensitive_makes_its_value_a_secret_as_a_sensitive_variable_s_value_is(tmp_path: Path) -> None:
    """Secrets are known by value: what sensitive() is given joins them (every spelling of it), so
    it is hidden in plans, digested in state and redacted in logs wherever it flows."""
    (tmp_path / "main.zp.hcl").write_text('locals {\n  key = sensitive("AKIA-5821-KEY")\n}\noutput "o" {\n'
                                          '  value     = { key = local.key, n = sensitive(918273645) }\n  sensitive = true\n}\n')
    secrets: list[str] = []
    scope = Scope(loader.load(tmp_path), {}, secrets=secrets)
    value, marked = scope.eval_marked(scope.config.outputs["o"].expr)
    assert value == {"key": "AKIA-5821-KEY", "n": 918273645} and marked
    assert {"AKIA-5821-KEY", "918273645", "QUtJQS01ODIxLUtFWQ=="} <= set(secrets)


def test_nonsensitive_keeps_the_value_and_makes_no_secret(tmp_path: Path) -> None:
    (tmp_path / "main.zp.hcl").write_text('variable "pw" {\n  sensitive = true\n}\n'
                                          'output "o" { value = nonsensitive(length(var.pw)) }\n')
    secrets: list[str] = []
    scope = Scope(loader.load(tmp_path), {"pw": "hunter2"}, secrets=secrets)
    assert scope.eval_marked(scope.config.outputs["o"].expr) == (7, False)
    assert secrets == []


@pytest.mark.parametrize("call, message", [
    ("sensitive()", "sensitive(): expected 1 argument, got 0"),
    ('nonsensitive("a", "b")', "nonsensitive(): expected 1 argument, got 2"),
    ('sensitive(["a"]...)', "sensitive(): its argument cannot be expanded with ..."),
])
def test_sensitive_and_nonsensitive_take_one_argument(tmp_path: Path, call: str, message: str) -> None:
    from zplan.diags import DiagnosticError

    (tmp_path / "main.zp.hcl").write_text(f'output "o" {{ value = {call} }}\n')
    scope = Scope(loader.load(tmp_path), {})
    with pytest.raises(DiagnosticError) as failed:
        scope.eval(scope.config.outputs["o"].expr)
    assert failed.value.diagnostics[0].summary == message


def test_sensitive_in_a_constant_is_refused_not_dropped(tmp_path: Path) -> None:
    """A variable's default (or a vars file's value) is a constant: no mark follows it, so
    sensitive() there was silently dropped and the value shown in clear."""
    from zplan.diags import DiagnosticError

    (tmp_path / "main.zp.hcl").write_text('variable "v" {\n  default = sensitive("DEFSECRET-1")\n}\n')
    with pytest.raises(DiagnosticError) as failed:
        loader.load(tmp_path)
    found = failed.value.diagnostics[0]
    assert found.summary == "sensitive() cannot be used here" and "sensitive = true" in found.detail
    assert (found.range.line, found.range.column) == (2, 13)


def test_sensitive_in_a_template_marks_what_renders_it(tmp_path: Path) -> None:
    """A template is rendered in an evaluation of its own: sensitive() there was refused as if in a
    constant. It marks the templatefile() call, and its value joins the secrets."""
    (tmp_path / "t.tpl").write_text("key=${sensitive(k)}\n")
    (tmp_path / "main.zp.hcl").write_text('output "o" {\n  value     = templatefile("t.tpl", { k = "TPLKEY-31" })\n  sensitive = true\n}\n')
    secrets: list[str] = []
    scope = Scope(loader.load(tmp_path), {}, secrets=secrets)
    assert scope.eval_marked(scope.config.outputs["o"].expr) == ("key=TPLKEY-31\n", True)
    assert "TPLKEY-31" in secrets
