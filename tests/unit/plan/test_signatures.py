"""Step calls are checked against the function's parameters, read statically and cached with the code hash."""

from __future__ import annotations

import ast

import pytest

from tests.unit.plan.layout import write
from zplan.config.model import StepConfig
from zplan.diags import Range
from zplan.plan.code_hash import CodeIndex
from zplan.plan.signatures import check_call



def problems(root, source: str, *given: str) -> list[str]:
    file, function = source.split(":")
    step = StepConfig("p", "s", source, Range("main.zp.hcl", 3, 14), Range("main.zp.hcl", 2, 1))
    info = CodeIndex(root).info(file, function)
    diagnostics = check_call(step, info.signature, {g: 1 for g in given}, {})
    return [f"{d.range.file}:{d.range.line}: {d.summary} | {d.detail}" for d in diagnostics]


@pytest.fixture
def project(tmp_path):
    return write(tmp_path, {"steps/train.py": """
        import functools
        import zplan

        def train(data, rate, epochs=3, *, seed, verbose=False):
            return data

        def loose(data, **options):
            return data

        def split(data, /, ratio=0.5):
            return data

        @zplan.beam_step(pipeline=True)
        def count(p, lines):
            return lines

        @zplan.step(outputs=["a", "b"])
        def two(x):
            return x, x

        @functools.lru_cache
        def wrapped(x):
            return x
    """})


def test_a_complete_call_is_fine(project):
    assert problems(project, "steps/train.py:train", "data", "rate", "seed") == []
    assert problems(project, "steps/train.py:train", "data", "rate", "seed", "epochs", "verbose") == []


def test_a_misspelt_keyword_names_both_places_and_the_closest_parameter(project):
    (found,) = problems(project, "steps/train.py:train", "data", "rate", "seed", "epocs")
    assert found.startswith('main.zp.hcl:2: step "s": train (steps/train.py:5) has no parameter "epocs"')
    assert 'did you mean "epochs"?' in found and "it takes: data, rate, epochs, seed, verbose" in found


def test_a_missing_required_argument_points_at_the_step(project):
    assert problems(project, "steps/train.py:train", "data", "seed") == [
        'main.zp.hcl:2: step "s": train (steps/train.py:5) needs "rate", which neither params nor inputs give'
        " | add rate to the step's params or inputs, or give it a default in the function"
    ]
    assert len(problems(project, "steps/train.py:train", "data", "rate")) == 1  # keyword-only seed


def test_a_function_taking_any_keyword_accepts_unknown_ones_but_still_needs_its_required_ones(project):
    assert problems(project, "steps/train.py:loose", "data", "anything", "else") == []
    assert len(problems(project, "steps/train.py:loose", "anything")) == 1


def test_positional_only_parameters_cannot_be_given_by_name(project):
    (found,) = problems(project, "steps/train.py:split", "ratio")
    assert 'parameter "data" of split (steps/train.py:11) is positional-only' in found


def test_the_beam_pipeline_parameter_is_supplied_by_zplan(project):
    assert problems(project, "steps/train.py:count", "lines") == []
    assert problems(project, "steps/train.py:two", "x") == []


def test_an_unknown_decorator_may_change_the_parameters_so_nothing_is_claimed(project):
    assert problems(project, "steps/train.py:wrapped", "y") == []


def test_the_signature_is_cached_with_the_code_hash_so_a_no_change_plan_parses_nothing(project, tmp_path, monkeypatch, hashing_clock):
    cache = tmp_path / "code.json"
    first = CodeIndex(project, cache)
    expected = first.info("steps/train.py", "train").signature
    first.save()
    parsed: list[str] = []
    real_parse = ast.parse
    monkeypatch.setattr(ast, "parse", lambda *a, **k: parsed.append("x") or real_parse(*a, **k))
    assert CodeIndex(project, cache).info("steps/train.py", "train").signature == expected
    assert parsed == []
