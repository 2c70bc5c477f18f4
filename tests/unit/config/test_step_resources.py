"""Per-step ``resources`` and ``cache``, as the loader reads them."""

from __future__ import annotations

import pytest

from zplan import diags
from zplan.config.loader import load
from zplan.config.step_resources import parse_resources, parse_size


@pytest.fixture
def step_of(tmp_path):
    def read(body: str):
        (tmp_path / "main.zp.hcl").write_text(f'pipeline "p" {{\n  step "s" {{\n    source = "steps.py:f"\n{body}\n  }}\n}}\n')
        return load(tmp_path).pipelines["p"].steps["s"]
    return read


def test_resources_and_cache_are_read(step_of) -> None:
    step = step_of('    resources = { cpu = 2, memory = "4GiB", gpu = 1, gpu_type = "NVIDIA_TESLA_T4" }\n    cache = false')
    assert step.resources.cpu == 2 and step.resources.memory == 4 * 2**30 and step.resources.gpu == 1
    assert step.resources.gpu_type == "NVIDIA_TESLA_T4" and step.resources.describe() == "cpu = 2, memory = 4GiB, gpu = 1"
    assert step.cache is False
    plain = step_of("")
    assert plain.resources is None and plain.cache is True


@pytest.mark.parametrize("body, message", [
    ('resources = { cpus = 2 }', "unknown key 'cpus' in resources"),
    ('resources = { memory = "lots" }', "resources.memory must be a size"),
    ('resources = { gpu = 0.5 }', "resources.gpu must be a whole number"),
    ('cache = "no"', "cache must be true or false"),
])
def test_mistakes_are_errors_at_their_line(step_of, body: str, message: str) -> None:
    with pytest.raises(diags.DiagnosticError) as err:
        step_of("    " + body)
    found = err.value.diagnostics[0]
    assert message in found.summary and found.range is not None and found.range.line == 4


def test_sizes() -> None:
    assert parse_size("512MiB") == 512 * 2**20 and parse_size("2G") == 2 * 10**9 and parse_size("1024") == 1024
    assert parse_resources({"cpu": 0.5}).cpu == 0.5
