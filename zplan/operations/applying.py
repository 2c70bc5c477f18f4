"""`plan -out`, `apply [PLANFILE]` and `destroy`: plan under the lock, review, apply, report.

A saved plan is applied exactly or refused: its variables (typed), stack and
selection are the only inputs, and ``planfile.check`` refuses it when state,
configuration, code or data moved on since it was made.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from zplan import diags
from zplan.apply import early_pool, forkserver_early
from zplan.operations import plan_memo
from zplan.operations.opening import ProjectArgs, open_for_saved_plan, open_project
from zplan.operations.planning import Planned, apply, lock_timeout_seconds, make_plan, record_unchanged
from zplan.plan.jsonplan import has_changes, to_json
from zplan.plan.planner import PlanRequest
from zplan.project import Project, ensure_state_dir

if TYPE_CHECKING:
    from zplan.apply.applier import ApplyResult
    from zplan.hooks import Hooks
    from zplan.provider import ProviderRegistry


@dataclass
class Selection:
    """The plan's selection flags: -target, -exclude, -replace, -destroy, -refresh, -no-checkout."""

    targets: list[str] = field(default_factory=list)
    excludes: list[str] = field(default_factory=list)
    replace: list[str] = field(default_factory=list)
    destroy: bool = False
    refresh: bool | None = None
    checkout: bool = True  # script steps' outs copied into the workspace after apply (-no-checkout: not)

    def request(self) -> PlanRequest:
        return PlanRequest(list(self.targets), list(self.excludes), list(self.replace), self.destroy, checkout=self.checkout)


@dataclass
class PlanOutcome:
    """What `zplan plan` shows: the JSON plan, and resources adopted from a killed apply."""

    doc: dict  # the JSON plan, what every view renders
    project: Project
    saved_to: Path | None = None
    adopted: list[str] = field(default_factory=list)  # resources a killed apply left unrecorded
    planned: Planned | None = None  # the plan, its planner and state
    checked_out: list[str] = field(default_factory=list)  # script outs written into the project folder


@dataclass
class ApplyUI:
    """How the operation reaches the user: the progress hooks, the plan review (None when
    approved in advance) and what to say while waiting for the lock."""

    hooks: Callable[[dict], "Hooks"]  # given the JSON plan about to be applied
    review: Callable[[dict], bool] | None = None
    on_lock_wait: Callable[[Any, float], None] | None = None
    on_stale_lock: Callable[[Any], None] | None = None


@dataclass
class ApplyOutcome:
    """What an apply did: the plan it applied and the result (None when nothing was applied)."""

    doc: dict
    project: Project
    state: Any = None
    result: "ApplyResult | None" = None  # None: nothing to apply, or cancelled
    cancelled: bool = False
    adopted: list[str] = field(default_factory=list)  # resources a killed apply left unrecorded
    planned: Planned | None = None  # the plan, its planner and state
    checked_out: list[str] = field(default_factory=list)  # script outs written into the project folder

    @property
    def ok(self) -> bool:
        return self.result is None or self.result.ok


def plan(args: ProjectArgs, selection: Selection, out: Path | None = None, for_text: bool = False,
         memo: "plan_memo.Memo | None" = None) -> PlanOutcome:
    """``for_text``: the plan is printed as text, which shows a cached step by its address and run alone
    (``to_json``'s ``cached_in_brief``); ``memo``: what the plan reads is recorded, and a plan with nothing
    to do is kept there (``zplan.operations.plan_memo``; `zplan plan` looks it up first)."""
    if out is not None:
        _check_plan_folder(out)  # before the plan is made: refused at once
    with plan_memo.recording(memo):
        project = open_project(args)
        planned = make_plan(project, project.state_backend(), selection.request(), selection.refresh)
        doc = to_json(planned.plan, cached_in_brief=for_text)
    if out is not None:
        save_planfile(out, planned, project)
    elif memo is not None and args.registry is None and not planned.adopted:
        memo.keep(doc, project.secrets, has_changes(doc))
    return PlanOutcome(doc, project, out, planned.adopted, planned)


def save_planfile(out: Path, planned: Planned, project: Project) -> None:
    from zplan.config.fingerprint import fingerprints
    from zplan.plan import planfile

    from zplan.secrets import holds_secret

    _check_plan_path(out, project)
    _check_not_an_input(out, planned, project)
    sensitive = {n for n, v in project.config.variables.items() if v.sensitive}
    # secrets are known by value: a variable given to sensitive() is kept out of the file as a sensitive one
    sensitive |= {n for n, value in project.variables.items() if holds_secret(value, project.secrets)}
    try:
        planfile.write(out, planned.plan, project.variables, sensitive, fingerprints(project.root, project.config.files, project.config.read_files),
                       planned.planner.stack_settings, _provider_settings(planned, project))
    except OSError as exc:
        raise diags.fail(f"cannot write the plan file {out}: {exc.strerror or exc}", "give -out a path zplan may write, such as plan.zplan") from None


