"""`zplan state list|show|rm|push`, `zplan force-unlock`, `zplan verify` and `zplan gc`: looking after
recorded state and the artifact store, each through one operation in ``zplan.operations``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import List, Optional

import typer

from zplan.cli.common import LockTimeoutOpt, NoColorOpt, opt, project_args, stack_option

state_app = typer.Typer(no_args_is_help=True, help="Inspect and edit recorded resource state.")


@state_app.command("list")
def state_list(stack: Optional[str] = stack_option(), no_color: bool = NoColorOpt) -> None:
    """Every resource and step address recorded in state for the stack."""
    from zplan.operations import state_ops
    from zplan.render.state_view import print_addresses

    print_addresses(state_ops.state_addresses(project_args(stack)))


@state_app.command("show")
def state_show(address: str, stack: Optional[str] = stack_option(), no_color: bool = NoColorOpt) -> None:
    """One recorded resource or step, attributes included (sensitive ones hidden)."""
    from zplan.operations import state_ops
    from zplan.render.state_view import print_json

    print_json(state_ops.state_item(project_args(stack), address))


@state_app.command("rm")
def state_rm(address: str, lock_timeout: str = LockTimeoutOpt, stack: Optional[str] = stack_option(), no_color: bool = NoColorOpt) -> None:
    """Forget a resource (every instance or every resource of a module) without destroying it (a step: rerun it with `zplan apply -replace ADDRESS`)."""
    from zplan.cli.apply_cmd import lock_views
    from zplan.operations import state_ops
    from zplan.render.console import say

    removed = state_ops.state_rm(project_args(stack), address, lock_timeout, lock_views())
    for resource in removed:
        say(f"Removed {resource} from state (the resource itself was left as it is).")


def verify_(
    repair: bool = opt(False, "repair", "Drop damaged artifacts and their cache entries, so the next apply reruns their steps."),
    stack: Optional[str] = stack_option(), lock_timeout: str = LockTimeoutOpt, no_color: bool = NoColorOpt,
) -> None:
    """Read back every artifact state refers to and check it against its digest."""
    from zplan.cli.apply_cmd import lock_views
    from zplan.operations.verify import verify_artifacts
    from zplan.render.state_view import print_verify_report

    report = verify_artifacts(project_args(stack), repair, lock_timeout, lock_views())
    print_verify_report(report, repair)
    if (report.problems and not repair) or report.not_deleted:
        raise typer.Exit(1)


def gc_(
    keep_runs: Optional[int] = opt(None, "keep-runs", "Keep the artifacts of the stack's N newest runs too (default: of every run)."),
    dry_run: bool = opt(False, "dry-run", "List what would be removed and the bytes freed; change nothing."),
    ignore_stack: List[str] = opt([], "ignore-stack", "Another stack on the same artifact store whose records are not read: what only it refers to goes."),
    grace: str = opt("24h", "grace", "Keep what was stored more recently than this, referred to or not: a running pipeline may be about to record it (0: keep nothing for that)."),
    stack: Optional[str] = stack_option(), lock_timeout: str = LockTimeoutOpt, no_color: bool = NoColorOpt,
) -> None:
    """Remove artifacts that no kept run, output, cache entry or deployed resource of any stack on the store refers to, stored longer ago than -grace."""
    from zplan.cli.apply_cmd import lock_views
    from zplan.operations.gc import collect_garbage
    from zplan.render.gc_view import print_gc_report

    report = collect_garbage(project_args(stack), keep_runs, dry_run, lock_timeout, lock_views(), tuple(ignore_stack), grace)
    print_gc_report(report)
    if report.not_removed:
        raise typer.Exit(1)


def force_unlock(lock_id: str, force: bool = opt(False, "force", "Do not ask."), stack: Optional[str] = stack_option(), no_color: bool = NoColorOpt) -> None:
    """Release a lock left by a holder that will not come back."""
    from zplan.operations import state_ops
    from zplan.render.console import say

    ask = None
    if not force and sys.stdin.isatty():
        ask = lambda: typer.confirm(f"Release lock {lock_id}? Only do this if its holder is gone.", default=False)  # noqa: E731
    if not state_ops.force_unlock(project_args(stack), lock_id, ask):
        raise typer.Exit(1)
    say("The state lock was released.")


@state_app.command("push")
def state_push(path: str = typer.Argument(..., help="A state file (errored.state.json, state.json.backup), or - to read it from stdin."),
               force: bool = opt(False, "force", "Push it even if its lineage differs or the stored state is newer (what only that records is forgotten)."),
               lock_timeout: str = LockTimeoutOpt, stack: Optional[str] = stack_option(), no_color: bool = NoColorOpt) -> None:
    """Replace the stored state with a state file, as `terraform state push` (put errored.state.json back)."""
    from zplan.cli.apply_cmd import lock_views
    from zplan.operations import state_ops
    from zplan.render.console import say

    source, raw = _read_pushed(path)
    pushed = state_ops.state_push(project_args(stack), source, raw, force, lock_timeout, lock_views())
    say(f"Pushed {source}: the state is now serial {pushed.serial}." if pushed.written else f"The stored state already holds what {source} holds: nothing was written.")


def _read_pushed(path: str) -> tuple[str, bytes]:
    """Where the pushed state comes from (as messages name it) and its bytes."""
    from zplan import diags

    if path == "-":
        return "the state read from stdin", sys.stdin.buffer.read()
    try:
        return path, Path(path).read_bytes()
    except OSError as exc:
        raise diags.fail(f"cannot read {path}: {exc.strerror or exc}", "give the path of a state file, or - to read it from stdin") from None
