"""`zplan run-step ADDRESS`: run one step where an external orchestrator put us.

Kubeflow / Vertex tasks call this inside a container. The step's cache key,
artifacts and lineage go to the stack's (remote) stores exactly as in a local
apply, so caching stays zplan's: a task whose key is already recorded returns
at once. The progress view comes in from the command.
"""

from __future__ import annotations

from zplan import diags
from zplan.hooks import Hooks
from zplan.operations.opening import ProjectArgs, open_project
from zplan.plan.planner import Planner, PlanRequest
from zplan.project import ensure_state_dir
from zplan.state.model import State


def run_step(args: ProjectArgs, address: str, hooks: Hooks) -> bool:
    from zplan.apply.applier import Applier

    project = open_project(args)
    if project.config.step(address) is None:
        raise diags.fail(f"{address} is not a step of this project", "addresses look like pipeline.NAME.step.STEP")
    ensure_state_dir(project)
    backend = project.state_backend()
    with backend.lock("run-step", timeout=600):
        state = State(backend.read())
        planner = Planner(project, state)
        plan = planner.plan(PlanRequest(targets=[address])).only_step(address)  # upstream steps ran in their own tasks
        result = Applier(planner, plan, state, lambda s: backend.write(s.doc), hooks, parallelism=1).apply()
    return result.ok
