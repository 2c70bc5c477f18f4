"""The stack's outputs in a plan: their values as far as they are known, and which recorded ones
apply would change (Terraform's "Changes to Outputs")."""

from __future__ import annotations

from typing import Any, Callable

from zplan import diags
from zplan.config.instance_values import StepInstance, StepOutputs
from zplan.config.scope import StepOutputRef, map_step_refs
from zplan.config.values import UNKNOWN, Template, contains_unknown, find_symbolic
from zplan.graph.build import pipeline_of
from zplan.plan import model as m
from zplan.secrets import holds_secret, is_sealed


def plan_outputs(project, steps: tuple[m.StepPlan, ...], scope, check_refs: Callable,
                 recorded: Callable[[StepOutputRef], Any] = lambda ref: UNKNOWN, large: dict | None = None) -> dict[str, dict]:
    """Each output: its value (None until known), whether it is known, and its sensitivity.
    ``recorded`` gives the output of a step this plan leaves out (-target, -exclude) as
    state holds it: apply leaves it as it is. ``large`` receives URI -> (step address, digest) of
    each JSON step output an output holds as its artifact's URI (too large to be kept in state),
    for ``with_large_values``."""
    out = {}
    large = {} if large is None else large
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
        wrong = _not_shown(value)
        if isinstance(wrong, (StepOutputs, StepInstance)):
            raise diags.fail(f'output "{name}" holds every output of step.{wrong.step}, which are listed nowhere',
                             f"name one: {wrong.one_of_them()}", output.range)
        if wrong is not None:
            raise diags.fail(f'output "{name}": a string template cannot use {find_symbolic(wrong.parts)}',
                             "its value is known only when the step runs: give the step output itself, "
                             "value = step.NAME.outputs.OUTPUT, or a list or map of them", output.range)
        sealed: list[StepOutputRef] = []
        known, value = _output_value(project, by_address, value, recorded, large, sealed)
        # a cached value state sealed (its step wrote a secret) stays hidden where the secret's value is not given
        sensitive = output.sensitive or (known and (bool(sealed) or holds_secret(value, project.secrets)))
        out[name] = {"value": value if known else None, "known": known, "sensitive": sensitive}
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


def with_before(project, state, outputs: dict[str, dict], changes: tuple[tuple[str, str], ...]) -> dict[str, dict]:
    """``outputs`` with each one apply would change or remove, or will know only after apply, holding
    its recorded value as ``before``, so a plan shows ``old -> new`` (``old -> (known after apply)``,
    ``old -> null``) as Terraform's does; one removed from the configuration is added, as null. ``before_sensitive``: recorded as a sensitive one (sealed: never unsealed here,
    as it is only ever shown hidden)."""
    recorded = state.outputs_of(project.stack_name)
    changed = {name for name, kind in changes if kind in ("change", "remove")}
    changed |= {name for name, o in outputs.items() if not o["known"] and name in recorded}
    shown = {name: {**o, **_before(recorded[name])} if name in changed else o for name, o in outputs.items()}
    # one no longer declared (every one, for a destroy) is null from now on: `- name = "old" -> null`
    shown.update((name, {"value": None, "known": True, "sensitive": False, **_before(recorded[name])})
                 for name, kind in changes if kind == "remove" and name not in outputs)
    return shown


def _before(recorded: dict) -> dict:
    if recorded.get("sensitive") or is_sealed(recorded["value"]):
        return {"before": None, "before_sensitive": True}
    return {"before": recorded["value"], "before_sensitive": False}


def large_befores(state, store_key: str, outputs: dict[str, dict]) -> dict[str, tuple[str, str]]:
    """URI -> (step address, digest) of each JSON step output that a changed output's recorded value
    holds as its artifact's URI (too large to be kept in state), so ``with_large_values`` shows the
    old value as it shows the new one, not the URI. Found among the store's step records and cache."""
    uris = {text for o in outputs.values() if "before" in o for text in _texts(o["before"])}
    if not uris:
        return {}
    store = state.doc.get("stores", {}).get(store_key, {})
    records = [(address, r) for address, r in store.get("steps", {}).items()]
    records += [(e.get("address"), e) for e in store.get("cache", {}).values()]
    found = {}
    for address, record in records:
        for out in (record.get("outputs") or {}).values():
            if out.get("uri") in uris and out.get("materializer") == "json" and "digest" in out:
                found[out["uri"]] = (address, out["digest"])
    return found


