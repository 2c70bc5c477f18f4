"""Plan and apply: the recipe every command that plans shares (refresh, plan, prevent_destroy, apply)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from zplan import diags
from zplan.plan import model as m
from zplan.plan import resources as rplan
from zplan.plan.adopt import adopt_leftovers
from zplan.plan.moves import apply_moves, follow_moves
from zplan.plan.planner import Planner, PlanRequest
from zplan.plan.refresh import read_back
from zplan.project import Project, ensure_state_dir
from zplan.state.backend import FileBackend, StateBackend
from zplan.state.model import State

if TYPE_CHECKING:  # the applier (process pools, metadata) is not needed to plan
    from zplan.apply.applier import ApplyResult
    from zplan.apply.state_writes import Recovery
    from zplan.hooks import Hooks


@dataclass
class Planned:
    """A plan with the planner and state it was made from (apply continues with them)."""

    plan: m.Plan
    planner: Planner
    state: State
    adopted: list[str] = field(default_factory=list)  # left over by a killed apply, recorded in memory


def make_plan(project: Project, backend: StateBackend, request: PlanRequest, refresh: bool | None = None,
              keep_decoded: bool = True, for_apply: bool = False) -> Planned:
    """``keep_decoded``: a file backend keeps the decoded state for the next read (a cache, as the
    planner's); an apply passes False, its last state write keeps one of the state it leaves.
    ``for_apply``: the plan of an apply starts what it can of the apply while it reads a big new
    data input (``zplan.operations.early_start``)."""
    keep_decoded = keep_decoded and isinstance(backend, FileBackend)
    state = State(backend.read(keep_decoded=True) if keep_decoded else backend.read())
    blocked: list[tuple[str, str]] = []
    moved = apply_moves(project.config, state, blocked)
    followed = _follow_moves(project, request)
    if state.resources:  # (a project that records none never loads the provider plugins)
        rplan.upgrade_recorded(project.registry, state.resources, project.state_dir)
    adopted = adopt_leftovers(project, state)
    if refresh is not False and state.resources:
        request.refresh = read_back(project, state, everything=bool(refresh))
    planner = Planner(project, state)
    early = _early_start(planner) if for_apply else None
    try:
        plan = dataclasses.replace(planner.plan(request), moved=tuple(moved))
    finally:
        if early is not None:
            early.join()
    if followed:  # the plan says which address it acted on
        plan = dataclasses.replace(plan, options={**plan.options, "followed_moves": followed})
    if blocked:  # as Terraform warns: the old object is not moved, and is planned as any other left behind
        plan = dataclasses.replace(plan, options={**plan.options, "blocked_moves": [{"from": old, "to": new} for old, new in blocked]})
    if refresh:  # a saved plan is applied reading back what it read back: else drift it saw would look undone
        plan = dataclasses.replace(plan, options={**plan.options, "refresh": True})
    planner.save_caches()
    _check_prevent_destroy(project, plan)
    return Planned(plan, planner, state, adopted)


def _early_start(planner: Planner):
    from zplan.operations.early_start import EarlyStart

    return EarlyStart(planner)


def _follow_moves(project: Project, request: PlanRequest) -> list[dict]:
    """Point -target, -exclude and -replace given a moved block's old address at its new one."""
    followed = []
    for flag, attr in (("-target", "targets"), ("-exclude", "excludes"), ("-replace", "replace")):
        used, pairs = follow_moves(project.config, getattr(request, attr))
        setattr(request, attr, used)
        followed += [{"flag": flag, "from": old, "to": new} for old, new in pairs]
    return followed


def apply(planned: Planned, backend: StateBackend, hooks: "Hooks", parallelism: int | None = None, exact: bool = False,
          lock_timeout: float = 0.0) -> "ApplyResult":
    """``exact`` (a saved plan): a step whose code or data changed since the plan was made is refused;
    ``lock_timeout``: the apply's -lock-timeout, passed on to the Kubeflow/Vertex tasks it submits."""
    from zplan.apply.applier import Applier

    project = planned.planner.project
    ensure_state_dir(project)
    last = (lambda state: backend.write(state.doc, keep_decoded=True)) if isinstance(backend, FileBackend) else None
    applier = Applier(planned.planner, planned.plan, planned.state, lambda state: backend.write(state.doc), hooks, parallelism,
                      persist_last=last, exact=exact, recovery=recovery(project, backend), lock_timeout=lock_timeout)
    result = applier.apply()
    planned.planner.save_caches()
    return result


def recovery(project: Project, backend: StateBackend) -> "Recovery":
    """A state the apply cannot record goes beside the state, else in the project folder (as Terraform's
    ``errored.tfstate`` goes in the working directory): the state folder may be what refuses writes."""
    from zplan.apply.state_writes import Recovery

    return Recovery(backend.read, (project.state_dir, project.root), None if _selected(project) else project.stack_name)


def _selected(project: Project) -> bool:
    """Whether a command given no -stack works on the project's stack (a database keeps a state per stack)."""
    from zplan.stack.select import selected_name

    try:
        return selected_name(project.config, project.state_dir, None) == project.stack_name
    except diags.DiagnosticError:
        return False


def record_unchanged(planned: Planned) -> bool:
    """Record what an apply settles for the resources it leaves unchanged: a ``lifecycle``
    flag added or removed with nothing else (the plan shows no change) guards the resource
    from this apply on, also once its block is removed (``_check_prevent_destroy``); the
    provider settings it takes, which state written by an older zplan lacks, are compared
    from this apply on. True when a record changed (state must then be written)."""
    if planned.plan.destroy:
        return False
    state, changed = planned.state, False
    for r in planned.plan.resources:
        record = state.resource(r.address) if r.action == m.NOOP else None
        if record is None or (record.prevent_destroy, record.provider_settings) == (r.prevent_destroy, r.provider_settings):
            continue
        settled = dataclasses.replace(record, prevent_destroy=r.prevent_destroy, provider_settings=dict(r.provider_settings))
        state.put_resource(r.address, settled, state.resources[r.address].get("stack"))
        changed = True
    return changed


def _check_prevent_destroy(project: Project, plan: m.Plan) -> None:
    blocked = [r for r in plan.resources if r.prevent_destroy and r.action in (m.DELETE, m.REPLACE)]
    if blocked:
        r = blocked[0]
        cfg = project.config.resources.get(r.address)
        doing = "destroy" if r.action == m.DELETE else "replace"
        if cfg is None:  # the block is gone, its recorded prevent_destroy still guards the resource
            raise diags.fail(
                f"{r.address} was applied with lifecycle.prevent_destroy, and the plan would {doing} it",
                f"to let it go, declare it again with prevent_destroy = false and apply, then remove it; or forget it "
                f"(it stays in place) with `zplan state rm {r.address}`",
            )
        raise diags.fail(
            f"{r.address} has lifecycle.prevent_destroy set, but the plan would {doing} it",
            "remove prevent_destroy (or change the plan) to continue",
            cfg.range,
        )


def lock_timeout_seconds(text: str) -> float:
    """How long to wait for the state lock: a duration of zero or more (``zplan.durations``)."""
    from zplan.durations import parse_seconds

    try:
        seconds = parse_seconds(text)
    except ValueError:
        seconds = -1.0
    if seconds < 0:  # (a negative, infinite or NaN wait, or no duration at all)
        raise diags.fail(f"invalid -lock-timeout {text.strip().lower()!r}", "use a duration of zero or more, like 0s, 30s or 5m")
    return seconds