def _check_plan_path(out: Path, project: Project) -> None:
    """-out names a new file or an old plan: never a folder, nor a file the configuration is read from
    (`-out main.zp.hcl` would replace the project's own configuration with the plan)."""
    _check_plan_folder(out)
    target = out.resolve()
    if any(target == f.resolve() for f in (*project.config.files, *project.config.read_files)):
        raise diags.fail(f"-out {out} is a file the configuration is read from: the plan would replace it",
                         "give the plan a file of its own: -out plan.zplan")
    if project.state_dir.resolve() in target.parents:  # (state.json, its key, the metadata: none has a backup to restore)
        raise diags.fail(f"-out {out} is inside the state folder {project.state_dir.name}: the plan would replace what zplan keeps there",
                         "give the plan a file of its own outside it: -out plan.zplan")


def _check_not_an_input(out: Path, planned: Planned, project: Project) -> None:
    """-out never names a step's data input or a script step's out, nor a file inside one: the plan would
    replace the data, change the folder or an out apply checks out, and its own apply would refuse it as stale."""
    from zplan.plan.model import DataInput
    from zplan.secrets import redact

    target = out.resolve()

    def holds(path: str) -> bool:
        return target == (where := (project.root / path).resolve()) or where in target.parents

    for step in planned.plan.steps:
        for name, spec in step.inputs.items():
            if isinstance(spec, DataInput) and holds(spec.path):
                raise diags.fail(f"-out {out} is the data input {name} of {step.address}, or inside it: the plan would change it "
                                 f"({redact(spec.path, planned.plan.secrets)})", "give the plan a file of its own outside it: -out plan.zplan")
        script = getattr(project.config.step(step.address), "script", None)
        for path in script.outputs if script is not None else ():
            if holds(path):
                raise diags.fail(f"-out {out} is the out {redact(path, planned.plan.secrets)} of {step.address}, or inside it: the plan would replace what apply checks out there",
                                 "give the plan a file of its own outside it: -out plan.zplan")


def _check_plan_folder(out: Path) -> None:
    """The plan file's folder must be there: as Terraform, -out never makes one (a typo in the path
    would leave the plan where nobody looks). What -out names, if anything, is a file: the plan replaces
    it, so a device, a pipe or a link to one (`-out /dev/null`) would be replaced, and never hold the plan."""
    if out.is_dir():
        raise diags.fail(f"-out {out} is a folder", "give the plan a file name: -out plan.zplan")
    if out.exists() and not out.is_file():
        raise diags.fail(f"-out {out} is not a regular file: the plan would replace it, and apply could not read the plan from it",
                         "give the plan a file name: -out plan.zplan (leave -out out to plan without saving)")
    folder = out.parent
    if not folder.is_dir():
        missing = next(p for p in [*reversed(folder.parents), folder] if not p.is_dir())
        what = f"{missing} is not a folder" if missing.exists() else f"folder {missing} does not exist"
        raise diags.fail(f"cannot write the plan file {out}: {what}", "make the folder first, or give -out a path in an existing one")


def apply_changes(args: ProjectArgs, selection: Selection, ui: ApplyUI, parallelism: int = 0, lock_timeout: str = "0s",
                  memo: "plan_memo.Memo | None" = None) -> ApplyOutcome:
    """Plan under the lock, let the user review it, apply it; ``memo``: the kept no-change plan of these
    flags, which, unchanged, says there is nothing to do without planning (``zplan.operations.plan_memo``)."""
    project = open_project(args)
    return _apply(project, selection, ui, parallelism, lock_timeout, saved=None, memo=memo if args.registry is None else None)


def apply_saved_plan(root: Path, planfile: Path, ui: ApplyUI, parallelism: int = 0, lock_timeout: str = "0s",
                     checkout: bool = True, registry: "ProviderRegistry | None" = None) -> ApplyOutcome:
    """Apply exactly the reviewed plan: the same variables (typed), stack and selection."""
    from zplan.plan import planfile as pf

    saved = pf.read(planfile)
    pf.check_version(saved, planfile)
    options = saved["plan"]["options"]
    checkout = checkout and options.get("no_checkout") is not True  # `plan -no-checkout -out F`: applied without
    refresh = True if options.get("refresh") is True else None  # `plan -refresh -out F`
    selection = Selection(options["targets"], options["excludes"], options["replace"], saved["plan"]["destroy"], refresh, checkout=checkout)
    project = open_for_saved_plan(root, saved, registry)
    return _apply(project, selection, ApplyUI(ui.hooks, None, ui.on_lock_wait, ui.on_stale_lock), parallelism, lock_timeout, saved)


