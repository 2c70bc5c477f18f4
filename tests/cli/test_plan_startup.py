"""A no-change plan imports only what the configuration needs (its start-up is most of its time).

The small pipeline declares no resource, module call, command step or step resources, and a
plan takes no lock: the modules for those stay unimported, and so do rich (the plan view prints
plain text), typer and click (the quick launch reads a plan's usual flags itself).
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.cli.helpers import cli_env

NOT_NEEDED = (
    "zplan.config.modules",  # module calls
    "zplan.config.scripts",  # command steps
    "zplan.plan.script_steps",
    "zplan.config.step_resources",  # resources = { cpu = ... }
    "zplan.provider",  # resources: the provider contract and plugins
    "socket",  # the lock holder's host and user: only commands that lock
    "getpass",
    "rich",
    "uuid",  # a new state's lineage, a lock's id
    "tempfile",  # writes: a repeated no-change plan writes nothing
    "shutil",
    "base64",  # encoded forms of sensitive values: the pipeline declares none
    "difflib",  # "did you mean" suggestions: only for a mistake
    "typer",  # the quick launch reads `plan -detailed-exitcode` itself (zplan.cli.launch)
    "click",
)

PLAN = (
    "import atexit, sys\n"
    "atexit.register(print)  # the process then exits through SystemExit, caught below\n"
    "sys.argv = ['zplan', 'plan', '-detailed-exitcode']\n"
    "from zplan.cli.launch import main\n"
    "try:\n"
    "    main()\n"
    "except SystemExit as exc:\n"
    "    print('exit', exc.code)\n"
    "print(' '.join(sorted(m for m in {names!r} if m in sys.modules)))\n"
)


def test_a_no_change_plan_leaves_unneeded_modules_unimported(applied):
    applied.ok("plan")  # the first plan after the apply keeps the parsed configuration (a write)
    done = subprocess.run([sys.executable, "-c", PLAN.format(names=NOT_NEEDED)], cwd=applied.root,
                          capture_output=True, text=True, env=cli_env(), timeout=120)
    assert done.returncode == 0, done.stderr
    *shown, exit_line, imported, _ = done.stdout.splitlines()
    assert exit_line == "exit 0", done.stdout + done.stderr
    assert "Steps: 0 to run, 4 cached." in "\n".join(shown)
    assert imported == "", f"imported by a no-change plan: {imported}"


@pytest.mark.parametrize("entry", ["zplan.cli.launch", "zplan.cli.app"])  # the quick launch, the full command line
def test_the_plan_command_pauses_the_collector_throughout_and_restores_it(applied, monkeypatch, entry):
    import gc
    import importlib

    main = importlib.import_module(entry).main
    from zplan.operations import applying
    from zplan.render import plan_view

    seen = []
    for owner, name in ((applying, "plan"), (plan_view, "print_plan")):
        inner = getattr(owner, name)

        def spy(*args, _inner=inner, **kwargs):
            seen.append(gc.isenabled())
            return _inner(*args, **kwargs)

        monkeypatch.setattr(owner, name, spy)
    monkeypatch.chdir(applied.root)
    assert gc.isenabled()
    with pytest.raises(SystemExit) as exit_:
        main(["plan", "-detailed-exitcode"])
    assert exit_.value.code == 0
    assert seen == [False, False]  # opening the project, the state, the plan, printing it
    assert (applied.root / ".zplan" / "cache" / "state.json.decoded").is_file()  # kept by planning, beside its caches
    assert gc.isenabled()


def test_the_plan_process_leaves_the_collector_off_as_it_exits_and_other_commands_restore_it(applied):
    # (an exit handler: the process then exits the usual way, through SystemExit, and can look after it)
    script = ("import atexit, gc, sys\natexit.register(print)\nsys.argv = ['zplan', '{command}']\n"
              "from zplan.cli.launch import main\n"
              "try:\n    main()\nexcept SystemExit:\n    pass\nprint('collector', gc.isenabled())\n")
    seen = {}
    for command in ("plan", "validate"):
        done = subprocess.run([sys.executable, "-c", script.format(command=command)], cwd=applied.root,
                              capture_output=True, text=True, env=cli_env(), timeout=120)
        seen[command] = done.stdout.splitlines()[-2]  # (the last: the exit handler's empty line)
    assert seen == {"plan": "collector False", "validate": "collector True"}
