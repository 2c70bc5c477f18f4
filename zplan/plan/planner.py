"""config + state -> Plan. The one place that decides what apply will do.

Order of work: build the graph; plan resources and steps together in dependency
order (a resource's planned values feed later expressions, a step's cache key
needs its upstream artifacts' hashes, a resource serving a step's output needs
to know whether that step reruns); evaluate the stack just before the first
step (the resources it names come before every step); evaluate outputs.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from zplan import diags
from zplan.addrs import is_resource, is_step, matches, matches_any, parse_selector
from zplan.config.expand import called_from
from zplan.config.value_checks import check_values
from zplan.config.values import UNKNOWN, contains_unknown
from zplan.config.scope import StepOutputRef
from zplan.config.step_refs import map_step_refs
from zplan.graph.build import build, pipeline_of, subgraph_for
from zplan.graph.dag import Dag
from zplan.hashing import STAT_CACHE_FILE, StatCache
from zplan.plan import checkouts
from zplan.plan import model as m
from zplan.plan import resources as rplan
from zplan.plan.checks import check_configuration, check_provider_rules, check_types
from zplan.plan.code_hash import CodeIndex
from zplan.plan.destroy_order import dependencies_closure, dependents_closure, resource_ancestors, with_declared_dependencies
from zplan.plan.errors import PlanErrors
from zplan.plan.libraries import LibraryIndex
from zplan.plan.loaders import materializer_lookups
from zplan.plan.remote_steps import step_planner_class
from zplan.plan.outputs import large_befores, output_changes, plan_outputs, unsealed_value, with_before, with_large_values
from zplan.plan.steps import StepPlanner
from zplan.project import Project
from zplan.secrets import Sensitive, is_sealed
from zplan.stack import select
from zplan.steps import DEFAULT_OUTPUT
from zplan.state import collector
from zplan.state.model import State, store_key


@dataclass
class PlanRequest:
    """What the user asked this plan for: -target, -exclude, -replace, -destroy, read-back attributes."""

    targets: list[str] = field(default_factory=list)
    excludes: list[str] = field(default_factory=list)
    replace: list[str] = field(default_factory=list)
    destroy: bool = False
    refresh: dict[str, dict | None] | None = None  # address -> read-back attributes (None = gone)
    checkout: bool = True  # script outs are checked out after apply (-no-checkout: not, so none is listed)


@dataclass(frozen=True)
class ApplyInputs:
    """What apply takes from planning, as values (it never writes into the planner)."""

    graph: Dag
    stack_settings: Mapping[str, Any]  # as evaluated at plan time: may hold UNKNOWN until resources exist
    step_planner: StepPlanner | None  # re-plans each step when it starts (None for a destroy)
    stat_cache: StatCache
    read_elsewhere: Mapping[str, frozenset[str]] = field(default_factory=dict)  # step -> its outputs steps left out of the plan read


class Planner:
    def __init__(self, project: Project, state: State) -> None:
        self.project = project
        self.state = state
        root = project.root
        self.code = CodeIndex(root, project.state_dir / "cache" / "code.json")
        self.libraries = LibraryIndex(project.state_dir / "cache" / "libraries.json", exclude=[str(root)])
        self.stat_cache = StatCache(project.state_dir / "cache" / STAT_CACHE_FILE)
        self.step_planner: StepPlanner | None = None
        self._secrets_at_steps: int | None = None  # how many secrets were known when the first step was planned
        self._checkers: dict = {}  # provider name -> an instance for its offline checks and settings
        self.planned_value: Callable[[str, str], Any] | None = None

    def save_caches(self) -> None:
        """Persist what planning learned (code and file hashes); never needed for correctness."""
        if not self.project.state_dir.exists():
            return
        for cache in (self.code, self.libraries, self.stat_cache):
            try:
                cache.save()
            except OSError:  # a read-only .zplan: plan still works, the next one computes them again
                pass

    def plan(self, request: PlanRequest) -> m.Plan:
        with collector.paused(), self.code.checked_once():  # see zplan.state.collector and CodeIndex.checked_once
            plan = self._plan(request)
            if self._secrets_grew():  # again, every secret known from the start: the outcome no longer depends on the order
                plan = self._plan(request)
            return plan

    def _secrets_grew(self) -> bool:
        """Whether a secret became known after steps were planned (``sensitive()``, a sensitive resource
        attribute or module input read on the way): the steps planned before it took its text in a
        param for plain text, so their cache keys and reasons differ from what apply records."""
        return self._secrets_at_steps is not None and len(self.project.secrets) > self._secrets_at_steps

    def _plan(self, request: PlanRequest) -> m.Plan:
        project = self.project
        check_configuration(project.config, lambda: project.registry)
        graph = build(project.config, project.stack_name)
        _check_addresses(graph, request, self.state)
        nodes = subgraph_for(graph, request.targets, request.excludes)
        order = [n for n in graph.topological_order() if n in nodes]

        self.step_planner = None
        self._secrets_at_steps = None
        resource_plans: dict[str, m.ResourcePlan] = {}
        planned_value = lambda address, a: self._resource_value(resource_plans, address, a)  # noqa: E731
        scope = project.scope(planned_value, lambda address: self._resource_names(resource_plans, address))
        self._checkers, self.planned_value = {}, planned_value  # a provider block may read what this plan plans
        recorded = self._recorded(request)
        elsewhere = self._left_alone(recorded, request)
        steps: list[m.StepPlan] = []
        if request.destroy:
            resource_plans.update(self._plan_destroy(with_declared_dependencies(recorded, graph), request, elsewhere))
        else:
            # resources and steps in one dependency order: a resource may read a step's
            # output (a model to serve) and a step a resource's attribute (its URL)
            found = PlanErrors(graph)
            for addr in order:
                if found.upstream_failed(addr):
                    continue
                try:
                    if is_resource(addr):
                        rp = self._plan_resource(graph, addr, recorded, request, scope)
                        resource_plans[addr] = rplan.replaced_with_holder(rp, resource_plans, self._provider)
                    elif is_step(addr):
                        planner = self.step_planner or self._start_steps(scope, resource_plans)
                        steps.append(planner.plan(project.config.step(addr), scope, matches_any(addr, request.replace), self._stack_known))
                except diags.DiagnosticError as exc:
                    block = project.config.resources.get(addr) or project.config.step(addr)
                    found.add(addr, called_from(exc, block.where if block is not None else None, project.root))
                    if is_step(addr) and self.step_planner is None:  # the stack itself: every step would repeat it
                        break
            found.raise_if_any()
            resource_plans.update(self._plan_removed(recorded, request, elsewhere))
            rplan.check_held(resource_plans, recorded, self._provider)  # (a narrowed plan may leave one out)
        if self.step_planner is None:
            self._start_steps(scope, resource_plans)
        stack, key = self.stack_settings, self._key
        large: dict[str, tuple[str, str]] = {}
        outputs = {} if request.destroy else plan_outputs(project, tuple(steps), scope, self._check_output_refs, self._recorded_output, large)
        if not request.destroy:  # what nothing reads is checked too, with the values planned
            check_values(project.config, scope)
        read_elsewhere = {} if request.destroy or len(nodes) == len(graph) else _read_elsewhere(project, graph, nodes, scope)
        self._for_apply = ApplyInputs(graph, stack, self.step_planner if not request.destroy else None, self.stat_cache, read_elsewhere)
        changes = output_changes(project, self.state, outputs)  # a destroy removes them all
        outputs = with_before(project, self.state, outputs, changes)
        if key:
            large.update(large_befores(self.state, key, outputs))
        if large and key:
            outputs = with_large_values(project, str(stack["artifact_store"]), outputs, large)
        return m.Plan(
            stack=project.stack_name,
            state_serial=self.state.serial,
            state_lineage=self.state.lineage,
            store_key=key,
            steps=tuple(steps),
            resources=tuple(sorted(resource_plans.values(), key=lambda r: r.address)),
            outputs=outputs,
            destroy=request.destroy,
            options={"targets": request.targets, "excludes": request.excludes, "replace": request.replace, **({} if request.checkout else {"no_checkout": True})},
            secrets=project.secrets,
            created_at=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            edges=tuple((a, b) for a, b in graph.edges() if a in nodes and b in nodes),
            other_stacks=tuple(sorted(elsewhere.items())),
            restored=() if request.destroy else _restored(self.state, key, steps),
            checkouts=checkouts.pending(project, steps, self.stat_cache) if request.checkout and not request.destroy and key else (),
            output_changes=changes,
        )

    def apply_inputs(self) -> "ApplyInputs":
        """What apply needs from the last ``plan`` call, as values."""
        return self._for_apply

    def _start_steps(self, scope, resource_plans: dict[str, m.ResourcePlan]) -> StepPlanner:
        """Evaluate the stack (the resources it names come before every step in the
        order) and make the step planner for this plan."""
        project = self.project
        stack = select.settings(project.config, project.stack_name, scope.eval)
        _check_stack(project, stack)
        if any(s.backend for p in project.config.pipelines.values() for s in p.steps.values()):
            from zplan.backends.jobs import check_stack  # (apply checks again, with every value known)
            check_stack(project.config, stack, project.stack_name)
        known = not contains_unknown({k: stack.get(k) for k in ("artifact_store", "metadata_store")})
        key = store_key(str(stack["artifact_store"]), str(stack["metadata_store"])) if known else None
        checks = {}
        if known:  # (else no cached result can be claimed: the planner's defaults look nothing up)
            version, modules, code, registered = materializer_lookups(project.root, self.code)
            checks = {"artifact_present": _artifact_checks(project, stack), "materializer_version": version,
                      "materializer_modules": modules, "materializer_code": code, "materializer_registrations": registered}
        planner = step_planner_class(stack)(project.root, self.state, key, self.code, self.stat_cache, project.secrets, libraries=self.libraries, **checks)
        planner.resource_change = lambda addr: _change_of(resource_plans.get(addr))
        self.stack_settings, self._key, self._stack_known = stack, key, known
        self.step_planner = planner  # the applier re-plans each step with it when it starts
        self._secrets_at_steps = len(project.secrets)
        return planner

    # -- resources ------------------------------------------------------------------------------
    def _recorded(self, request: PlanRequest) -> dict[str, dict]:
        recorded = {a: _unsealed(r, self.project.state_dir) for a, r in self.state.resources.items()}
        for addr, attrs in (request.refresh or {}).items():
            if addr in recorded:
                recorded[addr] = _with_refresh(recorded[addr], attrs)
        return recorded

    def _left_alone(self, recorded: dict[str, dict], request: PlanRequest) -> dict[str, str]:
        """Recorded resources this stack's configuration does not declare and another stack applied
        (or, in a project of several stacks, one that was recorded before zplan kept each resource's
        stack): address -> that stack ("" unknown). This plan leaves them alone, as a Terraform
        workspace never sees another's resources; a destroy naming one in -target destroys it, and
        a targeted plan, which deletes nothing it did not target, lists none."""
        if request.targets and not request.destroy:
            return {}
        config = self.project.config
        several = len(config.stacks) > 1
        out = {}
        for addr, rec in recorded.items():
            owner = rec.get("stack")
            if addr not in config.resources and (owner != self.project.stack_name if owner else several) \
                    and not matches_any(addr, request.targets):
                out[addr] = owner or ""
        return out

    def _plan_destroy(self, recorded: dict[str, dict], request: PlanRequest, elsewhere: dict[str, str]) -> dict[str, m.ResourcePlan]:
        plans = {}
        kept = dependencies_closure(recorded, request.excludes) if request.excludes else set()
        for addr, rec in recorded.items():
            if addr in elsewhere or addr in kept:
                continue
            if not request.targets or matches_any(addr, request.targets) or addr in dependents_closure(recorded, request.targets):
                cfg = self.project.config.resources.get(addr)
                prevent = cfg.lifecycle.prevent_destroy if cfg is not None else None
                plans[addr] = rplan.plan_delete(addr, rec, m.Reason(m.REMOVED_FROM_CONFIG, "destroy requested"), prevent)
        return plans

    def _plan_removed(self, recorded: dict[str, dict], request: PlanRequest, elsewhere: dict[str, str]) -> dict[str, m.ResourcePlan]:
        if request.targets:  # like Terraform, a targeted plan never destroys what it did not target
            return {}
        return {
            addr: rplan.plan_delete(addr, rec, m.Reason(m.REMOVED_FROM_CONFIG, "no longer in the configuration"))
            for addr, rec in recorded.items()
            if addr not in self.project.config.resources and addr not in elsewhere and not matches_any(addr, request.excludes)
        }

    def _plan_resource(self, graph: Dag, addr: str, recorded: dict[str, dict], request: PlanRequest, scope) -> m.ResourcePlan:
        resource = self.project.config.resources[addr]
        schema = rplan.schema_for(self.project.registry, resource)
        self._check_step_outputs(resource)
        desired = rplan.desired_inputs(resource, schema, scope, self._step_output)
        previous = recorded.get(addr)
        if previous is not None and not previous.get("gone") and resource.lifecycle.ignore_changes:
            desired = rplan.keep_ignored(desired, previous, resource.lifecycle.ignore_changes)
        from_secret = [n for n, e in resource.attributes.items() if scope.was_sensitive(e)]
        rplan.keep_secret_attributes(resource, from_secret, scope)
        check_types(resource, schema, desired, set(from_secret))
        self._check_provider_rules(resource, schema, desired, from_secret)
        pending = rplan.steps_pending(resource, scope, self._step_reruns)
        previous = rplan.as_configured(self._provider(resource.type), resource.type, previous, desired)
        taken = rplan.taken_settings(self._provider(resource.type), resource.type, desired, resource.lifecycle.ignore_changes, self.project.secrets)
        plan = rplan.plan_resource(resource, schema, desired, previous, resource_ancestors(graph, addr), pending, taken)
        plan = rplan.with_sensitive(plan, from_secret)
        return rplan.replace_requested(plan, schema) if matches_any(addr, request.replace) else plan

    def _provider(self, type_: str):
        """The instance of the provider of ``type_`` planning uses (offline checks, its settings, comparing values)."""
        from zplan.provider import provider_name_for

        name = provider_name_for(type_)
        if name not in self._checkers:  # (its resources come after what its block reads: those are planned)
            self._checkers[name] = self.project.registry.open(name, self.project, self.planned_value)
        return self._checkers[name]

    def _check_provider_rules(self, resource, schema, desired: dict, from_secret: list[str]) -> None:
        # a secret is checked at apply, as if unknown here: a message quoting it would show it
        hidden = {n for n in desired if n in from_secret or (n in schema.attributes and schema.attributes[n].sensitive)}
        values = {n: UNKNOWN if n in hidden else v for n, v in desired.items()}
        check_provider_rules(resource, self._provider(resource.type), values, self.project.secrets)

    def _step_reruns(self, address: str) -> bool:
        planned = self.step_planner.planned.get(address) if self.step_planner else None
        return planned is not None and planned.action == m.RUN

    def _step_output(self, ref: StepOutputRef) -> Any:
        """A step output as a resource sees it at plan time: its artifact reference when the
        step is cached (or outside the -target selection), UNKNOWN when it reruns."""
        planned = self.step_planner.planned.get(ref.address) if self.step_planner else None
        if planned is not None:
            out = planned.cached_from.outputs.get(ref.output) if planned.action == m.CACHED else None
        else:
            record = self.state.step_record(self._key, ref.address) if self.step_planner and self._key else None
            out = record.outputs.get(ref.output) if record is not None and record.succeeded else None
        return rplan.artifact_reference(out) if out is not None else UNKNOWN

    def _recorded_output(self, ref: StepOutputRef) -> Any:
        """A step output outside the -target/-exclude selection, as apply keeps it: its value
        (or artifact URI) in the step's latest successful record, UNKNOWN without one."""
        record = self.state.step_record(self._key, ref.address) if self._key else None
        out = record.outputs.get(ref.output, {}) if record is not None and record.succeeded else {}
        value = unsealed_value(out["value"], self.project.state_dir) if "value" in out else out.get("uri")
        return UNKNOWN if value is None else value

    def _check_step_outputs(self, resource) -> None:
        """``step.train.outputs.modle``: an error at the attribute, naming the outputs there are."""
        for name, expr in resource.attributes.items():
            self._check_output_refs(expr, resource.attribute_ranges.get(name, resource.range))

    def _check_output_refs(self, expr, where) -> None:
        """Every ``step.X.outputs.Y`` in ``expr`` names an output step X declares (by its decorator,
        return annotation or ``outputs``; a step declaring none has the one output "output")."""
        for ref in expr.references():
            if ref.parts[0] != "step" or len(ref.parts) != 4:
                continue
            pipeline = pipeline_of(expr, self.project.config)
            planned = self.step_planner.planned.get(f"pipeline.{pipeline}.step.{ref.parts[1]}") if self.step_planner else None
            if planned is None:
                continue
            declared = list(planned.cached_from.outputs) if planned.action == m.CACHED else planned.outputs or [DEFAULT_OUTPUT]
            if str(ref.parts[3]) not in declared:
                raise diags.fail(
                    f'step "{ref.parts[1]}" has no output "{ref.parts[3]}"',
                    f"its outputs are: {', '.join(declared) or 'none'}",
                    ref.range or where,
                )

    def _resource_value(self, plans: dict[str, m.ResourcePlan], addr: str, attr: str) -> Any:
        plan = plans.get(addr)
        if plan is not None:
            value = rplan.planned_value(plan, attr)
            return Sensitive(value) if attr in plan.sensitive else value
        recorded = self.state.resources.get(addr)  # outside the -target selection
        if recorded is not None:
            value = recorded["attributes"].get(attr, UNKNOWN)
            return Sensitive(unsealed_value(value, self.project.state_dir)) if attr in recorded.get("sensitive", ()) or is_sealed(value) else value
        return UNKNOWN

    def _resource_names(self, plans: dict[str, m.ResourcePlan], addr: str) -> list[str]:
        """The attributes ``resource.T.N`` holds as a whole: those planned, else those recorded."""
        plan = plans.get(addr)
        if plan is not None:
            return rplan.planned_names(plan)
        recorded = self.state.resources.get(addr)
        return sorted(recorded["attributes"]) if recorded is not None else []


