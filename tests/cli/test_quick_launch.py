"""The quick launch (zplan.cli.launch) reads `zplan plan` and `zplan apply` with their usual flags
without the command-line library, and hands everything else to the full command line: for every
command line it takes, both must give the command the very same flags."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zplan.cli import apply_cmd, plan_cmd
from zplan.cli.launch import main as launch
from zplan.cli.launch import quick_command

# command -> (its flags record, how the quick reading makes it, the function both readers call)
COMMANDS = {
    "plan": (plan_cmd.PlanFlags, plan_cmd.quick_flags, "run_plan", plan_cmd),
    "apply": (apply_cmd.ApplyFlags, apply_cmd.quick_flags, "run_apply", apply_cmd),
}
SWITCHES = {"plan": ["destroy", "refresh", "detailed-exitcode", "verbose", "no-checkout", "no-color"],
            "apply": ["auto-approve", "refresh", "verbose", "no-checkout", "no-color"]}
VALUED = {"plan": ["out", "var", "var-file", "stack", "target", "exclude", "replace", "format"],
          "apply": ["var", "var-file", "stack", "target", "exclude", "replace", "parallelism", "lock-timeout"]}
VALUES = ["", "x", "a=b", "-x", "--", "plan", "data/p.json", "x y", "é", "2", "-1", "+3", " 4", "1_0", "0x1"]


def full_reading(command: str, words: list[str], monkeypatch):
    """The flags the full command line (typer and click) hands to ``command`` for ``words``."""
    from zplan.cli.app import main

    *_, function, module = COMMANDS[command]
    seen = []
    monkeypatch.setattr(module, function, lambda root, flags: seen.append(flags) or 0)
    with pytest.raises(SystemExit) as exit_:
        main([command, *words])
    assert exit_.value.code == 0 and len(seen) == 1, f"the full command line refused {[command, *words]}"
    return seen[0]


def command_lines(command: str):
    dashes = st.sampled_from(["-", "--"])
    values = st.sampled_from(VALUES)
    well_formed = st.one_of(
        st.builds(lambda d, f: [f"{d}{f}"], dashes, st.sampled_from(SWITCHES[command])),
        st.builds(lambda d, f, v: [f"{d}{f}", v], dashes, st.sampled_from(VALUED[command]), values),
        st.builds(lambda d, f, v: [f"{d}{f}={v}"], dashes, st.sampled_from(VALUED[command]), values),
    )
    odd = st.one_of(
        st.builds(lambda d, f, v: [f"{d}{f}={v}"], dashes, st.sampled_from(SWITCHES[command]), values),
        st.sampled_from(VALUES + ["-h", "--help", "-detailed-exitcod", "---var", "-", "-var", "saved.zplan"]).map(lambda w: [w]),
    )
    groups = st.one_of(well_formed, well_formed, well_formed, well_formed, odd)
    return st.lists(groups, max_size=6).map(lambda found: [w for g in found for w in g])


@pytest.mark.parametrize("command", sorted(COMMANDS))
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_what_the_quick_reading_takes_the_full_command_line_reads_alike(monkeypatch, command, data):
    words = data.draw(command_lines(command))
    quick = COMMANDS[command][1](words)
    if quick is not None:
        assert quick == full_reading(command, words, monkeypatch), words


@pytest.mark.parametrize("argv", [
    ["plan"],
    ["plan", "-detailed-exitcode"],
    ["plan", "-out", "plan.zplan", "-var", "threshold=10", "--var=n=2", "-var-file", "prod.zpvars"],
    ["plan", "-var-file", "a.zpvars", "-var", "n=2", "--var-file=b.zpvars", "-var", "n=3"],  # one list, in this order
    ["plan", "-format=markdown", "-target", "pipeline.p.step.a", "-exclude", "b", "-replace", "c", "-stack", "gcp"],
    ["plan", "-destroy", "-refresh", "-verbose", "-no-color"],
    ["apply", "-auto-approve"],
    ["apply", "plan.zplan"],
    ["apply", "-parallelism", "4", "plan.zplan", "-lock-timeout=5m", "-no-checkout"],
    ["apply", "-auto-approve", "-var", "n=2", "-target", "pipeline.p.step.a", "-verbose", "-refresh", "--no-color"],
])
def test_the_usual_commands_are_read_quickly_and_alike(argv, monkeypatch):
    quick = COMMANDS[argv[0]][1](argv[1:])
    assert quick is not None and quick_command(argv) is not None
    assert quick == full_reading(argv[0], argv[1:], monkeypatch)


@pytest.mark.parametrize("argv", [
    [], ["destroy", "-auto-approve"], ["-chdir", "x", "plan"], ["plan", "--help"], ["plan", "-h"], ["plan", "-detailed-exitcod"],
    ["plan", "-out"], ["plan", "-var", "-x"], ["plan", "-destroy=true"], ["plan", "--", "-out"], ["plan", "extra"],
    ["apply", "a.zplan", "b.zplan"], ["apply", "-parallelism", "many"], ["apply", "-auto-approve", "--help"],
])
def test_anything_else_goes_to_the_full_command_line(argv):
    assert quick_command(argv) is None


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_the_quick_flags_are_the_command_s_own(command):
    """Every field is a parameter of the full command, each flag spelt -name and --name there
    (but -var-file, whose values the field var holds too, in their order among -var's)."""
    import typer.main

    from zplan.cli.app import app

    record = COMMANDS[command][0]
    spelt = {p.name: set(p.opts) for p in typer.main.get_command(app).commands[command].params}
    assert sorted(f.name for f in dataclasses.fields(record)) == sorted(set(spelt) - {"var_file"})
    for flag in SWITCHES[command] + VALUED[command]:
        assert {f"-{flag}", f"--{flag}"} == spelt[flag.replace("-", "_")]


def test_every_command_taking_var_file_reads_it_in_order_with_var():
    """-var and -var-file are one list in command-line order: a command that takes both must note it."""
    import typer.main

    from zplan.cli.app import app
    from zplan.cli.common import InOrder

    def commands(group):
        for name, command in group.commands.items():
            yield from commands(command) if hasattr(command, "commands") else [(name, command)]

    taking = {name: command for name, command in commands(typer.main.get_command(app)) if any(p.name == "var_file" for p in command.params)}
    assert {"plan", "apply", "destroy", "validate", "output", "import"} <= set(taking)
    assert [name for name, command in taking.items() if not isinstance(command, InOrder)] == []


def test_a_mistake_in_a_quick_plan_is_reported_as_in_the_full_command_line(tmp_path, monkeypatch, capsys):
    (tmp_path / "main.zp.hcl").write_text('pipeline "p" {\n  step "a" {\n    source = "steps.py:a"\n    sauce = 1\n  }\n}\n')
    monkeypatch.chdir(tmp_path)
    said = []
    for run in (launch, __import__("zplan.cli.app", fromlist=["main"]).main):
        with pytest.raises(SystemExit) as exit_:
            run(["apply", "-auto-approve"])
        said.append((exit_.value.code, capsys.readouterr()))
    assert said[0] == said[1]
    code, (out, err) = said[0]
    assert code == 1 and "main.zp.hcl:4:5" in out + err and "sauce" in out + err


def _at_the_prompt(root, argv: list[str], key: bytes) -> tuple[str, int]:
    """Run ``zplan ARGV`` on a terminal in ``root``, press ``key`` at the approval prompt."""
    import os
    import pty
    import select
    import signal
    import sys

    from tests.cli.helpers import cli_env

    pid, fd = pty.fork()
    if pid == 0:  # the child: becomes the command
        os.chdir(root)
        os.execve(sys.executable, [sys.executable, "-m", "zplan.cli", *argv], cli_env())
    out, pressed = b"", False
    while True:
        if not select.select([fd], [], [], 60)[0]:
            os.kill(pid, signal.SIGKILL)  # silent for a minute: stopped, and the test fails
            break
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # the terminal closed with the command
            break
        if not chunk:
            break
        out += chunk
        if not pressed and b"Do you want to apply" in out:
            os.write(fd, key)
            pressed = True
    _, status = os.waitpid(pid, 0)
    return out.decode(errors="replace"), os.waitstatus_to_exitcode(status)


@pytest.mark.parametrize("argv", [["apply"], ["-chdir", ".", "apply"]])  # the quick launch, the full command line
def test_the_approval_prompt_answers_and_interrupts_alike(tmp_path, argv):
    import shutil

    from tests.cli.helpers import TESTDATA

    root = tmp_path / "pipeline"
    shutil.copytree(TESTDATA / "pipeline", root)
    # Ctrl-D (end of input) at the prompt: click turns it, as it turns Ctrl-C, into Abort. (Ctrl-C itself
    # is racy to send: a SIGINT landing just before input() starts to read is noticed only at the next one.)
    said, code = _at_the_prompt(root, argv, b"\x04")
    assert code == 130 and "Interrupted." in said and "internal error" not in said
    said, code = _at_the_prompt(root, argv, b"n\n")
    assert code == 1 and "Apply cancelled." in said
    said, code = _at_the_prompt(root, argv, b"yes\n")
    assert code == 0 and "Apply complete: 4 ok." in said


def test_python_dash_m_zplan_is_the_zplan_command(tmp_path):
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "zplan", "-version"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.startswith("zplan v") and "+ provider local" in done.stdout, done.stderr