def _texts(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [t for v in value.values() for t in _texts(v)]
    return [t for v in value for t in _texts(v)] if isinstance(value, (list, tuple)) else []


def with_large_values(project, store_url: str, outputs: dict[str, dict], large: dict[str, tuple[str, str]]) -> dict[str, dict]:
    """``outputs`` as the plan shows them: a cached step's JSON output too large to be kept in
    state is planned as its artifact's URI (as apply records it, so changes compare alike), and
    shown as its value, read back from the artifact store and verified, as `zplan output` shows it.
    Only an output shown in clear holding one is read: a no-change plan reads no artifact otherwise.
    A changed output's ``before`` (``with_before``) is read the same way."""
    store, read = None, {}

    def value_of(name: str, uri: str) -> Any:
        nonlocal store
        if uri not in read:  # one read for the outputs sharing an artifact
            store = store or _store(project, store_url)
            read[uri] = _load_large(project, store, name, *large[uri])
        return read[uri]

    def shown(name: str, o: dict) -> dict:
        load = lambda uri: value_of(name, uri)  # noqa: E731
        if o["known"] and not o["sensitive"]:
            o = {**o, "value": _with_values(o["value"], large, load)}
        if "before" in o and not (o["before_sensitive"] or o["sensitive"]):  # (a hidden one is never read)
            o = {**o, "before": _with_values(o["before"], large, lambda uri: _or_uri(load, uri))}
        return o

    return {name: shown(name, o) for name, o in outputs.items()}


def _or_uri(load: Callable[[str], Any], uri: str) -> Any:
    """An old value read back, or its URI when it is no longer stored (gc): the plan goes on, as
    nothing it will do needs it."""
    try:
        return load(uri)
    except diags.DiagnosticError:
        return uri


def _with_values(value: Any, large: dict, load: Callable[[str], Any]) -> Any:
    """``value`` with each URI of ``large`` in it replaced by ``load(uri)``."""
    if isinstance(value, str):
        return load(value) if value in large else value
    if isinstance(value, dict):
        return {k: _with_values(v, large, load) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_with_values(v, large, load) for v in value]
    return value


def _store(project, store_url: str):
    from zplan.artifacts.base import ArtifactStore

    return ArtifactStore.from_url(store_url, project.root)


def _load_large(project, store, name: str, address: str, digest: str) -> Any:
    from zplan.artifacts.base import ArtifactCorrupted, ArtifactNotFound
    from zplan.artifacts.materializers import get_materializer

    try:
        return get_materializer("json").load(store.get(digest, verify=True))
    except (ArtifactNotFound, ArtifactCorrupted) as exc:  # the step is planned as cached: its value must be there
        raise diags.fail(
            f'output "{name}": its value, the output of {address} (artifact {digest[:12]}), cannot be read: {exc.diagnostics[0].summary}',
            f"run `zplan apply -replace {address}` to make it again (`zplan verify -repair` drops every damaged artifact)",
            project.config.outputs[name].range,
        ) from None


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


def _not_shown(value: Any) -> StepOutputs | StepInstance | Template | None:
    """What an output cannot hold: a step's outputs (or a step instance) as a whole (listed nowhere: it would
    show ``{}``), or text made from a step output (text is made when planning; the step's value, when it runs)."""
    if isinstance(value, (StepOutputs, StepInstance, Template)):
        return value
    items = dict.values(value) if isinstance(value, dict) else value if isinstance(value, (list, tuple)) else ()
    return next((found for found in map(_not_shown, items) if found is not None), None)


def _output_value(project, steps: dict[str, m.StepPlan], value: Any, recorded: Callable[[StepOutputRef], Any], large: dict,
                  sealed: list) -> tuple[bool, Any]:
    value = map_step_refs(value, lambda ref: _planned_output(project, steps, ref, large, sealed) if ref.address in steps else recorded(ref))
    if contains_unknown(value):
        return False, None
    return True, value


def _planned_output(project, steps: dict[str, m.StepPlan], ref: StepOutputRef, large: dict, sealed: list) -> Any:
    """A step output's recorded value (or artifact URI) when the step is cached; UNKNOWN otherwise.
    ``sealed`` receives ``ref`` when state keeps the value sealed."""
    step = steps.get(ref.address)
    if step is None or step.action != m.CACHED:
        return UNKNOWN
    out = step.cached_from.outputs.get(ref.output, {})
    if "value" in out:
        if is_sealed(out["value"]):
            sealed.append(ref)
        return unsealed_value(out["value"], project.state_dir)
    if out.get("materializer") == "json" and isinstance(out.get("uri"), str):  # too large for state
        large[out["uri"]] = (ref.address, out["digest"])
    return out.get("uri", UNKNOWN)