def _change_of(plan: m.ResourcePlan | None) -> str | None:
    """How a resource changes in this plan, for the steps that read it ("update"), or None."""
    return str(plan.action) if plan is not None and plan.action in (m.CREATE, m.UPDATE, m.REPLACE) else None


def _check_stack(project: Project, settings: dict) -> None:
    from zplan.stack.flavors import problems, setting_problems

    declared = project.config.stacks.get(project.stack_name)
    found = [(msg, declared.range if declared else None) for msg in problems(settings, project.state_dir / "cache")]
    for name, msg in setting_problems(settings).items():
        expr = declared.settings.get(name) if declared else None
        found.append((msg, expr.range if expr is not None else declared.range if declared else None))
    if found:
        raise diags.DiagnosticError([diags.error(f'stack "{project.stack_name}": {msg}', "", where) for msg, where in found])


def _unsealed(record: dict, state_dir) -> dict:
    """Sensitive values are sealed at rest with a fresh nonce each time: compare them in clear."""
    from zplan.state import secrets as sealed

    return {**record, "inputs": sealed.unseal_all(record.get("inputs", {}), state_dir), "attributes": sealed.unseal_all(record["attributes"], state_dir)}


def _with_refresh(recorded: dict, attrs: dict | None) -> dict:
    if attrs is None:
        return {**recorded, "gone": True}
    drift = [k for k, v in attrs.items() if k in recorded.get("inputs", {}) and recorded["inputs"][k] != v]
    return {**recorded, "attributes": {**recorded["attributes"], **attrs}, "drift": drift}


