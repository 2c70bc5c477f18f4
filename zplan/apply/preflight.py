"""What this machine must have installed for an apply, checked before it changes anything: a
missing library found half-way (after the resources were provisioned) is a worse error."""

from __future__ import annotations

import importlib.util
from typing import Any, Mapping

from zplan import diags
from zplan.plan import model as m


def preflight(config, stack: str, settings: Mapping[str, Any], steps: list[m.StepPlan], in_task: bool) -> None:
    """``steps``: those the apply runs; ``in_task``: a Kubeflow or Vertex task runs its own step here."""
    from zplan.stack.flavors import is_remote

    if is_remote(settings) and not in_task:
        _kfp_installed(config, stack, str(settings["orchestrator"]))
    elif any(s.tfx for s in steps):
        _tfx_installed(config, steps)


def _kfp_installed(config, stack: str, orchestrator: str) -> None:
    """A Kubeflow or Vertex stack's pipelines are compiled here, with the kfp SDK."""
    if importlib.util.find_spec("kfp") is not None:
        return
    declared = config.stacks.get(stack)
    expr = declared.settings.get("orchestrator") if declared is not None else None
    raise diags.fail(
        f'stack "{stack}": the {orchestrator} orchestrator compiles each pipeline with the kfp SDK, which is not installed here',
        "install the kubeflow extra in this environment: pip install 'zplan[kubeflow]'",
        expr.range if expr is not None else declared.range if declared is not None else None,
    )


def _tfx_installed(config, steps: list[m.StepPlan]) -> None:
    """A TFX step runs only where tfx is installed (Python 3.10): refused before anything runs, at its line."""
    from zplan.tfx.planning import check_runtime

    for s in steps:
        if s.tfx:
            check_runtime(config.step(s.address))
