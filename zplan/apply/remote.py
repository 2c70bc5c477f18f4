"""Kubeflow / Vertex stacks: each pipeline is compiled to a spec of `zplan run-step`
tasks and submitted (or the user is told how to); the steps record into the
stack's stores themselves."""

from __future__ import annotations

from typing import Any, Mapping

from zplan.addrs import short_name
from zplan.apply.tracker import SUBMITTED, RunTracker
from zplan.hooks import Hooks
from zplan.plan import model as m


def submit_pipelines(project, plan: m.Plan, settings: Mapping[str, Any], tracker: RunTracker, hooks: Hooks) -> None:
    from zplan.kubeflow.compile import StepTask, compile_pipeline
    from zplan.kubeflow.submit import submit

    options = settings.get("orchestrator_options")
    for pipeline in sorted({s.pipeline for s in plan.steps}):
        steps = [s for s in plan.steps if s.pipeline == pipeline]
        tasks = [StepTask(s.address, s.step, [short_name(d) for d in s.depends_on], project.config.step(s.address).resources)
                 for s in steps]
        spec = compile_pipeline(pipeline, tasks, str(settings.get("container_image") or ""), project.stack_name,
                                project.state_dir / "compiled" / f"{pipeline}.yaml")
        hooks.notice(f"pipeline {pipeline}: {submit(spec, str(settings['orchestrator']), options if isinstance(options, dict) else {})}")
        for s in steps:
            tracker.outcome(s.address, SUBMITTED)
