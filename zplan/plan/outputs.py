"""The stack's outputs in a plan: their values as far as they are known, and which recorded ones
apply would change (Terraform's "Changes to Outputs")."""

from __future__ import annotations

from typing import Any, Callable

from zplan import diags
from zplan.config.scope import StepOutputRef, map_step_refs
from zplan.config.values import UNKNOWN, contains_unknown
from zplan.graph.build import pipeline_of
from zplan.plan import model as m
from zplan.secrets import is_sealed


def plan_outputs(project, steps: tuple[m.StepPlan, ...], scope, check_refs: Callable,
                 recorded: Callable[[StepOutputRef], Any] = lambda ref: UNKNOWN) -> dict[str, dict]:
    """Each output: its value (None until known), whether it is known, and its sensitivity.
    ``recorded`` gives the output of a step this plan leaves out (-target, -exclude) as
    state holds it: apply leaves it as it is."""
    out = {}
    by_address = {s.address: s for s in steps} if project.config.outputs else {}
    for name, output in project.config.outputs.items():
        check_refs(output.expr, output.range)
        pipeline = pipeline_of(output.expr, project.config)
        value, from_secret = scope.eval_marked(output.expr, pipeline=pipeline)
        if from_secret and not output.sensitive:
            raise diags.fail(
                "Output refers to sensitive values",
                f'output "{name}" is computed from a sensitive value (a sensitive variable, resource attribute or step output); '
                "declare it sensitive = true to show it only as <sensitive>, or stop using the secret in it",
                output.range,
            )
        known, value = _output_value(project, by_address, value, recorded)
        out[name] = {"value": value if known else None, "known": known, "sensitive": output.sensitive}
    return out


def output_changes(project, state, outputs: dict[str, dict]) -> tuple[tuple[str, str], ...]:
    """The recorded outputs apply would change, as Terraform's "Changes to Outputs": a plan
    that changes only them is not "no changes" (apply rewrites them). Only known values
    count: one known after apply changes with what runs, already in the plan."""
    recorded = state.outputs_of(project.stack_name)
    changes = []
    for name in sorted(set(outputs) | set(recorded)):
        planned = outputs.get(name)
        if planned is None or (planned["known"] and planned["value"] is None and name in recorded):
            changes.append((name, "remove"))  # (a null output is not recorded: apply drops it)
        elif planned["known"] and planned["value"] is not None:
            if name not in recorded:
                changes.append((name, "add"))
            elif output_differs(recorded[name]["value"], planned["value"], project.state_dir):
                changes.append((name, "change"))
    return tuple(changes)


def output_differs(stored: Any, value: Any, state_dir) -> bool:
    """Whether an output's recorded value (sealed when sensitive) differs from ``value``, as
    stored: through JSON, where a tuple is a list."""
    import json

    as_stored = lambda v: json.loads(json.dumps(v, default=str))  # noqa: E731
    return as_stored(unsealed_value(stored, state_dir)) != as_stored(value)


def unsealed_value(value: Any, state_dir) -> Any:
    if not is_sealed(value):  # most values: no need to load the cipher
        return value
    from zplan.state import secrets as sealed

    return sealed.unseal(value, state_dir)


def _output_value(project, steps: dict[str, m.StepPlan], value: Any, recorded: Callable[[StepOutputRef], Any]) -> tuple[bool, Any]:
    value = map_step_refs(value, lambda ref: _planned_output(project, steps, ref) if ref.address in steps else recorded(ref))
    if contains_unknown(value):
        return False, None
    return True, value


def _planned_output(project, steps: dict[str, m.StepPlan], ref: StepOutputRef) -> Any:
    """A step output's recorded value (or artifact URI) when the step is cached; UNKNOWN otherwise."""
    step = steps.get(ref.address)
    if step is None or step.action != m.CACHED:
        return UNKNOWN
    out = step.cached_from.outputs.get(ref.output, {})
    if "value" in out:
        return unsealed_value(out["value"], project.state_dir)
    return out.get("uri", UNKNOWN)
