"""The quick launch (zplan.cli.launch) reads `zplan plan`'s usual flags without the command-line
library, and hands everything else to the full command line: for every command line it reads,
both must give the plan command the very same flags."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zplan.cli import plan_cmd
from zplan.cli.launch import main as launch

FLAGS = ["out", "var", "var-file", "stack", "target", "exclude", "replace", "format",
         "destroy", "refresh", "detailed-exitcode", "verbose"]
VALUES = ["", "x", "a=b", "-x", "--", "plan", "data/p.json", "x y", "é"]


def full_reading(argv: list[str], monkeypatch) -> plan_cmd.PlanFlags:
    """The flags the full command line (typer and click) hands to the plan command for ``argv``."""
    from zplan.cli.app import main

    seen = []
    monkeypatch.setattr(plan_cmd, "run", lambda root, flags: seen.append(flags) or 0)
    with pytest.raises(SystemExit) as exit_:
        main(list(argv))
    assert exit_.value.code == 0 and len(seen) == 1, f"the full command line refused {argv}"
    return seen[0]


SWITCHES = ["destroy", "refresh", "detailed-exitcode", "verbose"]
dashes = st.sampled_from(["-", "--"])
values = st.sampled_from(VALUES)
VALUED = [f for f in FLAGS if f not in SWITCHES]
# mostly well-formed flags (so that many command lines are read quickly), some in odd forms
well_formed = st.one_of(
    st.builds(lambda d, f: [f"{d}{f}"], dashes, st.sampled_from(SWITCHES)),
    st.builds(lambda d, f, v: [f"{d}{f}", v], dashes, st.sampled_from(VALUED), values),
    st.builds(lambda d, f, v: [f"{d}{f}={v}"], dashes, st.sampled_from(VALUED), values),
)
odd = st.one_of(
    st.builds(lambda d, f, v: [f"{d}{f}={v}"], dashes, st.sampled_from(SWITCHES), values),
    st.sampled_from(VALUES + ["-h", "--help", "-detailed-exitcod", "---var", "-", "-var"]).map(lambda w: [w]),
)
flag_words = st.one_of(well_formed, well_formed, well_formed, well_formed, odd)
words = st.lists(flag_words, max_size=6).map(lambda groups: [w for g in groups for w in g])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(words)
def test_what_the_quick_reading_takes_the_full_command_line_reads_alike(monkeypatch, words):
    argv = ["plan", *words]
    quick = plan_cmd.quick_flags(argv)
    if quick is not None:
        assert quick == full_reading(argv, monkeypatch), argv


@pytest.mark.parametrize("argv", [
    ["plan"],
    ["plan", "-detailed-exitcode"],
    ["plan", "-out", "plan.zplan", "-var", "threshold=10", "--var=n=2", "-var-file", "prod.zpvars"],
    ["plan", "-format=markdown", "-target", "pipeline.p.step.a", "-exclude", "b", "-replace", "c", "-stack", "gcp"],
    ["plan", "-destroy", "-refresh", "-verbose"],
])
def test_the_usual_plans_are_read_quickly_and_alike(argv, monkeypatch):
    quick = plan_cmd.quick_flags(argv)
    assert quick is not None
    assert quick == full_reading(argv, monkeypatch)


@pytest.mark.parametrize("argv", [
    [], ["apply"], ["-chdir", "x", "plan"], ["plan", "--help"], ["plan", "-h"], ["plan", "-detailed-exitcod"],
    ["plan", "-out"], ["plan", "-var", "-x"], ["plan", "-destroy=true"], ["plan", "--", "-out"], ["plan", "extra"],
])
def test_anything_else_goes_to_the_full_command_line(argv):
    assert plan_cmd.quick_flags(argv) is None


def test_the_quick_flags_are_the_plan_command_s_own():
    """Every field is a parameter of the full plan command, spelt -name and --name there."""
    import typer.main

    from zplan.cli.app import app

    command = typer.main.get_command(app).commands["plan"]
    spelt = {p.name: set(p.opts) for p in command.params}
    assert [f.name for f in dataclasses.fields(plan_cmd.PlanFlags)] == list(spelt)
    for flag in FLAGS:
        assert {f"-{flag}", f"--{flag}"} == spelt[flag.replace("-", "_")]


def test_a_mistake_in_a_quick_plan_is_reported_as_in_the_full_command_line(tmp_path, monkeypatch, capsys):
    (tmp_path / "main.zp.hcl").write_text('pipeline "p" {\n  step "a" {\n    source = "steps.py:a"\n    sauce = 1\n  }\n}\n')
    monkeypatch.chdir(tmp_path)
    said = []
    for run in (launch, __import__("zplan.cli.app", fromlist=["main"]).main):
        with pytest.raises(SystemExit) as exit_:
            run(["plan", "-detailed-exitcode"])
        said.append((exit_.value.code, capsys.readouterr()))
    assert said[0] == said[1]
    code, (out, err) = said[0]
    assert code == 1 and "main.zp.hcl:4:5" in out + err and "sauce" in out + err
