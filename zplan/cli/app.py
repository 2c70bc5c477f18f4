"""The ``zplan`` command line: each command parses its flags, calls one operation
(``zplan.operations``) and hands the result to a view (``zplan.render``).

Flags follow Terraform's spelling (``-out``, ``-var``, ``-auto-approve``); the
double-dash forms work too. Usage errors exit 1: exit 2 means "changes present"
under ``plan -detailed-exitcode``.
"""

from __future__ import annotations

import copy
import gc
import os
import sys
from pathlib import Path
from typing import List, Optional

# Importing the command line (typer, click, the command modules) makes tens of thousands of
# objects and no garbage: the collector paused meanwhile saves ~40 collections (~4 ms a command).
_COLLECTING = gc.isenabled()
gc.disable()


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

from zplan.cli import common, migrate_cmd, plan_cmd, process, results_cmd, state_cmd, ui_cmd
from zplan.cli.common import LockTimeoutOpt, NoColorOpt, stack_option, opt, project_args

# Help is -help, -h or --help after any command, as Terraform takes it (the command groups' contexts inherit it).
HELP_FLAGS = ["-help", "-h", "--help"]
app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  context_settings={"help_option_names": HELP_FLAGS},
                  help="Plan and apply ML pipelines and the infrastructure they run on.")
stack_app = typer.Typer(no_args_is_help=True, help="List and select stacks.")
runs_app = typer.Typer(invoke_without_command=True, help="Recent runs, and one run in detail.")
app.add_typer(state_cmd.state_app, name="state")
app.add_typer(stack_app, name="stack")
app.add_typer(runs_app, name="runs")
app.add_typer(results_cmd.artifact_app, name="artifact")
runs_app.command("diff")(results_cmd.runs_diff)
app.command("ui")(ui_cmd.ui)
app.command("graph")(ui_cmd.graph)
app.command("import-dvc")(migrate_cmd.import_dvc)
app.command("import-zenml")(migrate_cmd.import_zenml)
app.command("verify")(state_cmd.verify_)
app.command("gc")(state_cmd.gc_)
app.command("force-unlock")(state_cmd.force_unlock)

VarOpt = typer.Option([], "-var", "--var", help="Set a variable: -var NAME=VALUE (repeatable).")
VarFileOpt = typer.Option([], "-var-file", "--var-file", help="Read variables from a .zpvars file, or a YAML/JSON/TOML params file (each top-level key a variable).")
TargetOpt = typer.Option([], "-target", "--target", help="Plan only this address and what it needs.")
ExcludeOpt = typer.Option([], "-exclude", "--exclude", help="Leave this address (and what needs it) out.")
ReplaceOpt = typer.Option([], "-replace", "--replace", help="Force this step to rerun / resource to be replaced.")


@app.callback()
def main_callback(ctx: typer.Context, chdir: Optional[Path] = typer.Option(
        None, "-chdir", "--chdir", help="Switch to this folder first (relative paths in other flags are read from there).")) -> None:
    ctx.obj = common.Invocation(None if chdir is None else common.enter(chdir))


@app.command()
def version(no_color: bool = NoColorOpt) -> None:
    """Show zplan's version, Python's, and the provider plugins installed (also `zplan -version`)."""
    import platform
    from importlib import metadata

    from zplan import __version__
    from zplan.provider import available_providers
    from zplan.render.console import say

    say(f"zplan v{__version__}")
    say(f"on {sys.platform}_{platform.machine()}, Python {platform.python_version()}")
    for name, ep in sorted(available_providers().items()):
        dist = ep.dist
        say(f"+ provider {name}" + (f" ({dist.name} v{dist.version})" if dist is not None else ""))


@app.command()
def init(upgrade: bool = opt(False, "upgrade", "Resolve git module refs again (a moved branch or tag) and update the lock file."), no_color: bool = NoColorOpt) -> None:
    """Prepare the project folder: .zplan/, an example in an empty folder, and the git modules it calls."""
    from zplan.operations import workspace
    from zplan.render.console import say

    created, modules = workspace.init(common.root(), upgrade)
    for path in created:
        say(f"created {path}")
    for line in modules:
        say(f"module {line}")
    from zplan.config.loader import config_files

    if not config_files(common.root()):  # no example where it would overwrite a steps.py: plan would send the user back here
        say("No *.zp.hcl file here, and no example was made (a steps.py exists). "
            "Declare your pipelines in a *.zp.hcl file, then `zplan plan`.", "bold")
        return
    say("zplan is ready. Next: `zplan plan`.", "bold")


