"""The ``zplan`` command line: each command parses, calls the core, and prints.

Flags follow Terraform's spelling (``-out``, ``-var``, ``-auto-approve``); the
double-dash forms work too.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import List, Optional


def _import_typer():
    """Import typer without its rich help formatter.

    typer renders help through rich when it can import it, which costs ~0.2 s on
    every command, `plan` included; zplan's own output still uses rich.
    """
    saved = sys.modules.get("rich", ...)
    sys.modules["rich"] = None  # makes `import rich` inside typer fail
    try:
        import typer
    finally:
        if saved is ...:
            del sys.modules["rich"]
        else:
            sys.modules["rich"] = saved
    return typer


typer = _import_typer()

from zplan import diags
from zplan.cli import common
from zplan.cli.common import CHDIR, opt

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Plan and apply ML pipelines and the infrastructure they run on.")
state_app = typer.Typer(no_args_is_help=True, help="Inspect and edit recorded resource state.")
stack_app = typer.Typer(no_args_is_help=True, help="List and select stacks.")
runs_app = typer.Typer(invoke_without_command=True, help="Recent runs, and one run in detail.")
app.add_typer(state_app, name="state")
app.add_typer(stack_app, name="stack")
app.add_typer(runs_app, name="runs")

VarOpt = typer.Option([], "-var", "--var", help="Set a variable: -var NAME=VALUE (repeatable).")
VarFileOpt = typer.Option([], "-var-file", "--var-file", help="Read variables from a .zpvars file.")
StackOpt = typer.Option(None, "-stack", "--stack", help="Use this stack instead of the selected one.")
TargetOpt = typer.Option([], "-target", "--target", help="Plan only this address and what it needs.")
ExcludeOpt = typer.Option([], "-exclude", "--exclude", help="Leave this address (and what needs it) out.")
LockTimeoutOpt = typer.Option("0s", "-lock-timeout", "--lock-timeout", help="How long to wait for the state lock.")


@app.callback()
def main_callback(chdir: Optional[Path] = typer.Option(None, "-chdir", "--chdir", help="Run in this folder.")) -> None:
    CHDIR["path"] = chdir


@app.command()
def init(stack: Optional[str] = StackOpt) -> None:
    """Prepare the project folder: .zplan/ and, in an empty folder, an example."""
    from zplan.cli import scaffold

    root = common.root()
    created = scaffold.init(root)
    for path in created:
        common.say(f"created {path}")
    common.say("zplan is ready. Next: `zplan plan`.", "bold")


@app.command()
def validate(var: List[str] = VarOpt, var_file: List[Path] = VarFileOpt, stack: Optional[str] = StackOpt,
             import_steps: bool = opt(False, "imports", "Also import every step module (catches ImportError).")) -> None:
    """Check the configuration without touching state or running anything."""
    from zplan.validate import validate_project

    project = common.open_project(var, var_file, stack)
    validate_project(project, import_modules=import_steps)
    common.say("Success! The configuration is valid.", "bold")


@app.command()
def fmt(check: bool = opt(False, "check", "Only check; exit 3 when a file needs formatting."),
        paths: List[Path] = typer.Argument(None, help="Files (default: every *.zp.hcl here).")) -> None:
    """Rewrite configuration files in the canonical layout."""
    from zplan.config.fmt import format_text
    from zplan.config.loader import config_files
    from zplan.fsutil import atomic_write_text

    files = paths or config_files(common.root())
    changed = []
    for path in files:
        text = path.read_text(encoding="utf-8")
        formatted = format_text(text, str(path))
        if formatted != text:
            changed.append(path)
            if not check:
                atomic_write_text(path, formatted)
        if formatted != text:
            common.say(os.path.relpath(path, common.root()))
    if check and changed:
        raise typer.Exit(3)


@app.command()
def plan(
    out: Optional[Path] = opt(None, "out", "Save the plan to this file, for `zplan apply FILE`."),
    var: List[str] = VarOpt, var_file: List[Path] = VarFileOpt, stack: Optional[str] = StackOpt,
    target: List[str] = TargetOpt, exclude: List[str] = ExcludeOpt,
    replace: List[str] = opt([], "replace", "Force this step to rerun / resource to be replaced."),
    destroy: bool = opt(False, "destroy", "Plan to destroy every resource."),
    refresh: Optional[bool] = opt(None, "refresh", "Read resources back from every provider (drift); by default only local ones."),
    detailed_exitcode: bool = opt(False, "detailed-exitcode", "Exit 0 = no changes, 1 = error, 2 = changes."),
    format: str = opt("text", "format", "text | markdown | json"),
    verbose: bool = opt(False, "verbose", "Show unchanged attributes, resources and every cached step."),
) -> None:
    """Show what apply would do, and why."""
    from zplan import operations
    from zplan.plan.jsonplan import has_changes, to_json
    from zplan.plan.planner import PlanRequest

    project = common.open_project(var, var_file, stack)
    backend = project.state_backend()
    planned = operations.make_plan(project, backend, PlanRequest(target, exclude, replace, destroy), refresh)
    doc = to_json(planned.plan)
    if out is not None:
        common.save_planfile(out, planned, project)
    common.print_plan(doc, format, verbose)
    if out is not None:
        note = f"Saved the plan to {out}. Apply exactly this plan with: zplan apply {out}"
        # markdown and json go to files and pipes (plan.md, jq): keep the note out of them
        common.say("\n" + note, "dim") if format == "text" else sys.stderr.write(note + "\n")
    if detailed_exitcode and has_changes(doc):
        raise typer.Exit(2)


@app.command()
def apply(
    planfile: Optional[Path] = typer.Argument(None, help="A plan saved with `zplan plan -out FILE`."),
    auto_approve: bool = opt(False, "auto-approve", "Apply without asking."),
    var: List[str] = VarOpt, var_file: List[Path] = VarFileOpt, stack: Optional[str] = StackOpt,
    target: List[str] = TargetOpt, exclude: List[str] = ExcludeOpt,
    replace: List[str] = opt([], "replace", "Force this step to rerun / resource to be replaced."),
    parallelism: int = opt(0, "parallelism", "Steps to run at once (default: number of cores)."),
    lock_timeout: str = LockTimeoutOpt,
    refresh: Optional[bool] = opt(None, "refresh", "Read resources back from every provider first."),
    verbose: bool = opt(False, "verbose", "Show the full plan."),
) -> None:
    """Provision what changed and run only the steps that must run."""
    common.run_apply(planfile, auto_approve, var, var_file, stack, target, exclude, replace, parallelism, lock_timeout, refresh, verbose, destroy=False)


@app.command()
def destroy(
    auto_approve: bool = opt(False, "auto-approve", "Destroy without asking."),
    var: List[str] = VarOpt, var_file: List[Path] = VarFileOpt, stack: Optional[str] = StackOpt,
    target: List[str] = TargetOpt, lock_timeout: str = LockTimeoutOpt,
) -> None:
    """Tear down every provisioned resource (or the -target ones and what depends on them)."""
    common.run_apply(None, auto_approve, var, var_file, stack, target, [], [], 0, lock_timeout, None, False, destroy=True)


@app.command()
def show(planfile: Optional[Path] = typer.Argument(None), as_json: bool = opt(False, "json", "Machine-readable output."),
         format: str = opt("text", "format", "text | markdown | json")) -> None:
    """Show a saved plan, or the recorded state."""
    if planfile is not None:
        doc = common.read_planfile(planfile)["plan"]
        common.print_plan(doc, "json" if as_json else format, False)
        return
    project = common.open_project([], [], None)
    from zplan.state.model import State
    from zplan.state.views import state_json

    doc = state_json(State(project.state_backend().read()), project)
    if as_json:
        common.echo(json.dumps(doc, indent=2, sort_keys=True))
    else:
        common.print_state(doc)


@app.command()
def output(name: Optional[str] = typer.Argument(None), as_json: bool = opt(False, "json", "Print as JSON."),
           raw: bool = opt(False, "raw", "Print a single string output without quotes."), stack: Optional[str] = StackOpt) -> None:
    """Print the outputs recorded by the last apply on the stack."""
    common.print_outputs(name, as_json, raw, stack=stack)


@runs_app.callback()
def runs(ctx: typer.Context, limit: int = opt(20, "limit", "How many runs."), stack: Optional[str] = StackOpt) -> None:
    """Recent runs, one line each."""
    if ctx.invoked_subcommand is None:
        common.print_runs(limit, stack)


@runs_app.command("show")
def runs_show(run: int = typer.Argument(..., help="Run number."), stack: Optional[str] = StackOpt) -> None:
    """A run's steps, artifacts and timings."""
    common.print_run(run, stack)