def _restored(state: State, key: str | None, steps: list[m.StepPlan]) -> tuple[str, ...]:
    """The cached steps whose latest record is another execution than the one reused (a param
    changed and changed back): apply records the reused one again, or state, lineage and the
    script outs checked out into the project stay those of the run in between."""
    if key is None:
        return ()
    records = state.doc["stores"].get(key, {}).get("steps", {})  # (read raw: a sweep has thousands)
    return tuple(s.address for s in steps if s.action == m.CACHED and _behind(records.get(s.address), s.cache_key))


def _read_elsewhere(project: Project, graph: Dag, nodes: set[str], scope) -> dict[str, frozenset[str]]:
    """Step -> its outputs read by steps this plan leaves out (-target, -exclude): apply stores
    them as it would with their readers in the apply (Arrow IPC), so the artifact, and what
    reads it next, does not depend on what else was applied."""
    read: dict[str, set[str]] = {}
    for address in graph.nodes:
        if address in nodes or not is_step(address) or not any(p in nodes for p in graph.predecessors(address)):
            continue
        step = project.config.step(address)
        if step is None or step.inputs is None:
            continue
        try:
            value = scope.eval(step.inputs, pipeline=step.pipeline, where=step.where)
        except diags.DiagnosticError:  # reported at its line when it is planned
            continue
        map_step_refs(value, lambda ref: read.setdefault(ref.address, set()).add(ref.output))
    return {address: frozenset(outputs) for address, outputs in read.items()}


