"""The stack's outputs after an apply: evaluated again with what was applied, sensitive ones sealed."""

from __future__ import annotations

from zplan.config.values import UNKNOWN, contains_unknown
from zplan.config.scope import StepOutputRef, map_step_refs
from zplan.plan import model as m
from zplan.graph.build import pipeline_of
from zplan.state import secrets as sealed
from zplan.state.model import State


def outputs_changed(plan: m.Plan, state: State, state_dir) -> bool:
    """Whether the recorded outputs differ from the planned ones: a sealed (sensitive) value is
    compared unsealed, else every apply of a project with one would record a run and bump the serial."""
    from zplan.plan.outputs import output_differs

    recorded = state.outputs_of(plan.stack)
    if plan.destroy:
        return bool(recorded)
    return any(o["known"] and output_differs(recorded.get(n, {}).get("value"), o["value"], state_dir) for n, o in plan.outputs.items())


def record_outputs(project, state: State, store_key: str | None, resource_value, resource_names=None) -> None:
    scope = project.scope(resource_value, resource_names)
    outputs = {}
    for name, output in project.config.outputs.items():
        value = scope.eval(output.expr, pipeline=pipeline_of(output.expr, project.config))
        value = map_step_refs(value, lambda ref: _recorded_output(project, state, store_key, ref))
        if value is UNKNOWN or value is None or contains_unknown(value):  # e.g. a map reading a resource whose apply failed
            continue
        stored = sealed.seal(value, project.state_dir) if output.sensitive else value
        outputs[name] = {"value": stored, "sensitive": output.sensitive}
    state.set_outputs(project.stack_name, outputs)


def _recorded_output(project, state: State, store_key: str | None, ref: StepOutputRef):
    record = state.step_record(store_key, ref.address) if store_key else None
    out = record.outputs.get(ref.output, {}) if record is not None and record.succeeded else {}
    value = sealed.unseal(out["value"], project.state_dir) if "value" in out else out.get("uri")
    return UNKNOWN if value is None else value