@app.command()
def lineage(what: str = typer.Argument(..., help="pipeline.P.step.S[.outputs.O], an output name, or an artifact id."),
            stack: Optional[str] = StackOpt) -> None:
    """Trace an artifact back to its data snapshots, params, code and git commit."""
    common.print_lineage(what, stack)


@state_app.command("list")
def state_list() -> None:
    """Every resource (and step) address recorded in state."""
    common.state_list()


@state_app.command("show")
def state_show(address: str) -> None:
    """One recorded resource or step, attributes included (sensitive ones hidden)."""
    common.state_show(address)


@state_app.command("rm")
def state_rm(address: str, lock_timeout: str = LockTimeoutOpt) -> None:
    """Forget a resource without destroying it."""
    common.state_rm(address, lock_timeout)


@app.command("import")
def import_(address: str = typer.Argument(..., help="TYPE.NAME or resource.TYPE.NAME"), id: str = typer.Argument(...),
            lock_timeout: str = LockTimeoutOpt) -> None:
    """Adopt an existing resource into state."""
    common.import_resource(address, id, lock_timeout)


@app.command("verify")
def verify_(
    repair: bool = opt(False, "repair", "Drop damaged artifacts and their cache entries, so the next apply reruns their steps."),
    stack: Optional[str] = StackOpt, lock_timeout: str = LockTimeoutOpt,
) -> None:
    """Read back every artifact state refers to and check it against its digest."""
    if not common.verify_artifacts(repair, stack, lock_timeout):
        raise typer.Exit(1)


