"""Steps planned for a Kubeflow or Vertex stack. Each runs as a task in the stack's
``container_image``, which holds the project folder (``zplan build-image``) and nothing else
of this machine: a data input outside that folder would only be found missing by the task,
after apply provisioned the resources and submitted the pipeline. The plan refuses it at its line."""

from __future__ import annotations

import os
from typing import Any, Callable, Mapping

from zplan import diags
from zplan.plan.steps import StepPlanner


class RemoteStepPlanner(StepPlanner):
    def data_digest(self, step, what: str, rel: str, path: str, st: os.stat_result, where: Callable, clone: bool = False) -> str:
        if not path.startswith(os.path.normpath(self._dir).rstrip("/") + "/"):
            raise diags.fail(
                f'step "{step.name}": {what} names {rel}, outside the project folder',
                "on a Kubeflow or Vertex stack the step runs in the stack's container_image, which holds only the "
                "project folder: move the data into the project, or have a step fetch it (from s3://, gs://, https://)",
                where(),
            )
        return super().data_digest(step, what, rel, path, st, where, clone)


def step_planner_class(settings: Mapping[str, Any]) -> type[StepPlanner]:
    from zplan.stack.flavors import is_remote

    return RemoteStepPlanner if is_remote(settings) else StepPlanner