def _behind(record: dict | None, cache_key: str | None) -> bool:
    return record is None or record.get("status") != "succeeded" or record.get("cache_key") != cache_key


def _check_addresses(graph: Dag, request: PlanRequest, state: State) -> None:
    known = set(graph.nodes) | set(state.resources)
    if request.destroy and request.replace:  # (else ignored: a destroy plan creates and runs nothing)
        raise diags.fail(f"-replace {request.replace[0]} cannot be used with -destroy",
                         "a destroy plan only removes resources; -replace recreates a resource or reruns a step: "
                         "plan or apply it on its own (zplan apply -replace ADDRESS)")
    for flag, values in (("-target", request.targets), ("-exclude", request.excludes), ("-replace", request.replace)):
        for value in values:
            try:
                parse_selector(value)
            except ValueError as exc:
                raise diags.fail(f"{flag} {value}: {exc}") from None
            if not any(matches(n, value) for n in known):
                raise diags.fail(f"{flag} {value}: no such step or resource", "see `zplan state list` and the addresses printed by `zplan plan`")
            if request.destroy and flag == "-target" and not any(is_resource(n) and matches(n, value) for n in known):
                # else "nothing to destroy", as if the target were gone
                raise diags.fail(f"-target {value} names no resource: destroy removes resources only",
                                 "a step's records stay for the cache and lineage (`zplan apply -replace` reruns it); "
                                 "target the resources to destroy, as `zplan state list` names them")


def _artifact_checks(project: Project, stack: dict) -> Callable[[str], bool]:
    """Whether a cached artifact is still stored (a stat locally, one listing per prefix on an object store)."""
    from zplan.artifacts.base import ArtifactStore

    try:
        store = ArtifactStore.from_url(str(stack["artifact_store"]), project.root)
    except diags.DiagnosticError as exc:  # a malformed URL: point at the stack that names it
        declared = project.config.stacks.get(project.stack_name)
        where = declared.range if declared else None
        raise diags.DiagnosticError([diags.Diagnostic(d.severity, d.summary, d.detail, d.range or where) for d in exc.diagnostics]) from None
    return store.presence()  # existence only; contents are verified when a step loads them
