"""`zplan artifact list|export` and `zplan runs diff`: recorded results, read through ``zplan.operations.results``."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from zplan import diags
from zplan.cli import common
from zplan.cli.common import NoColorOpt, opt, project_args, stack_option

artifact_app = typer.Typer(no_args_is_help=True, help="Recorded step outputs: list them, export their files.")


def runs_diff(run_a: Optional[int] = typer.Argument(None, help="The earlier run (default: the one before the last)."),
              run_b: Optional[int] = typer.Argument(None, help="The later run (default: the last)."),
              format: str = opt("text", "format", "text | markdown | json"), stack: Optional[str] = stack_option(), no_color: bool = NoColorOpt) -> None:
    """Params, code fingerprints, input data and outputs (metrics with their deltas) that differ between two runs."""
    from zplan.operations import results
    from zplan.render.results_view import print_diff

    if format not in ("text", "markdown", "json"):
        raise diags.fail(f"unknown diff format {format!r}", "use text, markdown or json")
    print_diff(results.diff_runs(project_args(stack), run_a, run_b), format)


@artifact_app.command("list")
def artifact_list(address: Optional[str] = typer.Argument(None, help="Only this step: pipeline.P.step.S."),
                  run: Optional[int] = opt(None, "run", "The executions of this run (default: the newest of each step)."),
                  stack: Optional[str] = stack_option(), no_color: bool = NoColorOpt) -> None:
    """Recorded step outputs: address, output, digest, size, materializer and uri."""
    from zplan.operations import results
    from zplan.render.results_view import print_artifacts

    print_artifacts(results.list_artifacts(project_args(stack), address, run))


@artifact_app.command("export")
def artifact_export(address: str = typer.Argument(..., help="pipeline.P.step.S[.outputs.NAME]"),
                    dest: Path = typer.Argument(..., help="The folder to copy the files into."),
                    run: Optional[int] = opt(None, "run", "The artifact of this run (default: the newest)."),
                    force: bool = opt(False, "force", "Overwrite files that exist in DIR."),
                    stack: Optional[str] = stack_option(), no_color: bool = NoColorOpt) -> None:
    """Copy an artifact's files (verified against its digest) into DIR."""
    from zplan.operations import results
    from zplan.render.results_view import print_exported

    target = common.root() / dest
    print_exported(results.export_artifact(project_args(stack), address, target, run, force), target)
