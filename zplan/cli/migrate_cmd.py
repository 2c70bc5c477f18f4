"""`zplan import-dvc` and `zplan import-zenml`: an existing DVC or ZenML pipeline as zplan configuration."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import typer

from zplan.cli import common
from zplan.cli.common import NoColorOpt, opt


def import_dvc(dvc_yaml: Path = typer.Argument(Path("dvc.yaml"), help="The DVC pipeline (default: ./dvc.yaml)."),
               out: Optional[Path] = opt(None, "out", "Write here (default: dvc.zp.hcl next to dvc.yaml)."),
               force: bool = opt(False, "force", "Overwrite the file if it exists."), no_color: bool = NoColorOpt) -> None:
    """Write a DVC pipeline's stages as script steps; print what could not be converted."""
    from zplan.operations.from_dvc import import_dvc as convert

    root = common.root()
    dest, converted = convert(root / dvc_yaml, root / out if out else None, force)
    _report(root, dest, converted.notes)


def import_zenml(pipeline: str = typer.Argument(..., help="MODULE:FUNCTION of the @pipeline, e.g. pipelines.training:training"),
                 out: Optional[Path] = opt(None, "out", "Write here (default: zenml.zp.hcl)."),
                 force: bool = opt(False, "force", "Overwrite the file if it exists."), no_color: bool = NoColorOpt) -> None:
    """Read a ZenML pipeline definition (statically) and write steps pointing at the same functions."""
    from zplan.operations.from_zenml import import_zenml as convert

    root = common.root()
    dest, converted = convert(root, pipeline, root / out if out else None, force)
    _report(root, dest, converted.notes)


def _report(root: Path, dest: Path, notes: list[str]) -> None:
    from zplan.render.console import say

    say(f"wrote {os.path.relpath(dest, root)}", "bold")
    if notes:
        say(f"Not converted ({len(notes)}):")
        for note in notes:
            say(f"  - {note}")
    say("Next: `zplan plan`.")