@app.command(cls=common.InOrder)
def validate(var: List[str] = VarOpt, var_file: List[Path] = VarFileOpt, stack: Optional[str] = stack_option(),
             import_steps: bool = opt(False, "imports", "Also import every step module (catches ImportError)."), no_color: bool = NoColorOpt) -> None:
    """Check the configuration without touching state or running anything."""
    from zplan.operations.validate import validate
    from zplan.render.console import say

    validate(project_args(stack, var, var_file), import_modules=import_steps)
    say("Success! The configuration is valid.", "bold")


@app.command()
def fmt(check: bool = opt(False, "check", "Only check; exit 3 when a file needs formatting."),
        paths: List[Path] = typer.Argument(None, help="Files (default: every *.zp.hcl here)."), no_color: bool = NoColorOpt) -> None:
    """Rewrite configuration files in the canonical layout."""
    from zplan.operations import workspace
    from zplan.render.console import say

    root = common.root()
    changed = workspace.fmt(root, list(paths or []), check)
    for path in changed:
        say(os.path.relpath(path, root))
    if check and changed:
        raise typer.Exit(3)


@app.command(cls=common.InOrder)
def plan(
    out: Optional[Path] = opt(None, "out", "Save the plan to this file, for `zplan apply FILE`."),
    var: List[str] = VarOpt, var_file: List[Path] = VarFileOpt, stack: Optional[str] = stack_option(),
    target: List[str] = TargetOpt, exclude: List[str] = ExcludeOpt, replace: List[str] = ReplaceOpt,
    destroy: bool = opt(False, "destroy", "Plan to destroy every resource."),
    refresh: Optional[bool] = opt(None, "refresh", "Read resources back from every provider (drift); by default only local ones."),
    detailed_exitcode: bool = opt(False, "detailed-exitcode", "Exit 0 = no changes, 1 = error, 2 = changes."),
    format: str = opt("text", "format", "text | markdown | json"),
    verbose: bool = opt(False, "verbose", "Show unchanged attributes, resources and every cached step."),
    no_checkout: bool = opt(False, "no-checkout", "Plan for `apply -no-checkout`: script steps' outs are not checked out into the project."),
    no_color: bool = NoColorOpt,
) -> None:
    """Show what apply would do, and why."""
    flags = plan_cmd.PlanFlags(common.var_args(var, var_file), stack, list(target), list(exclude), list(replace), out=out,
                               destroy=destroy, refresh=refresh, detailed_exitcode=detailed_exitcode, format=format, verbose=verbose,
                               no_checkout=no_checkout, no_color=no_color)
    code = plan_cmd.run_plan(common.root(), flags)
    if code:
        raise typer.Exit(code)


@app.command(cls=common.InOrder)
def apply(
    planfile: Optional[Path] = typer.Argument(None, help="A plan saved with `zplan plan -out FILE`."),
    auto_approve: bool = opt(False, "auto-approve", "Apply without asking."),
    var: List[str] = VarOpt, var_file: List[Path] = VarFileOpt, stack: Optional[str] = stack_option(),
    target: List[str] = TargetOpt, exclude: List[str] = ExcludeOpt, replace: List[str] = ReplaceOpt,
    parallelism: int = opt(0, "parallelism", "Steps to run at once (default: number of cores)."),
    lock_timeout: str = LockTimeoutOpt,
    refresh: Optional[bool] = opt(None, "refresh", "Read resources back from every provider first."),
    verbose: bool = opt(False, "verbose", "Show the full plan."),
    no_checkout: bool = opt(False, "no-checkout", "Leave script steps' outs in the artifact store (not copied into the project)."), no_color: bool = NoColorOpt,
) -> None:
    """Provision what changed and run only the steps that must run."""
    from zplan.cli import apply_cmd

    flags = apply_cmd.ApplyFlags(common.var_args(var, var_file), stack, list(target), list(exclude), list(replace),
                                 planfile=planfile, auto_approve=auto_approve, parallelism=parallelism, lock_timeout=lock_timeout,
                                 refresh=refresh, verbose=verbose, no_checkout=no_checkout, no_color=no_color)
    code = apply_cmd.run_apply(common.root(), flags)
    if code:
        raise typer.Exit(code)


