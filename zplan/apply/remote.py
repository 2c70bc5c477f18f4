"""Kubeflow / Vertex stacks: each pipeline is compiled to a spec of `zplan run-step`
tasks and submitted (or the user is told how to); the steps record into the
stack's stores themselves."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Mapping

from zplan import diags
from zplan.apply.tracker import SUBMITTED, RunTracker
from zplan.hooks import Hooks
from zplan.plan import model as m
from zplan.secrets import redact


def submit_pipelines(project, plan: m.Plan, settings: Mapping[str, Any], tracker: RunTracker, hooks: Hooks,
                     lock_timeout: float = 0.0) -> None:
    from zplan.kubeflow.compile import compile_pipeline
    from zplan.kubeflow.submit import submit

    options = settings.get("orchestrator_options")
    for pipeline, steps in sorted(_pipelines(_with_every_edge(plan)).items()):
        tasks = pipeline_tasks(project, steps, lock_timeout)
        spec = compile_pipeline(pipeline, tasks, str(settings.get("container_image") or ""), project.stack_name,
                                project.state_dir / "compiled" / f"{pipeline}.yaml", str(settings["orchestrator"]))
        try:
            said = submit(spec, str(settings["orchestrator"]), options if isinstance(options, dict) else {})
        except diags.DiagnosticError as exc:
            raise _redacted(exc, project.secrets) from None
        hooks.notice(redact(f"pipeline {pipeline}: {said}", project.secrets))
        for s in steps:
            tracker.outcome(s.address, SUBMITTED)


def _with_every_edge(plan: m.Plan) -> list[m.StepPlan]:
    """The plan's steps, each waiting for every step the graph puts before it: a step's own
    ``depends_on`` lists the steps of its inputs only, not those of its ``depends_on`` block,
    nor those reached through a resource between them (an endpoint deployed from a model)."""
    before: dict[str, set[str]] = {}
    for first, then in plan.edges:
        before.setdefault(then, set()).add(first)
    steps = {s.address for s in plan.steps}

    def waits_for(node: str, found: set[str]) -> set[str]:
        for up in before.get(node, ()):
            if up not in found:
                found.add(up)
                if up not in steps:  # a resource: the steps before it come first too
                    waits_for(up, found)
        return found

    return [replace(s, depends_on=sorted(set(s.depends_on) | (waits_for(s.address, set()) & steps))) for s in plan.steps]


def _redacted(exc: diags.DiagnosticError, secrets: list[str]) -> diags.DiagnosticError:
    """A submission's answer names the host and options, which may hold a secret (a token in the
    host's URL, from a sensitive variable): hidden there as in every other message."""
    return diags.DiagnosticError([replace(d, summary=redact(d.summary, secrets), detail=redact(d.detail, secrets))
                                  for d in exc.diagnostics])


def _pipelines(steps) -> dict[str, list[m.StepPlan]]:
    """The steps of each pipeline instance, by the name its spec gets: a root pipeline's own name, a
    module instance's from its address (each instance of a module's pipeline is a pipeline of its own).
    Pipelines one feeds another's step (through a module output) are one spec, named after them all:
    separate specs could not make the fed step wait."""
    joined: dict[str, str] = {}  # pipeline instance -> another one it is compiled with

    def head(name: str) -> str:
        while joined.get(name, name) != name:
            name = joined[name]
        return name

    where = {s.address: _where(s) for s in steps}
    for s in steps:
        for upstream in s.depends_on:
            if upstream in where and head(where[upstream]) != head(where[s.address]):
                joined[head(where[upstream])] = head(where[s.address])
    members: dict[str, set[str]] = {}
    for instance in where.values():
        members.setdefault(head(instance), set()).add(instance)
    from zplan.kubeflow.compile import spec_name

    names = _instance_names(steps)
    found: dict[str, list[m.StepPlan]] = {}
    for s in steps:
        found.setdefault(spec_name("-".join(sorted(names[i] for i in members[head(where[s.address])]))), []).append(s)
    return found


def _where(step: m.StepPlan) -> str:
    """The address of the pipeline instance a step is in (``module.env["dev"].pipeline.train``)."""
    return step.address.rpartition(".step.")[0]


def _instance_names(steps: list[m.StepPlan]) -> dict[str, str]:
    """The name of each pipeline instance the steps are in, by its address: ``training``;
    ``module-env-dev-train``, with a digest of the address after it when another instance's
    reads the same (``module.env["a-b"]``, ``module.env["a_b"]``): each is a spec of its own."""
    from zplan.kubeflow.compile import distinct_names, task_name

    readable = {}
    for s in steps:
        where = _where(s)
        readable[where] = s.pipeline if where == f"pipeline.{s.pipeline}" else task_name(where.replace(".pipeline.", "."))
    return distinct_names(readable)


def pipeline_tasks(project, steps: list[m.StepPlan], lock_timeout: float = 0.0) -> list:
    """One task per step, told the variable values this apply planned with but secrets (the
    image holds neither this machine's -var, -var-file, ZPLAN_VAR_* nor its vars files) and the
    digests of what it planned for the step, which the task's own plan must match; whether
    it is replaced; and the apply's -lock-timeout where it is longer than a task's own wait."""
    import json

    from zplan.kubeflow.compile import StepTask
    from zplan.plan.steps import environment
    from zplan.plan.task_check import planned_parts, planned_variables

    sensitive = {n for n, v in project.config.variables.items() if v.sensitive}
    values = ["-planned-vars", planned_variables(project.variables, sensitive, project.secrets)]
    env = environment()
    names = _instance_names(steps)
    one = len(names) == 1  # else a task's name says which pipeline its step is in
    return [StepTask(s.address, s.step if one else f"{names[_where(s)]}.{s.step}", list(s.depends_on), project.config.step(s.address).resources,
                     values + ["-planned", json.dumps(planned_parts(s, project.secrets, env), sort_keys=True, separators=(",", ":"))]
                     + _replaced(s) + _lock_wait(lock_timeout))
            for s in steps]


# How long a task waits for the state lock, to plan its step and to record it, unless told
# (`run-step -lock-timeout`): its sibling tasks take the lock in turn, each for a moment.
TASK_LOCK_TIMEOUT = 600.0


def _lock_wait(seconds: float) -> list[str]:
    """A task waits for the state lock as long as the apply would, and at least its own default:
    its siblings take the lock in turn (an apply's default, 0s, would fail all but one)."""
    return ["-lock-timeout", f"{seconds:.3f}".rstrip("0").rstrip(".") + "s"] if seconds > TASK_LOCK_TIMEOUT else []


def _replaced(step: m.StepPlan) -> list[str]:
    """``-replace ADDRESS`` for a step this apply reruns by -replace: the task's own plan would find it cached."""
    return ["-replace", step.address] if any(r.code == m.REPLACE_REQUESTED for r in step.reasons) else []
