"""The ``zplan`` command's entry point (the console script and ``python -m zplan.cli``).

The everyday ``zplan plan`` and ``zplan apply`` with their usual flags are read here and run
without importing the command-line library: typer and click cost ~17 ms of CPU, a quarter of
a small project's no-change plan, and lie on the path of every apply. Every other command line,
and any word the quick reading does not take (zplan.cli.quick), goes to the full command line
(zplan.cli.app), which also gives help and reports usage errors. Both run the same commands
(zplan.cli.plan_cmd, zplan.cli.apply_cmd) in the same process settings (zplan.cli.process); a
test checks that both read every command line the quick reading takes alike.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable

from zplan.cli import process
from zplan.state import collector


def main(argv: list[str] | None = None) -> None:
    """Called without ``argv`` it is the process's command (the process exits after it)."""
    # The command's modules are imported with the collector paused: they are long-lived and leave no garbage, and each
    # collection their imports trigger rescans all made so far. In the process of one command they are frozen after.
    with collector.paused(freeze=argv is None):
        if argv is None and sys.argv[1:2] == ["apply"]:  # its step workers' forkserver boots while it plans
            from zplan.apply import forkserver_early

            if forkserver_early.fork_now():
                process.at_exit(forkserver_early.end)
        command = quick_command(sys.argv[1:] if argv is None else list(argv))
    if command is None:
        from zplan.cli.app import main as full

        full(argv)
        return
    with process.command_settings(ends_the_process=argv is None):
        process.run_guarded(lambda: command(Path.cwd().resolve()), process.folder_or_none)


def quick_command(argv: list[str]) -> Callable[[Path], int] | None:
    """The command ``argv`` names, ready to run in a project folder, when the quick reading takes
    all of its words; None otherwise."""
    name, words = (argv[0], argv[1:]) if argv else ("", [])
    if name == "plan":
        from zplan.cli import plan_cmd

        flags = plan_cmd.quick_flags(words)
        return None if flags is None else lambda root: plan_cmd.run_plan(root, flags)
    if name == "apply":
        from zplan.cli import apply_cmd

        flags = apply_cmd.quick_flags(words)
        return None if flags is None else lambda root: apply_cmd.run_apply(root, flags)
    return None


if __name__ == "__main__":
    main()