@app.command(cls=common.InOrder)
def destroy(
    auto_approve: bool = opt(False, "auto-approve", "Destroy without asking."),
    var: List[str] = VarOpt, var_file: List[Path] = VarFileOpt, stack: Optional[str] = stack_option(),
    target: List[str] = TargetOpt, lock_timeout: str = LockTimeoutOpt, no_color: bool = NoColorOpt,
) -> None:
    """Tear down every provisioned resource (or the -target ones and what depends on them)."""
    from zplan.cli import apply_cmd
    from zplan.operations import applying

    if not auto_approve:
        apply_cmd.require_terminal("destroy")
    ui = apply_cmd.ui(auto_approve, False, destroying=True)
    outcome = applying.apply_changes(project_args(stack, var, var_file), applying.Selection(target, destroy=True), ui, 0, lock_timeout)
    code = apply_cmd.report(outcome, destroying=True)
    if code:
        raise typer.Exit(code)


@app.command()
def show(planfile: Optional[Path] = typer.Argument(None), as_json: bool = opt(False, "json", "Machine-readable output."),
         format: Optional[str] = opt(None, "format", "text | markdown | json (default text)"), stack: Optional[str] = stack_option(),
         no_color: bool = NoColorOpt) -> None:
    """Show a saved plan, or the recorded state."""
    from zplan import diags

    if as_json and format not in (None, "json"):  # one of the two would be ignored
        raise diags.fail(f"-json and -format {format} cannot be used together", "-json is -format json: give one of them")
    format = "json" if as_json else format or "text"
    if planfile is not None:
        from zplan.plan import planfile as pf
        from zplan.render.plan_view import print_plan

        if stack is not None:  # a saved plan is shown as made, for the stack it names
            raise diags.fail(f"-stack cannot be used when showing the saved plan {planfile}",
                             "the plan file holds the stack it was made for; leave -stack out (or make a plan with it: zplan plan -stack NAME -out FILE)")
        print_plan(pf.read(planfile)["plan"], format, False)
        return
    from zplan.operations import state_ops
    from zplan.render import state_view

    if format not in ("text", "json"):  # (markdown is a plan's view, not the state's)
        raise diags.fail(f"unknown state format {format!r}", "the recorded state is shown as text or json; markdown is for a saved plan: zplan show -format markdown PLANFILE")
    if format == "json":
        state_view.print_json(state_ops.shown_state_json(project_args(stack)))
        return
    doc, recorded = state_ops.shown_state(project_args(stack))
    state_view.print_state(doc)
    state_view.print_outputs(recorded, quiet_if_none=True)


@app.command(cls=common.InOrder)
def output(name: Optional[str] = typer.Argument(None), as_json: bool = opt(False, "json", "Print as JSON."),
           raw: bool = opt(False, "raw", "Print one string, number or bool output as plain text, without quotes."),
           show_sensitive: bool = opt(False, "show-sensitive", "Print a sensitive output (named) in clear."),
           stack: Optional[str] = stack_option(), var: List[str] = VarOpt, var_file: List[Path] = VarFileOpt, no_color: bool = NoColorOpt) -> None:
    """Print the outputs recorded by the last apply on the stack."""
    from zplan import diags
    from zplan.operations import state_ops
    from zplan.render import state_view

    if raw and as_json:  # as Terraform: -raw prints one value, as plain text
        raise diags.fail("-raw and -json cannot be used together",
                         "zplan output -raw NAME prints one value as plain text; zplan output -json prints them as JSON")
    if name is None and (raw or show_sensitive):  # as Terraform: never the whole list in a form the flag does not give
        flag = "-raw" if raw else "-show-sensitive"
        raise diags.fail(f"{flag} needs an output name", f"give the one output to print: zplan output {flag} NAME")
    args = project_args(stack, var, var_file)  # the stack may read variables (a required one is asked for)
    if name is not None:
        state_view.print_output_value(state_ops.output(args, name, reveal=show_sensitive, raw=raw, as_json=as_json), raw)
    elif as_json:
        state_view.print_outputs_json(state_ops.outputs(args))
    else:
        state_view.print_outputs(state_ops.outputs(args))


