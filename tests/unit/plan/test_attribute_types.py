"""A resource attribute's value must fit the type its provider's schema declares."""

from __future__ import annotations

import pytest

from zplan.diags import DiagnosticError
from zplan.operations.validate import validate_project
from zplan.project import Options, Project
from zplan.provider import Attribute, Provider, ProviderRegistry, ResourceSchema


class UntypedProvider(Provider):
    """A third-party provider written before attributes declared types."""

    name = "untyped"
    schemas = {"untyped_thing": ResourceSchema("untyped_thing", {"size": Attribute(required=True), "id": Attribute(computed=True)})}


def check(tmp_path, text: str) -> list[str]:
    (tmp_path / "main.zp.hcl").write_text(text)
    try:
        validate_project(Project.open(tmp_path, Options(), ProviderRegistry({"untyped": UntypedProvider})))
    except DiagnosticError as exc:
        return [str(d) for d in exc.diagnostics]
    return []


def test_a_list_given_to_a_string_attribute_is_an_error_at_its_line(tmp_path):
    (error,) = check(tmp_path, 'resource "local_directory" "d" {\n  path = ["x"]\n}\n')
    assert "main.zp.hcl:2:3: error: path: a string is required, got list" in error
    assert 'local_directory takes a string as "path"' in error


def test_every_attribute_of_the_wrong_type_is_named(tmp_path):
    found = check(tmp_path, 'resource "local_directory" "d" {\n  path          = {}\n  force_destroy = "yes"\n}\n')
    assert len(found) == 2
    assert "main.zp.hcl:2:3: error: path: a string is required, got object" in found[0]
    assert 'main.zp.hcl:3:3: error: force_destroy: a bool is required, got "yes"' in found[1]


@pytest.mark.parametrize("attributes", [
    'path = 5\n  force_destroy = "true"',  # converted as Terraform converts them
    'path = "x"\n  force_destroy = null',  # not set
    'path = resource.local_directory.other.id',  # known only after apply
])
def test_values_that_convert_or_are_unknown_pass(tmp_path, attributes):
    other = 'resource "local_directory" "other" {\n  path = "o"\n}\n'
    assert check(tmp_path, other + f'resource "local_directory" "d" {{\n  {attributes}\n}}\n') == []


def test_a_sensitive_value_of_the_wrong_type_is_not_shown(tmp_path):
    text = 'variable "v" {\n  default   = "hunter2"\n  sensitive = true\n}\nresource "local_directory" "d" {\n  path          = "x"\n  force_destroy = var.v\n}\n'
    (error,) = check(tmp_path, text)
    assert "force_destroy: a bool is required" in error and "hunter2" not in error


def test_an_attribute_declaring_no_type_takes_any_value(tmp_path):
    assert check(tmp_path, 'resource "untyped_thing" "t" {\n  size = [1, 2]\n}\n') == []


def test_the_providers_own_checks_run_at_plan_time_but_never_quote_a_secret(tmp_path):
    (error,) = check(tmp_path, 'resource "local_sqlite_database" "d" {\n  path         = "x.db"\n  journal_mode = "fast"\n}\n')
    assert "main.zp.hcl:3:3: error: local_sqlite_database: journal_mode must be one of" in error and "'fast'" in error
    secret = 'variable "v" {\n  default   = "hunter2"\n  sensitive = true\n}\n'
    found = check(tmp_path, secret + 'resource "local_sqlite_database" "d" {\n  path         = "x.db"\n  journal_mode = "${var.v}!"\n}\n')
    assert not any("hunter2" in e for e in found)
    # a sensitive attribute is left to apply, and masks nothing else in the messages
    (error,) = check(tmp_path, 'resource "local_file" "f" {\n  path              = "f"\n  sensitive_content = "a"\n  mode              = "999"\n}\n')
    assert 'local_file: mode must be an octal string such as "0755"' in error
