"""The JSON plan: the documented, versioned form every view is rendered from.

Schema (``format_version`` "1.0"; additions keep the major version):

    {
      "format_version": "1.0",
      "stack": "local", "destroy": false, "created_at": "...",
      "state": {"serial": 3, "lineage": "..."},
      "options": {"targets": [], "excludes": [], "replace": [], "no_checkout": true (only under -no-checkout),
                  "refresh": true (only under -refresh),
                  "followed_moves": [{"flag", "from", "to"}] (only when -target, -exclude or -replace gave
                  an address a moved block left: the plan used the new one),
                  "blocked_moves": [{"from", "to"}] (only when a moved block names a resource whose new
                  address state holds already: it stays at its old one)},
      "resources": [{"address", "type", "name", "provider",
                     "action": "create"|"update"|"replace"|"delete"|"no-op",
                     "before": {...}|null, "after": {...}|null,
                     "after_unknown": [attr...], "sensitive": [attr...],
                     "replace_because": [attr...], "reasons": [{"code", "message"}],
                     "changed": [attr...],
                     "depends_on": [address...]}],
      "steps": [{"address", "pipeline", "step", "action": "run"|"cached",
                 "reasons": [{"code", "message"}], "cache_key": str|null,
                 "code_hash", "source", "params": {...}, "inputs": {...},
                 "cached_from": {"run", "finished_at"}|null, "depends_on": [...],
                 "tfx": "StatisticsGen" (only for a TFX component step)}],
      "outputs": {"NAME": {"known": bool, "sensitive": bool, "value": any,
                           "before": any (its recorded value: only for one output_changes names "change"
                                          or "remove", or one known after apply that was recorded)}},
                 (one no longer declared, or every one under -destroy, is listed with value null and its before)
      "moved": [{"from": address, "to": address}],   (what moved blocks renamed in state)
      "other_stacks": [{"address", "stack"}],   (recorded resources another stack applied: left alone;
                                                 stack null: recorded before zplan kept it)
      "output_changes": {"NAME": "add"|"change"|"remove"},   (recorded outputs apply would change)
      "restored": [address],   (cached steps whose latest record is another run's: recorded again, outs checked out)
      "checkouts": [{"path", "step", "reason": "missing"|"changed"|"files_added_or_removed"|"other_result"|"not_checked_out"}],
                   (script outs of cached steps apply writes back into the project folder; none under -no-checkout)
      "summary": {"add", "change", "destroy", "steps_run", "steps_cached", "checkouts"},
      "graph": {"edges": [[needed, needing]...]}   (every dependency between planned nodes)
    }

Sensitive values never appear: schema-sensitive attributes, sensitive outputs and
any string holding a sensitive variable's value are replaced by "(sensitive)".
Values known only after apply are null and listed in ``after_unknown``.
``changed`` names the attributes whose value differs from ``before``, computed
before masking: two "(sensitive)" values may still differ.
"""

from __future__ import annotations

from functools import partial

from zplan.config.values import UNKNOWN
from zplan.plan import model as m
from zplan.secrets import SEALED_MARK, SENSITIVE, mask_attributes, redact
from zplan.secrets import mask as mask_value

FORMAT_VERSION = "1.0"


def to_json(plan: m.Plan, cached_in_brief: bool = False) -> dict:
    """The JSON plan. ``cached_in_brief``: a cached step (not one ``restored``) is given only what
    the text view shows of it (``_brief``), for `zplan plan` printing text: working out each one's
    params and inputs was most of this at 20,000 steps, for lines the view leaves out."""
    mask = partial(mask_value, secrets=plan.secrets, unknown=UNKNOWN) if plan.secrets else _shown
    restored = frozenset(plan.restored) if cached_in_brief else None
    return {
        "format_version": FORMAT_VERSION,
        "stack": plan.stack,
        "destroy": plan.destroy,
        "created_at": plan.created_at,
        "state": {"serial": plan.state_serial, "lineage": plan.state_lineage},
        "options": plan.options,
        "resources": [_resource(r, plan.secrets) for r in plan.resources],
        "steps": [_brief(s) if restored is not None and s.action is m.CACHED and s.address not in restored else _step(s, mask, plan.secrets)
                  for s in plan.steps],
        "outputs": {name: _output(o, mask) for name, o in plan.outputs.items()},
        "moved": [{"from": old, "to": new} for old, new in plan.moved],
        "other_stacks": [{"address": address, "stack": stack or None} for address, stack in plan.other_stacks],
        "output_changes": dict(plan.output_changes),
        "restored": list(plan.restored),
        "checkouts": [{"path": path, "step": step, "reason": reason} for path, step, reason in plan.checkouts],
        "summary": plan.summary(),
        "graph": {"edges": [list(e) for e in plan.edges]},
    }


