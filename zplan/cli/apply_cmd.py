"""The interactive half of `apply` and `destroy`: the review prompt, progress views, the report."""

from __future__ import annotations

import sys

import typer

from zplan.operations.applying import ApplyOutcome, ApplyUI
from zplan.operations.state_ops import LockViews


def lock_views() -> LockViews:
    from zplan.render.apply_view import lock_wait_view, stale_lock_view

    return LockViews(lock_wait_view, stale_lock_view)


def ui(auto_approve: bool, verbose: bool, destroying: bool) -> ApplyUI:
    from zplan.render.apply_view import lock_wait_view, stale_lock_view

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
        question = "destroy these resources" if destroying else "apply these changes"
        return typer.confirm(f"\nDo you want to {question}?", default=False)

    return ApplyUI(hooks, review if (not auto_approve or verbose) else None, lock_wait_view, stale_lock_view)


def report(outcome: ApplyOutcome, destroying: bool) -> None:
    """What the user reads after the run: cancelled, nothing to do, failures, outputs."""
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
        raise typer.Exit(1)
    result = outcome.result
    if result is None or (not result.changed and not has_changes(outcome.doc)):
        say("No changes. Nothing to destroy." if destroying else "No changes. Nothing to apply.", "bold")
        if result is None and destroying:
            say(complete_line({}, destroying=True))
        if result is None:
            return
    if result.interrupted:
        import signal

        what = "Destroy" if destroying else "Apply"
        sys.stderr.write(f"Error: {what} interrupted by {signal.Signals(result.interrupted).name}: what finished is recorded "
                         f"in state; run `zplan {'destroy' if destroying else 'apply'}` again to carry on\n")
        raise typer.Exit(128 + result.interrupted)
    if not result.ok:
        sys.stderr.write(f"Error: {len(result.failed)} failed: {', '.join(result.failed)}\n")
        raise typer.Exit(1)
    if not destroying:
        loaded = (outcome.state, outcome.project)
        print_outputs(state_ops.outputs(None, loaded=loaded), quiet_if_none=True)
