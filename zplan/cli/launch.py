"""The ``zplan`` command's entry point (the console script and ``python -m zplan.cli``).

The everyday ``zplan plan`` with its usual flags is read here and run without importing the
command-line library: typer and click cost ~17 ms of CPU, a quarter of a small project's
no-change plan. Every other command line, and any word of a plan's that the quick reading
does not know, goes to the full command line (zplan.cli.app), which also gives help and
reports usage errors. Both run the same command (zplan.cli.plan_cmd) in the same process
settings (zplan.cli.process); a test checks that both read every flag alike.
"""

from __future__ import annotations

import sys
from pathlib import Path

from zplan.cli import plan_cmd, process


def main(argv: list[str] | None = None) -> None:
    """Called without ``argv`` it is the process's command (the process exits after it)."""
    flags = plan_cmd.quick_flags(sys.argv[1:] if argv is None else list(argv))
    if flags is None:
        from zplan.cli.app import main as full

        full(argv)
        return
    with process.command_settings(ends_the_process=argv is None):
        process.run_guarded(lambda: plan_cmd.run(Path.cwd().resolve(), flags), _folder)


def _folder() -> Path | None:
    try:
        return Path.cwd().resolve()
    except OSError:
        return None


if __name__ == "__main__":
    main()
