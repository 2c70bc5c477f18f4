"""Opening a project for a command: from flags, or exactly as a saved plan recorded it."""

from __future__ import annotations

import os

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from zplan import diags
from zplan.config.variables import CommandLineVar
from zplan.project import STATE_DIR, Options, Project

if TYPE_CHECKING:
    from zplan.provider import ProviderRegistry


@dataclass(frozen=True)
class ProjectArgs:
    """What every command that reads a project may be given: the folder, variables and stack."""

    root: Path
    vars: list[CommandLineVar] = field(default_factory=list)  # every -var (text) and -var-file (a Path), in order
    stack: str | None = None
    registry: "ProviderRegistry | None" = None  # the installed plugins unless given (tests, embedding)


def open_project(args: ProjectArgs) -> Project:
    options = Options(vars=list(args.vars), stack=args.stack)
    return Project.open(args.root, options, args.registry)


def open_for_reading(args: ProjectArgs) -> Project:
    """The project for a command that only reads what was recorded (state, runs, artifacts):
    as Terraform's state commands, it needs no value for a variable the stack's stores do not read."""
    options = Options(vars=list(args.vars), stack=args.stack, reading=True)
    return Project.open(args.root, options, args.registry)


def open_for_saved_plan(root: Path, saved: dict, registry: "ProviderRegistry | None" = None) -> Project:
    """The project with the saved plan's variable values, typed as they were planned.

    Plan files never hold sensitive values: those are read again from their usual
    sources (``ZPLAN_VAR_name``, ``zplan.zpvars``) and must equal the planned ones.
    """
    from zplan.config import loader, variables
    from zplan.plan.planfile import changed_sensitive
    from zplan.provider import ProviderRegistry
    from zplan.stack import select

    root = root.resolve()
    config = loader.load(root)
    sensitive = sorted(saved.get("sensitive_digests", {}))
    try:
        values = variables.resolve(config, fixed=saved["variables"])
    except diags.DiagnosticError as exc:
        missing = [n for n in sensitive if any(f'"{n}"' in d.summary for d in exc.diagnostics)]
        if missing:
            raise _resupply(missing) from None
        raise
    changed = changed_sensitive(saved, values)
    if changed:  # (given in the environment, it was given wrong; else it may come from a default or a vars file)
        given = all(variables_env(n) in os.environ for n in changed)
        raise _resupply(changed, "differs from the one the plan was made with" if given else "is not given now, or not as planned")
    stack = select.selected_name(config, root / STATE_DIR, saved["plan"]["stack"])
    return Project(root, config, values, stack, registry or ProviderRegistry())


def _resupply(names: list[str], problem: str = "is not given now") -> diags.DiagnosticError:
    listed = ", ".join(f'"{n}"' for n in names)
    env = " and ".join(f"{variables_env(n)}" for n in names)
    return diags.fail(
        f"the value of sensitive variable {listed} {problem}",
        f"plan files never hold sensitive values: pass the same value again in the environment ({env}=...), "
        "then apply the plan file (-var is refused with a plan file)",
    )


def variables_env(name: str) -> str:
    from zplan.config.variables import ENV_PREFIX

    return ENV_PREFIX + name
