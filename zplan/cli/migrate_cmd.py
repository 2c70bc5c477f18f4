"""`zplan import-dvc` and `zplan import-zenml`: an existing DVC or ZenML pipeline as zplan configuration."""

from __future__ import annotations

import os
from pathlib import Path
from typing import List, Optional

import typer

from zplan.cli import common
from zplan.cli.common import NoColorOpt, opt


def import_dvc(dvc_yaml: Optional[List[Path]] = typer.Argument(
                   None, help="The DVC pipeline files (default: ./dvc.yaml and those of its sub-folders, as one graph)."),
               out: Optional[Path] = opt(None, "out", "Write here (default: dvc.zp.hcl next to dvc.yaml, or in the folder holding them all)."),
               force: bool = opt(False, "force", "Overwrite the file if it exists."), no_color: bool = NoColorOpt) -> None:
    """Write a DVC pipeline's stages as script steps; print what could not be converted."""
    from zplan.operations.from_dvc import DEFAULT_OUT, find_dvc_yamls
    from zplan.operations.from_dvc import import_dvc as convert

    root = common.root()
    files = [root / f for f in dvc_yaml] if dvc_yaml else find_dvc_yamls(root)
    dest = root / out if out else None if dvc_yaml else root / DEFAULT_OUT  # found files: in the project, where DVC runs them
    dest, converted = convert(files, dest, force)
    _report(root, dest, converted.notes, converted.places)


def import_zenml(pipeline: str = typer.Argument(..., help="MODULE:FUNCTION of the @pipeline, e.g. pipelines.training:training"),
                 out: Optional[Path] = opt(None, "out", "Write here (default: zenml.zp.hcl)."),
                 force: bool = opt(False, "force", "Overwrite the file if it exists."), no_color: bool = NoColorOpt) -> None:
    """Read a ZenML pipeline definition (statically) and write steps pointing at the same functions."""
    from zplan.operations.from_zenml import import_zenml as convert

    root = common.root()
    dest, converted = convert(root, pipeline, root / out if out else None, force)
    _report(root, dest, converted.notes)


def _report(root: Path, dest: Path, notes: list[str], places: list[str] | None = None) -> None:
    from zplan.render.console import say

    say(f"wrote {os.path.relpath(dest, root)}", "bold")
    if notes:
        say(f"Not converted ({len(notes)}):")
        for i, note in enumerate(notes):
            say(f"  - {places[i]}: {note}" if places and places[i] else f"  - {note}")
    say("Next: `zplan plan`.")
