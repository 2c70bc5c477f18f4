"""``lifecycle`` blocks as Terraform reads them: one per resource, true/false flags, known attribute names."""

from __future__ import annotations

import pytest

from zplan.config import loader

from tests.unit.config.test_reference_errors import STEP, validation_errors


def resource(lifecycle: str) -> str:
    return STEP + f'resource "local_directory" "d" {{\n  path = "out"\n{lifecycle}}}\n'


def test_a_second_lifecycle_block_is_an_error_naming_both(tmp_path):
    (error,) = validation_errors(tmp_path, resource("  lifecycle { prevent_destroy = true }\n  lifecycle { prevent_destroy = false }\n"))
    assert "main.zp.hcl:7:3: error: Duplicate lifecycle block" in error and "on line 6" in error


@pytest.mark.parametrize("value", ['"yes"', '"true"', "1"])
def test_a_lifecycle_flag_must_be_a_bool(tmp_path, value):
    (error,) = validation_errors(tmp_path, resource(f"  lifecycle {{ prevent_destroy = {value} }}\n"))
    assert "main.zp.hcl:6:15: error: lifecycle: prevent_destroy must be true or false" in error


def test_ignore_changes_must_name_attributes_of_the_resource(tmp_path):
    (error,) = validation_errors(tmp_path, resource("  lifecycle {\n    ignore_changes = [nope, mode]\n  }\n"))
    assert 'main.zp.hcl:7:5: error: lifecycle: ignore_changes names "nope"' in error
    assert "local_directory takes: force_destroy, mode, path" in error


def test_a_valid_lifecycle_is_read(tmp_path):
    (tmp_path / "main.zp.hcl").write_text(resource("  lifecycle {\n    prevent_destroy = true\n    ignore_changes  = [mode]\n  }\n"))
    lifecycle = loader.load(tmp_path).resources["resource.local_directory.d"].lifecycle
    assert lifecycle.prevent_destroy and not lifecycle.create_before_destroy and lifecycle.ignore_changes == ["mode"]