@runs_app.callback()
def runs(ctx: typer.Context, limit: int = opt(20, "limit", "How many runs."), stack: Optional[str] = stack_option(), no_color: bool = NoColorOpt) -> None:
    """Recent runs, one line each."""
    if ctx.invoked_subcommand is None:
        from zplan.operations import runs as ops
        from zplan.render.runs_view import print_runs

        print_runs(ops.runs(project_args(stack), limit))


@runs_app.command("show")
def runs_show(run: int = typer.Argument(..., help="Run number."), stack: Optional[str] = stack_option(), no_color: bool = NoColorOpt) -> None:
    """A run's steps, artifacts and timings."""
    from zplan.operations import runs as ops
    from zplan.render.runs_view import print_run

    print_run(ops.run_detail(project_args(stack), run))


@app.command()
def lineage(what: str = typer.Argument(..., help="pipeline.P.step.S[.outputs.O], resource.T.N, an output name, or an artifact id."),
            stack: Optional[str] = stack_option(), no_color: bool = NoColorOpt) -> None:
    """Trace an artifact (or what a resource serves) back to its data snapshots, params, code and git commit."""
    from zplan.operations import runs as ops
    from zplan.render.runs_view import print_lineage

    print_lineage(ops.lineage(project_args(stack), what))


@app.command("import", cls=common.InOrder)
def import_(address: str = typer.Argument(..., help="TYPE.NAME or resource.TYPE.NAME"), id: str = typer.Argument(...),
            lock_timeout: str = LockTimeoutOpt, var: List[str] = VarOpt, var_file: List[Path] = VarFileOpt,
            stack: Optional[str] = stack_option(), no_color: bool = NoColorOpt) -> None:
    """Adopt an existing resource into state."""
    from zplan.cli.apply_cmd import lock_views
    from zplan.operations.importing import import_resource
    from zplan.render.console import say

    added = import_resource(project_args(stack, var, var_file), address, id, lock_timeout, lock_views())
    say(f"Imported {added} (id {id}). Run `zplan plan` to see whether it matches the configuration.", "bold")


@stack_app.command("list")
def stack_list(no_color: bool = NoColorOpt) -> None:
    """Declared stacks; * marks the selected one."""
    from zplan.operations import workspace
    from zplan.render.state_view import echo

    for entry in workspace.stacks(common.root()):
        echo(f"{'*' if entry.selected else ' '} {entry.name}{' (embedded default)' if entry.embedded else ''}")


@stack_app.command("select")
def stack_select(name: str, no_color: bool = NoColorOpt) -> None:
    """Remember NAME as this project's stack."""
    from zplan.operations import workspace
    from zplan.render.console import say

    workspace.select_stack(common.root(), name)
    say(f'Switched to stack "{name}".')


@app.command()
def providers(no_color: bool = NoColorOpt) -> None:
    """Installed provider plugins and their resource types."""
    from zplan.operations import workspace
    from zplan.render.state_view import echo

    for name, types in workspace.providers().items():
        echo(f"{name}: {', '.join(types)}")


@app.command("build-image")
def build_image(stack: Optional[str] = stack_option(), var: List[str] = VarOpt, no_color: bool = NoColorOpt) -> None:
    """Write a Dockerfile for the stack's container_image (the lock file's packages, zplan, the project)."""
    from zplan.operations.image import write_image_files

    files = write_image_files(project_args(stack, var))
    typer.echo(f"Wrote {files.dockerfile} (packages from {files.lock.name}). Build it with:\n  {files.build_command}")