def refuse_inputs_with_planfile(planfile: Path, given: dict[str, list]) -> None:
    """A saved plan is the only input of its apply, as in Terraform."""
    flags = [flag for flag, values in given.items() if values]
    if flags:
        raise diags.fail(
            f"{', '.join(flags)} cannot be used when applying the saved plan {planfile}",
            "the reviewed plan is the only input of its apply: make a new plan with these options "
            "(zplan plan ... -out FILE), then apply that file",
        )


def _apply(project: Project, selection: Selection, ui: ApplyUI, parallelism: int, lock_timeout: str, saved: dict | None,
           memo: "plan_memo.Memo | None" = None) -> ApplyOutcome:
    try:
        return _plan_and_apply(project, selection, ui, parallelism, lock_timeout, saved, memo)
    finally:
        early_pool.discard()  # (the workers started as it planned, if no step took them)


def _plan_and_apply(project: Project, selection: Selection, ui: ApplyUI, parallelism: int, lock_timeout: str, saved: dict | None,
                    memo: "plan_memo.Memo | None") -> ApplyOutcome:
    ensure_state_dir(project)
    backend = project.state_backend()
    operation = "destroy" if selection.destroy else "apply"
    wait = lock_timeout_seconds(lock_timeout)
    with backend.lock(operation, wait, ui.on_lock_wait, ui.on_stale_lock):
        kept = _nothing_to_do(memo, project)
        if kept is not None and plan_memo.mode() != "verify":  # (the kept plan, unchanged under the lock)
            if ui.review is not None:
                ui.review(kept)  # (shown; a plan without changes is approved without asking)
            return ApplyOutcome(kept, project, None)
        if not selection.destroy:
            forkserver_early.go()  # (the step workers' helpers, forked as the command started, boot while it plans)
            early_pool.start(project.root, project.state_dir / "cache", parallelism)
        with plan_memo.recording(memo if kept is None else None):
            planned = make_plan(project, backend, selection.request(), selection.refresh, keep_decoded=False, for_apply=not selection.destroy)
            doc = to_json(planned.plan)
        if kept is not None:
            plan_memo.verified(kept, lambda: doc)
        elif memo is not None and not planned.adopted:
            memo.keep(doc, project.secrets, has_changes(doc))
        if saved is not None:
            _check_saved(saved, planned, project)
        if planned.adopted:  # what a killed apply left running is known from now on
            planned.state.bump()
            backend.write(planned.state.doc)
        outcome = ApplyOutcome(doc, project, planned.state, adopted=planned.adopted, planned=planned)
        if ui.review is not None and not ui.review(doc):
            outcome.cancelled = True
            return outcome
        if record_unchanged(planned):  # (a lifecycle flag applied alone changes no resource, nor a setting first recorded)
            planned.state.bump()
            backend.write(planned.state.doc)
        if not has_changes(doc) and not planned.plan.outputs:
            if selection.checkout and not selection.destroy:
                outcome.checked_out = _checkout(planned, backend)  # an out deleted from the workspace comes back
            return outcome
        hooks = ui.hooks(doc)
        try:
            outcome.result = apply(planned, backend, hooks, parallelism or None, exact=saved is not None, lock_timeout=wait)
        finally:
            getattr(hooks, "close", lambda: None)()
        if selection.checkout and not selection.destroy:
            outcome.checked_out = _checkout(planned, backend)
    return outcome


def _nothing_to_do(memo: "plan_memo.Memo | None", project: Project) -> dict | None:
    """The kept JSON plan when it is unchanged and an apply of it does nothing at all: no change, and no
    outputs to record, resources whose settings to record, or script outs to check out again."""
    if memo is None or any(s.script is not None for s in project.config.steps()):
        return None
    doc = memo.lookup()
    return doc if doc is not None and not has_changes(doc) and not doc["outputs"] and not doc["resources"] else None


def _checkout(planned: Planned, backend) -> list[str]:
    """Script steps' outs into the workspace (zplan.apply.checkout), the paths written; nothing to do
    without script steps."""
    if not any(s.script is not None for s in planned.planner.project.config.steps()):
        return []
    from zplan.apply.checkout import checkout_outs
    from zplan.state.model import State

    planner = planned.planner
    return checkout_outs(planner.project, State(backend.read()), planned.plan.store_key, planner.stack_settings, planner.stat_cache,
                         {s.address for s in planned.plan.steps})


def _check_saved(saved: dict, planned: Planned, project: Project) -> None:
    from zplan.config.fingerprint import fingerprints
    from zplan.plan import planfile as pf

    state = planned.state
    pf.check(saved, state.serial, state.lineage, fingerprints(project.root, project.config.files, project.config.read_files), planned.plan,
             planned.planner.stack_settings, _provider_settings(planned, project))


def _provider_settings(planned: Planned, project: Project) -> dict:
    from zplan.plan.resources import applied_settings

    return applied_settings(project, planned.plan, planned.planner.planned_value)
