"""`zplan plan`: its flags as one value, what the command does with them, and the quick reading
of its usual flags. Free of the command-line library, so the quick launch (zplan.cli.launch) and
the full command line (zplan.cli.app) run the very same command."""

from __future__ import annotations

import gc
from dataclasses import dataclass
from pathlib import Path

from zplan import diags
from zplan.cli import process, quick

FORMATS = ("text", "markdown", "json")


@dataclass
class PlanFlags(quick.SharedFlags):
    """The flags of `zplan plan`, named as the command's parameters in zplan.cli.app."""

    out: Path | None = None
    destroy: bool = False
    refresh: bool | None = None
    detailed_exitcode: bool = False
    format: str = "text"
    verbose: bool = False
    no_checkout: bool = False  # plan for `apply -no-checkout`: no script out is listed as checked out again


def run_plan(root: Path, flags: PlanFlags) -> int:
    """Plan, print the plan and return the exit code: 2 for changes under -detailed-exitcode, else 0."""
    # The collector paused for the whole command (its imports too), not just while the configuration,
    # the state and the plan are built: each collection in between rescanned what those left (~7 % of
    # a 20,000-step plan's CPU). A caller living on gets it back when the command returns, and the
    # next collection frees what the plan left; the `zplan` process itself ends with the command, so
    # it leaves the collector off rather than have it scan millions of objects just before exiting
    # (~4 % more).
    if process.ends_the_process():
        gc.disable()  # (collector.paused leaves an outer pause alone)
    from zplan.operations import plan_memo
    from zplan.render.plan_view import has_changes, print_plan, print_saved_note
    from zplan.state import collector

    process.no_color(flags.no_color)
    if flags.format not in FORMATS:
        raise diags.fail(f"unknown plan format {flags.format!r}", "use text, markdown or json")
    memo = memo_for(root, flags, flags.destroy, flags.format == "text") if flags.out is None else None
    with collector.paused():
        doc = memo.lookup() if memo is not None else None  # (the planning modules are not even imported then)
        if doc is None or plan_memo.mode() == "verify":
            outcome = _plan(root, flags, memo if doc is None else None)
            doc = outcome.doc if doc is None else plan_memo.verified(doc, lambda: outcome.doc)
            process.keep_until_exit(outcome)
            adopted = outcome.adopted
        else:
            adopted = []
        print_plan(doc, flags.format, flags.verbose)
    if adopted:
        from zplan.render.apply_view import adopted_view

        adopted_view(adopted)
    if flags.out is not None:
        print_saved_note(flags.out, flags.format)
    return 2 if flags.detailed_exitcode and has_changes(doc) else 0


def memo_for(root: Path, flags, destroy: bool, for_text: bool):
    """The kept plan of these flags (``zplan.operations.plan_memo``), for `plan` and for `apply` (which plans as
    `plan -format json` does, so both name one record alike); None for a plan reading back the clouds (-refresh)."""
    from zplan.operations import plan_memo

    if flags.refresh is True:
        return None
    selection = (flags.target, flags.exclude, flags.replace, destroy, flags.refresh, flags.no_checkout)
    return plan_memo.for_plan(root, flags.var, flags.stack, selection, for_text)


def _plan(root: Path, flags: PlanFlags, memo):
    from zplan.operations import applying
    from zplan.operations.opening import ProjectArgs

    selection = applying.Selection(flags.target, flags.exclude, flags.replace, flags.destroy, flags.refresh, checkout=not flags.no_checkout)
    return applying.plan(ProjectArgs(root, list(flags.var), flags.stack), selection, flags.out, for_text=flags.format == "text", memo=memo)


# -- the quick reading (zplan.cli.launch) ----------------------------------------------------------
GRAMMAR = quick.Grammar(
    switches={**quick.SHARED_SWITCHES, "detailed-exitcode": "detailed_exitcode", "destroy": "destroy", "verbose": "verbose", "refresh": "refresh",
              "no-checkout": "no_checkout"},
    valued={**quick.SHARED_VALUED, "out": "out", "format": "format"},
    paths=quick.SHARED_PATHS | {"out"},
    lists=quick.SHARED_LISTS,
)


def quick_flags(words: list[str]) -> PlanFlags | None:
    """The flags of ``plan WORDS...`` when each word is one of its usual flags in a plain form,
    else None (the full command line reads them, and reports any mistake)."""
    found = quick.read(words, GRAMMAR)
    return None if found is None else PlanFlags(**found)
