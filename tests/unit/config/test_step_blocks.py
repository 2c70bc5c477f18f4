"""Step blocks as the loader reads them: timeouts parsed as durations, bad sources refused, each error at file:line."""

from __future__ import annotations

import pytest

from zplan import diags
from zplan.config import loader
from zplan.durations import parse_seconds


def _write(tmp_path, timeout: str):
    (tmp_path / "main.zp.hcl").write_text(
        'pipeline "p" {\n  step "s" {\n    source = "steps.py:f"\n' f"    timeout = {timeout}\n" "  }\n}\n"
    )
    return tmp_path


@pytest.mark.parametrize("text, seconds", [("30s", 30), ("10m", 600), ("1h30m", 5400), ("1.5", 1.5), ("250ms", 0.25)])
def test_durations(text, seconds):
    assert parse_seconds(text) == seconds


@pytest.mark.parametrize("text", ["", "10x", "m", "5m 3s", "-3s"])
def test_bad_durations(text):
    with pytest.raises(ValueError, match="not a duration"):
        parse_seconds(text)


def test_step_timeout_is_loaded(tmp_path):
    config = loader.load(_write(tmp_path, '"10m"'))
    assert config.pipelines["p"].steps["s"].timeout == 600


@pytest.mark.parametrize("value", ['"soon"', "0", "true", '"inf"', '"nan"', '"100000000000000000000s"'])
def test_bad_step_timeout_names_file_and_line(tmp_path, value):
    with pytest.raises(diags.DiagnosticError) as err:
        loader.load(_write(tmp_path, value))
    text = str(err.value.diagnostics[0])
    assert "timeout must be a positive duration" in text
    assert "main.zp.hcl:4" in text


def test_a_step_source_with_a_null_byte_is_a_config_error(tmp_path):
    """Found by the fuzz test: the path reached the file system and raised ValueError."""
    (tmp_path / "main.zp.hcl").write_text('pipeline "p" {\n  step "s" {\n    source = "steps\\u0000.py:f"\n  }\n}\n')
    with pytest.raises(diags.DiagnosticError) as err:
        loader.load(tmp_path)
    assert "source must look like" in str(err.value.diagnostics[0]) and "main.zp.hcl:3" in str(err.value.diagnostics[0])


def _errors(tmp_path, text: str) -> list[str]:
    (tmp_path / "main.zp.hcl").write_text(text)
    with pytest.raises(diags.DiagnosticError) as err:
        loader.load(tmp_path)
    return [str(d) for d in err.value.diagnostics]


@pytest.mark.parametrize("source", ['"steps/s.py"', '"steps/s.py:"', '"steps/s.py:f.x"', "local.p"])
def test_a_bad_step_source_is_one_error_not_also_a_pipeline_without_steps(tmp_path, source):
    errors = _errors(tmp_path, f'locals {{ p = "s.py:f" }}\npipeline "p" {{ step "s" {{ source = {source} }} }}\n')
    assert len(errors) == 1, errors
    assert "main.zp.hcl:2" in errors[0]


def test_a_module_source_that_is_not_a_constant_is_one_error(tmp_path):
    (tmp_path / "m").mkdir()
    errors = _errors(tmp_path, 'locals { p = "./m" }\nmodule "a" { source = local.p }\n')
    assert len(errors) == 1 and '"local.p" cannot be used here' in errors[0], errors