@app.command("run-step", hidden=True)
def run_step(address: str, stack: Optional[str] = stack_option(), var: List[str] = VarOpt,
             task: Optional[str] = typer.Option(None, "-task", help="Run the task at this URL (written by apply)"),
             result: Optional[str] = typer.Option(None, "-result", help="Where to write the task's result"),
             planned_vars: Optional[str] = typer.Option(None, "-planned-vars", help="The variable values the apply planned with (JSON)"),
             planned: Optional[str] = typer.Option(None, "-planned", help="The apply's digests of the step's parts (JSON): refuse to run on a difference"),
             replace: Optional[str] = typer.Option(None, "-replace", help="Rerun the step even if cached (the apply's -replace)"),
             lock_timeout: str = typer.Option("10m", "-lock-timeout", "--lock-timeout", help="How long to wait for the state lock, each time the task takes it."),
             pipeline_run: Optional[str] = typer.Option(None, "-pipeline-run", help="The id of the pipeline run this task is in")) -> None:
    """Run one step (used inside containers by the Kubeflow/Vertex orchestrators and training backends)."""
    if task or result:  # a training backend's job: runs the task, records nothing (the submitting apply does)
        from zplan.apply.backend_task import run_task

        if not (task and result):
            raise typer.BadParameter("-task and -result go together")
        if not run_task(task, result, Path.cwd(), address):
            raise typer.Exit(1)
        return
    from zplan.operations.planning import lock_timeout_seconds
    from zplan.operations.run_step import run_step as run
    from zplan.plan.task_check import read_json_object
    from zplan.render.apply_view import PlainView

    values = read_json_object(planned_vars, "-planned-vars") if planned_vars is not None else None
    digests = read_json_object(planned, "-planned") if planned is not None else None
    if replace is not None and replace != address:
        raise typer.BadParameter(f"-replace names {replace}, not the step this task runs ({address})")
    wait = lock_timeout_seconds(lock_timeout)
    if not run(project_args(stack, var), address, PlainView(), values, digests, replace is not None, wait, pipeline_run or None):
        raise typer.Exit(1)


def main(argv: list[str] | None = None) -> None:
    """The full command line (zplan.cli.launch sends here all but the quick plan and apply): user mistakes
    become messages and exit 1, never tracebacks. Called without ``argv`` it is the process's
    command (the process exits after it); a caller that lives on passes ``argv``."""
    stay = None if argv is None else process.folder_or_none()
    try:
        with process.command_settings(ends_the_process=argv is None):
            _run(argv)
    finally:
        if stay is not None:  # -chdir moved a caller that lives on: back where it was
            os.chdir(stay)


def _run(argv: list[str] | None) -> None:
    import click

    argv = sys.argv[1:] if argv is None else argv
    if list(argv) in (["-version"], ["--version"]):  # as `terraform -version`
        argv = ["version"]
    command = typer.main.get_command(_only_invoked(app, argv))
    made: list[click.Context] = []

    def invoke() -> int:
        try:
            with command.make_context("zplan", list(argv)) as ctx:
                made.append(ctx)
                command.invoke(ctx)
        except click.exceptions.Exit as exc:  # (typer.Exit is click's)
            return exc.exit_code
        except click.UsageError as exc:  # exit 1, never 2: 2 means "changes present" under -detailed-exitcode
            sys.stderr.write(f"Error: {common.usage_message(exc, list(argv))}\n")
            return 1
        except click.ClickException as exc:
            exc.show()
            return 1
        except click.Abort:
            raise KeyboardInterrupt from None
        return 0

    process.run_guarded(invoke, lambda: common.root_or_none(made[0] if made else None))


def _only_invoked(whole: typer.Typer, argv: list[str]) -> typer.Typer:
    """The app trimmed to the command (or command group) that ``argv`` names first.

    typer builds click commands by inspecting every function's signature: ~30 commands cost
    about a tenth of a no-change plan of a small project, which runs one. Anything else (no
    command, ``--help``, a global flag first, a misspelt name) gets the whole app, whose help
    and "no such command" suggestions need every command.
    """
    name = argv[0] if argv else ""
    commands = [c for c in whole.registered_commands if _command_name(c) == name]
    groups = [g for g in whole.registered_groups if g.name == name]
    if not (commands or groups):
        return whole
    trimmed = copy.copy(whole)
    trimmed.registered_commands, trimmed.registered_groups = commands, groups
    return trimmed


def _command_name(info) -> str:
    return info.name or typer.main.get_command_name(info.callback.__name__)


if _COLLECTING:
    gc.enable()  # the module is imported: back to the caller's setting

if __name__ == "__main__":
    main()
