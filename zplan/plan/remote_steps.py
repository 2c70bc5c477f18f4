"""Steps planned for a Kubeflow or Vertex stack. Each runs as a task in the stack's
``container_image``, which holds the project folder (``zplan build-image``) and nothing else
of this machine: a data input, step code or a module outside that folder would only be found
missing by the task, after apply provisioned the resources and submitted the pipeline. The
plan refuses each at its line."""

from __future__ import annotations

import os
from typing import Any, Callable, Mapping

from zplan import diags
from zplan.plan.steps import StepPlanner


_IMAGE_HOLDS = "on a Kubeflow or Vertex stack each step runs in the stack's container_image, which holds only the project folder"


class RemoteStepPlanner(StepPlanner):
    _modules_checked = False

    def plan(self, step, scope, forced: bool, stack_known: bool = True):
        if not self._modules_checked:
            _check_modules(scope.config, self._inside)
            self._modules_checked = True
        plan = super().plan(step, scope, forced, stack_known)
        outside = sorted({key.rpartition(":")[0] for key in plan.code_parts if not self._inside(key.rpartition(":")[0])})
        if outside:
            raise diags.fail(f'step "{step.name}": its code {", ".join(outside)} is outside the project folder',
                             f"{_IMAGE_HOLDS}: move the code into the project (or install it as a package the image's "
                             "lock file pins)", step.source_range)
        return plan

    def _inside(self, path: str) -> bool:
        """Whether ``path`` (relative to the project folder, or absolute) is inside it."""
        root = os.path.normpath(self._dir)
        return os.path.normpath(os.path.join(root, path)).startswith(root.rstrip("/") + "/")

    def data_digest(self, step, what: str, rel: str, path: str, st: os.stat_result, where: Callable, clone: bool = False) -> str:
        if not self._inside(path):
            raise diags.fail(f'step "{step.name}": {what} names {rel}, outside the project folder',
                             f"{_IMAGE_HOLDS}: move the data into the project, or have a step fetch it (from s3://, gs://, https://)",
                             where())
        return super().data_digest(step, what, rel, path, st, where, clone)


def _check_modules(config, inside: Callable[[str], bool]) -> None:
    """Each task loads the whole configuration, so a module outside the project folder fails every one."""
    found, seen = diags.Collector(), set()
    for instance in config.module_instances.values():
        if instance.call is not None and instance.call.range not in seen and not inside(str(instance.config.project_dir)):
            seen.add(instance.call.range)  # (one error for all the instances of a count or for_each)
            found.error(f'module "{instance.call.name}": its source {instance.call.source} is outside the project folder',
                        f"{_IMAGE_HOLDS}, and each task loads the configuration from it: move the module into the project",
                        instance.call.source_range)
    found.raise_if_errors()


def step_planner_class(settings: Mapping[str, Any]) -> type[StepPlanner]:
    from zplan.stack.flavors import is_remote

    return RemoteStepPlanner if is_remote(settings) else StepPlanner
