"""The stack's outputs after an apply: evaluated again with what was applied, sensitive ones sealed."""

from __future__ import annotations

from zplan.config.values import UNKNOWN, contains_unknown
from zplan.config.scope import StepOutputRef, map_step_refs
from zplan.graph.build import pipeline_of
from zplan.secrets import holds_secret
from zplan.state import secrets as sealed
from zplan.state.model import State


def record_outputs(project, state: State, store_key: str | None, resource_value, resource_names=None) -> None:
    scope = project.scope(resource_value, resource_names)
    outputs = {}
    for name, output in project.config.outputs.items():
        value = scope.eval(output.expr, pipeline=pipeline_of(output.expr, project.config))
        value = map_step_refs(value, lambda ref: _recorded_output(project, state, store_key, ref))
        if value is UNKNOWN or value is None or contains_unknown(value):  # e.g. a map reading a resource whose apply failed
            continue
        # secrets are known by value: an output holding one (written in clear, or through nonsensitive())
        # is kept and shown as a sensitive one, as the plan showed it
        sensitive = output.sensitive or holds_secret(value, project.secrets)
        stored = sealed.seal(value, project.state_dir) if sensitive else value
        outputs[name] = {"value": stored, "sensitive": sensitive}
    state.set_outputs(project.stack_name, outputs)


def _recorded_output(project, state: State, store_key: str | None, ref: StepOutputRef):
    record = state.step_record(store_key, ref.address) if store_key else None
    out = record.outputs.get(ref.output, {}) if record is not None and record.succeeded else {}
    value = sealed.unseal(out["value"], project.state_dir) if "value" in out else out.get("uri")
    return UNKNOWN if value is None else value


def written_alone(plan, summary: dict) -> dict[str, int]:
    """What the last line of an apply counts besides its steps and resources (``summary``), as it
    writes them to state: the moves, and the outputs it changes when it ran and changed nothing else
    (never "nothing to do"). A destroy's line counts its resources, as Terraform's."""
    counts = {"moved": len(plan.moved)}
    if not plan.destroy and not set(summary) - {"run"}:  # (not an interrupted one either)
        counts["output(s) changed"] = len(plan.output_changes)
    return {what: n for what, n in counts.items() if n}
