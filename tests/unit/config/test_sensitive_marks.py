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