@app.command("force-unlock")
def force_unlock(lock_id: str, force: bool = opt(False, "force", "Do not ask.")) -> None:
    """Release a lock left by a holder that will not come back."""
    common.force_unlock(lock_id, force)


@stack_app.command("list")
def stack_list() -> None:
    """Declared stacks; * marks the selected one."""
    common.stack_list()


@stack_app.command("select")
def stack_select(name: str) -> None:
    """Remember NAME as this project's stack."""
    common.stack_select(name)


@app.command()
def providers() -> None:
    """Installed provider plugins and their resource types."""
    common.list_providers()


@app.command("run-step", hidden=True)
def run_step(address: str, stack: Optional[str] = StackOpt, var: List[str] = VarOpt) -> None:
    """Run one step (used inside containers by the Kubeflow/Vertex orchestrators)."""
    common.run_single_step(address, stack, var)


def main() -> None:
    """Console entry point: user mistakes become messages and exit 1, never tracebacks."""
    try:
        code = app(standalone_mode=False, prog_name="zplan")
        sys.exit(code if isinstance(code, int) else 0)
    except diags.DiagnosticError as exc:
        from zplan.render.console import print_diagnostics

        print_diagnostics(exc.diagnostics, common.root_or_none())
        sys.exit(1)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except common.click_errors() as exc:
        exc.show()
        sys.exit(exc.exit_code if hasattr(exc, "exit_code") else 1)
    except KeyboardInterrupt:
        sys.stderr.write("Interrupted.\n")
        sys.exit(130)
    except Exception as exc:  # the project's own bugs: show them plainly, but still exit 1
        from zplan.state.backend import StateLockedError

        if isinstance(exc, StateLockedError):
            sys.stderr.write(f"Error: {exc}\n  another zplan command holds the lock; wait (-lock-timeout 5m) or, if its holder is gone for good, run `zplan force-unlock {exc.holder.id if exc.holder else 'ID'}`\n")
            sys.exit(1)
        if os.environ.get("ZPLAN_DEBUG"):
            raise
        sys.stderr.write(f"Error: internal error: {type(exc).__name__}: {exc}\n  (set ZPLAN_DEBUG=1 for the traceback and please report it)\n")
        sys.exit(1)


if __name__ == "__main__":
    main()