def _resource(r: m.ResourcePlan, secrets: list[str]) -> dict:
    def values(attrs: dict | None) -> dict | None:
        if attrs is None:
            return None
        return mask_attributes(dict(sorted(attrs.items())), r.sensitive, secrets, unknown=UNKNOWN)

    after = values(r.after)
    unknown = sorted(set(r.unknown) | {k for k, v in (r.after or {}).items() if v is UNKNOWN})
    return {
        "address": r.address,
        "type": r.type,
        "name": r.name,
        "provider": r.provider,
        "action": r.action.value,
        "before": values(r.before),
        "after": after,
        "after_unknown": unknown,
        "sensitive": sorted(r.sensitive),
        "replace_because": r.replace_because,
        "reasons": reasons_json(r.reasons, secrets),
        "changed": _changed(r),
        "depends_on": r.depends_on,
    }


def _changed(r: m.ResourcePlan) -> list[str]:
    if r.before is None or r.after is None:
        return []
    return sorted(k for k, v in r.after.items() if v is not UNKNOWN and r.before.get(k) != v)


def reasons_json(reasons: list[m.Reason], secrets: list[str]) -> list[dict]:
    """Reasons as the JSON plan shows them (and apply records them with the run): any text
    holding a sensitive value has it replaced by "(sensitive)"."""
    return [{"code": x.code.value, "message": redact(x.message, secrets)} for x in reasons]


def _brief(s: m.StepPlan) -> dict:
    """A cached step as the text view reads it (``zplan.render.plan_text``)."""
    return {"address": s.address, "pipeline": s.pipeline, "step": s.step, "action": "cached", "reasons": [],
            "cached_from": {"run": s.cached_from.run, "finished_at": s.cached_from.finished_at} if s.cached_from else None,
            "depends_on": s.depends_on}


def _step(s: m.StepPlan, mask, secrets: list[str]) -> dict:
    cached = None
    if s.cached_from:
        cached = {"run": s.cached_from.run, "finished_at": s.cached_from.finished_at}
    doc = {
        "address": s.address,
        "pipeline": s.pipeline,
        "step": s.step,
        "action": _ACTION_TEXT[s.action],
        "reasons": reasons_json(s.reasons, secrets) if s.reasons else [],  # a cached step has none
        "cache_key": s.cache_key,
        "code_hash": s.code_hash,
        "source": s.source,
        "params": {k: mask(v) for k, v in s.params.items()},  # each on its own: the names are the step's
        # a data path may come from a sensitive variable; with no secret, inputs are plain JSON (texts, None, lists)
        "inputs": {k: v.to_json() for k, v in s.inputs.items()} if mask is _shown else {k: mask(v.to_json()) for k, v in s.inputs.items()},
        "cached_from": cached,
        "depends_on": s.depends_on,
    }
    if s.tfx:  # a TFX component step (its source is then "")
        doc["tfx"] = s.tfx
    return doc


_ACTION_TEXT = {action: action.value for action in m.Action}  # (an enum's .value is a property: slow per step)


_AS_THEY_ARE = frozenset({str, int, float, bool, type(None)})


def _shown(value):
    """``mask`` with no secret to hide, by exact type (params of 20,000 steps): unknown values
    become None, sealed ones "(sensitive)", tuples lists; anything else takes ``mask`` itself."""
    kind = type(value)
    if kind in _AS_THEY_ARE:
        return value
    if kind is dict:
        return SENSITIVE if SEALED_MARK in value else {k: _shown(v) for k, v in value.items()}
    if kind is list or kind is tuple:
        return [_shown(v) for v in value]
    return mask_value(value, [], UNKNOWN)


def _output(o: dict, mask) -> dict:
    value = None if not o["known"] else (SENSITIVE if o["sensitive"] else mask(o["value"]))
    shown = {"known": o["known"], "sensitive": o["sensitive"], "value": value}
    if "before" in o:  # hidden when it was sensitive or is now: the old value could be the same secret
        shown["before"] = SENSITIVE if o["sensitive"] or o["before_sensitive"] else mask(o["before"])
    return shown


def has_changes(doc: dict) -> bool:
    return (bool(doc.get("moved")) or bool(doc.get("output_changes")) or bool(doc.get("restored")) or bool(doc.get("checkouts"))
            or any(s["action"] == m.RUN for s in doc["steps"])
            or any(r["action"] != m.NOOP for r in doc["resources"]))
