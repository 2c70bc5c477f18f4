"""`apply` and `destroy`: their flags, the review prompt, progress views and the report. Free of the
command-line library (typer only for a prompt), so the quick launch (zplan.cli.launch) and the full
command line (zplan.cli.app) run the very same `apply`."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from zplan import diags
from zplan.cli import plan_cmd, process, quick
from zplan.operations.applying import ApplyOutcome, ApplyUI
from zplan.operations.state_ops import LockViews


@dataclass
class ApplyFlags(quick.SharedFlags):
    """The words of `zplan apply`, named as the command's parameters in zplan.cli.app."""

    planfile: Path | None = None
    auto_approve: bool = False
    parallelism: int = 0
    lock_timeout: str = "0s"
    refresh: bool | None = None
    verbose: bool = False
    no_checkout: bool = False


def run_apply(root: Path, flags: ApplyFlags) -> int:
    """Apply (the saved plan ``flags.planfile`` or a fresh one) and report; the exit code."""
    from zplan.operations import applying
    from zplan.operations.opening import ProjectArgs

    process.no_color(flags.no_color)
    if flags.parallelism < 0:
        raise diags.fail(f"invalid -parallelism {flags.parallelism}", "give the number of steps to run at once (1 or more), or leave it out for one per core")
    ui_ = ui(flags.auto_approve, flags.verbose, destroying=False)
    if flags.planfile is not None:
        files = [v for v in flags.var if isinstance(v, Path)]
        given = {"-var": [v for v in flags.var if isinstance(v, str)], "-var-file": files, "-target": flags.target,
                 "-exclude": flags.exclude, "-replace": flags.replace, "-stack": [flags.stack] if flags.stack is not None else [],
                 "-refresh": [] if flags.refresh is None else [flags.refresh]}
        applying.refuse_inputs_with_planfile(flags.planfile, given)
        outcome = applying.apply_saved_plan(root, flags.planfile, ui_, flags.parallelism, flags.lock_timeout, checkout=not flags.no_checkout)
    else:
        if not flags.auto_approve:
            require_terminal("apply")
        selection = applying.Selection(flags.target, flags.exclude, flags.replace, False, flags.refresh, checkout=not flags.no_checkout)
        args = ProjectArgs(root, list(flags.var), flags.stack)
        memo = plan_cmd.memo_for(root, flags, destroy=False, for_text=False)  # (an apply finding it unchanged has nothing to do)
        outcome = applying.apply_changes(args, selection, ui_, flags.parallelism, flags.lock_timeout, memo)
    process.keep_until_exit(outcome)  # (an apply that ran steps exits the usual way: multiprocessing's exit handler)
    return report(outcome, destroying=False)


def require_terminal(what: str) -> None:
    if not sys.stdin.isatty():
        plan = "zplan plan -destroy -out plan.zplan" if what == "destroy" else "zplan plan -out plan.zplan"  # a plan that destroys
        raise diags.fail(
            f"{what} needs confirmation, but standard input is not a terminal",
            f"pass -auto-approve, or apply a reviewed plan file: {plan} && zplan apply plan.zplan",
        )


def lock_views() -> LockViews:
    from zplan.render.apply_view import LockWaitView, stale_lock_view

    return LockViews(LockWaitView(), stale_lock_view)


def ui(auto_approve: bool, verbose: bool, destroying: bool) -> ApplyUI:
    from zplan.render.apply_view import LockWaitView, stale_lock_view

    def hooks(doc: dict):
        from zplan.render.apply_view import LiveView, PlainView
        from zplan.render.console import is_terminal

        tearing_down = destroying or doc["destroy"]  # a saved `plan -destroy` too
        return LiveView(destroying=tearing_down) if is_terminal() else PlainView(destroying=tearing_down)

    def review(doc: dict) -> bool:
        from zplan.render.plan_view import has_changes, print_plan

        print_plan(doc, "text", verbose)
        if auto_approve or not has_changes(doc):
            return True
        import click  # only to ask: an approved apply never loads the command-line library
        import typer

        question = "destroy these resources" if destroying else "apply these changes"
        try:
            return typer.confirm(f"\nDo you want to {question}?", default=False)
        except click.Abort:  # Ctrl-C or end of input at the prompt: an interruption, whichever reader ran the command
            raise KeyboardInterrupt from None

    return ApplyUI(hooks, review if (not auto_approve or verbose) else None, LockWaitView(), stale_lock_view)


def report(outcome: ApplyOutcome, destroying: bool) -> int:
    """What the user reads after the run (cancelled, nothing to do, failures, outputs); the exit code."""
    from zplan.operations import state_ops
    from zplan.render.apply_view import complete_line
    from zplan.render.console import say
    from zplan.render.plan_view import has_changes
    from zplan.render.state_view import print_outputs

    destroying = destroying or outcome.doc["destroy"]
    if outcome.adopted:
        from zplan.render.apply_view import adopted_view

        adopted_view(outcome.adopted)
    if outcome.cancelled:
        say("Destroy cancelled." if destroying else "Apply cancelled.")
        return 1
    result = outcome.result
    if outcome.checked_out:  # the project folder changed, even when nothing else did: say so
        say(f"Checked out into the project: {', '.join(outcome.checked_out)}")
    if result is None or (not result.changed and not has_changes(outcome.doc)):
        say("No changes. Nothing to destroy." if destroying else "No changes. Nothing to apply.", "bold")
        if result is None and destroying:
            say(complete_line({}, destroying=True))
        if result is None:
            return 0
    if result.interrupted:
        import signal

        what = "Destroy" if destroying else "Apply"
        sys.stderr.write(f"Error: {what} interrupted by {signal.Signals(result.interrupted).name}: what finished is recorded "
                         f"in state; run `zplan {'destroy' if destroying else 'apply'}` again to carry on\n")
        return 128 + result.interrupted
    if not result.ok:
        sys.stderr.write(f"Error: {len(result.failed)} failed: {', '.join(result.failed)}\n")
        return 1
    if not destroying:
        loaded = (outcome.state, outcome.project)
        print_outputs(state_ops.outputs(None, loaded=loaded, lenient=True), quiet_if_none=True)
    return 0


# -- the quick reading (zplan.cli.launch) ----------------------------------------------------------
GRAMMAR = quick.Grammar(
    switches={**quick.SHARED_SWITCHES, "auto-approve": "auto_approve", "refresh": "refresh", "verbose": "verbose", "no-checkout": "no_checkout"},
    valued={**quick.SHARED_VALUED, "parallelism": "parallelism", "lock-timeout": "lock_timeout"},
    paths=quick.SHARED_PATHS | {"planfile"},
    lists=quick.SHARED_LISTS,
    numbers=frozenset({"parallelism"}),
    positional="planfile",
)


def quick_flags(words: list[str]) -> ApplyFlags | None:
    """The flags of ``apply WORDS...`` when each word is a usual flag in a plain form (or the
    saved plan), else None (the full command line reads them, and reports any mistake)."""
    found = quick.read(words, GRAMMAR)
    return None if found is None else ApplyFlags(**found)
