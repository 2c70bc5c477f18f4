"""`zplan validate`: every check that needs no state, no cloud and no run.

Config structure (loader), references and cycles (graph), resource blocks
against provider schemas, step sources (parsed statically; imported too with
``-imports``), params and inputs (a dry plan against empty state).
"""

from __future__ import annotations

import importlib
import subprocess
import sys

from zplan import diags
from zplan.operations.opening import ProjectArgs, open_for_reading
from zplan.plan.moves import check_moves
from zplan.plan.planner import Planner, PlanRequest
from zplan.project import Project
from zplan.state.model import State


def validate(args: ProjectArgs, import_modules: bool = False) -> None:
    """Every check that needs no state: raises DiagnosticError listing what is wrong."""
    validate_project(open_for_reading(args), import_modules)  # as Terraform's, it needs no variable values


def validate_project(project: Project, import_modules: bool = False) -> None:
    planner = Planner(project, State())
    planner.plan(PlanRequest())  # resources, references, cycles, sources, step signatures, params, inputs, stack flavors, Beam options
    check_moves(project.config)  # needs no state: a move from what is still declared
    if import_modules:
        _import_steps(project)


def _import_steps(project: Project) -> None:
    """Import each step module in a fresh interpreter, so an ImportError is reported with its file."""
    found = diags.Collector()
    seen: set[str] = set()
    for step in project.config.steps():
        if step.script is not None or step.tfx is not None or step.file in seen:  # script and TFX steps import none of the project's step modules here
            continue
        seen.add(step.file)
        # as its worker imports it: a git module's file or one beside the project has no dotted name
        code = f"from pathlib import Path; from zplan.apply.step_function import import_step_module; import_step_module(Path({str(project.root)!r}), {step.file!r})"
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=project.root)
        if proc.returncode != 0:
            last = (proc.stderr.strip().splitlines() or ["unknown error"])[-1]
            found.error(f"{step.file} does not import: {last}", "install what it needs or fix the import", step.source_range)
    found.raise_if_errors()


__all__ = ["validate", "validate_project", "importlib"]
