"""Planning resources, Terraform-style: create, update in place, replace, delete or no-op.

The diff is computed here from the provider's schema (which attributes force
replacement, which are computed or secret), so providers never diff.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any, Callable, Mapping
from urllib.parse import unquote, urlparse

from zplan import diags
from zplan.config.values import UNKNOWN, find_symbolic
from zplan.config.model import ResourceConfig
from zplan.config.scope import Scope, StepOutputRef
from zplan.addrs import ResourceAddr, parse, short_name
from zplan.config.references import pipeline_of, targets
from zplan.plan import model as m
from zplan.secrets import is_digest

# zplan.provider is imported by the functions that call into it: a plan of a project that
# declares and records no resource never needs it (nor the provider plugins).
if TYPE_CHECKING:
    from zplan.provider import Provider, ProviderRegistry, ResourceSchema


def keep_secret_attributes(resource: ResourceConfig, names: list[str], scope: Scope) -> None:
    """An attribute computed from a secret (``path = upper(var.token)``) is a secret too: secrets are
    known by value, so a provider's error quoting it (``... is a directory``) is redacted."""
    def evaluate(expr):
        return scope.eval_marked(expr, pipeline=pipeline_of(expr, scope.config, resource.where), where=resource.where)

    for name in names:
        expr = resource.attributes[name]
        scope.keep_secret(expr, evaluate(expr)[0], evaluate)


def as_configured(provider: Provider, type_: str, previous: dict | None, desired: dict) -> dict | None:
    """The record with each input its provider says names what the configured one names (a local
    path recorded absolute, as path.root gave it before it was ".", now "./reports") taken as
    configured: the same folder is not replaced (destroying its files) for a new spelling."""
    if previous is None or previous.get("gone"):
        return previous
    inputs = previous.get("inputs", {})
    same = {k: desired[k] for k, v in inputs.items()
            if k in desired and v != desired[k] and provider.same_input(type_, k, v, desired[k])}
    return {**previous, "inputs": {**inputs, **same}} if same else previous


def schema_for(registry: ProviderRegistry, resource: ResourceConfig) -> ResourceSchema:
    try:
        schema = registry.schema(resource.type)
    except diags.DiagnosticError as exc:  # its provider's plugin cannot be loaded: say which block needs it
        raise diags.DiagnosticError([dataclasses.replace(d, range=d.range or resource.range) for d in exc.diagnostics]) from None
    if schema is None:
        from zplan.provider import provider_name_for

        provider = provider_name_for(resource.type)
        installed = registry.names()
        if registry.provider_class(provider) is None:
            detail = f'no installed provider is named "{provider}" (installed: {", ".join(installed) or "none"}); install its plugin package'
        else:
            detail = f'provider "{provider}" has no resource type "{resource.type}"'
        raise diags.fail(f'unknown resource type "{resource.type}"', detail, resource.range)
    return schema


def upgrade_recorded(registry: ProviderRegistry, records: dict[str, dict], state_dir) -> None:
    """Bring resource records written under an older schema version up to date, in place,
    through their provider's ``upgrade_state`` (saved with the next apply)."""
    from zplan.provider import ProviderError, provider_name_for
    from zplan.state import secrets as sealed

    for address, record in records.items():
        cls = registry.provider_class(record.get("provider") or provider_name_for(record["type"]))
        schema = cls.schemas.get(record["type"]) if cls else None
        recorded = record.get("schema_version", 0)
        if schema is None or recorded == schema.version:
            continue
        if recorded > schema.version:
            raise diags.fail(
                f"{address} was recorded by a newer version of provider \"{cls.name}\" (schema version {recorded}, this one knows {schema.version})",
                f"upgrade the {cls.name} provider plugin",
            )
        secret = sorted(schema.sensitive_names())
        for key in ("attributes", "inputs"):
            values = sealed.unseal_all(record.get(key, {}), state_dir)
            try:
                upgraded = cls.upgrade_state(record["type"], recorded, values)
            except ProviderError as exc:
                raise diags.fail(f"cannot upgrade the recorded state of {address} from schema version {recorded}", str(exc)) from None
            record[key] = sealed.seal_keys(upgraded, secret, state_dir)
        record.update(sensitive=secret, schema_version=schema.version)


# step_output(ref) -> the artifact reference of a step output, or UNKNOWN while the step has to run
StepOutputLookup = Callable[[StepOutputRef], Any]


def desired_inputs(resource: ResourceConfig, schema: ResourceSchema, scope: Scope, step_output: StepOutputLookup | None = None) -> dict[str, Any]:
    """The inputs the configuration wants; a step output becomes its artifact reference
    (``artifact_reference``), UNKNOWN while that step still has to run."""
    lookup = step_output or (lambda ref: UNKNOWN)
    values = {}
    for name, expr in resource.attributes.items():
        value = scope.eval(expr, pipeline=pipeline_of(expr, scope.config, resource.where), where=resource.where)
        if value is None:
            continue  # null is "not set", as in Terraform: the default applies (a module passes its inputs through)
        value = _with_artifacts(value, lookup)
        if find_symbolic(value) is not None:  # "out-${step.a.outputs.x}": the artifact named is an object, not text
            raise diags.fail(f"{resource.addr}: {name} writes a step output into a string",
                             "a resource is given a step output whole, as the artifact it names (model = step.train.outputs.output)",
                             resource.attribute_ranges.get(name, resource.range))
        values[name] = _typed(value, schema.attributes.get(name), name)
    for name, attr in schema.inputs().items():
        if name not in values and attr.default is not None:
            values[name] = attr.default
    return values


def keep_ignored(desired: dict[str, Any], recorded: Mapping[str, Any], ignored: list[str]) -> dict[str, Any]:
    """``lifecycle { ignore_changes }`` on a recorded resource (unsealed, with any refresh merged
    in): each ignored attribute keeps its current value, as in Terraform, so neither an edit of it
    in the configuration nor a change made outside zplan is undone, not even by an update or a
    replacement another attribute asks for."""
    inputs, current = recorded.get("inputs", {}), recorded.get("attributes", {})
    kept = {k: v for k, v in desired.items() if k not in ignored}
    kept.update({k: current.get(k, inputs[k]) for k in ignored if k in inputs})
    return kept


def _typed(value: Any, attr, name: str) -> Any:
    """A string, number or bool attribute's value converted as Terraform converts it ("false" is the
    bool false, 5 the string "5"), so the provider gets the type it declared; a value that does not
    convert stays as it is (``check_types`` reports it)."""
    from zplan.config.convert import ConversionError, convert
    from zplan.config.types import KEYWORDS

    if attr is None or attr.type not in ("string", "number", "bool"):
        return value
    try:
        return convert(value, KEYWORDS[attr.type], name)
    except ConversionError:
        return value


def _with_artifacts(value: Any, lookup: StepOutputLookup) -> Any:
    if isinstance(value, StepOutputRef):
        return lookup(value)
    if isinstance(value, dict):
        return {k: _with_artifacts(v, lookup) for k, v in value.items()}
    if isinstance(value, list):
        return [_with_artifacts(v, lookup) for v in value]
    return value


def artifact_reference(output: dict) -> dict[str, Any]:
    """What a provider receives for a step output: where the artifact is stored, its content
    digest, how it was written, and the folder holding it when the store is on this machine."""
    ref = {"uri": output["uri"], "digest": output["digest"], "materializer": output.get("materializer", "")}
    parsed = urlparse(output["uri"])
    if parsed.scheme == "file":
        ref["path"] = unquote(parsed.path)
    return ref


def steps_pending(resource: ResourceConfig, scope: Scope, rerunning: Callable[[str], bool]) -> dict[str, list[str]]:
    """attribute -> names of the steps it reads that rerun (its value is known after apply)."""
    out: dict[str, list[str]] = {}
    for name, expr in resource.attributes.items():
        if not any(r.parts[0] in ("step", "module", "local", "var") for r in expr.references()):
            continue
        read = targets(scope.config, expr.references(), resource.where, None, diags.Collector())
        pending = sorted(_step_label(a) for a in read if not isinstance(parse(a), ResourceAddr) and rerunning(a))
        if pending:
            out[name] = pending
    return out


def _step_label(address: str) -> str:
    """How a reason names a step: its name (with its key), or its whole address inside a module."""
    step = parse(address)
    return step.step if not step.module else address


# setting -> (the attribute it fills, "" for none; its value as state records it)
TakenSettings = Mapping[str, tuple[str, Any]]


def taken_settings(provider: Provider, type_: str, desired: Mapping[str, Any], ignored: list[str], secrets: list[str]) -> dict[str, tuple[str, Any]]:
    """The provider block settings a resource takes (``Provider.settings_taken``), with their values
    as state records them: a secret setting, or one holding a sensitive variable's value, as a digest.
    A setting whose attribute the resource sets itself or ignores (``ignore_changes``) is not taken."""
    from zplan.secrets import digest_secrets, secret_forms

    taken = {}
    for setting, attribute in provider.settings_taken(type_).items():
        if attribute and (attribute in desired or attribute in ignored):
            continue
        value = provider.setting_value(setting)
        hidden = secret_forms([value]) if setting in provider.sensitive_settings else secrets
        taken[setting] = (attribute, digest_secrets(value, hidden))
    return taken


def recorded_settings(taken: TakenSettings) -> dict[str, Any]:
    """What state records of the settings a resource takes (a value still unknown is not)."""
    return {k: v for k, (_, v) in taken.items() if v is not UNKNOWN}


def applied_settings(project: Any, plan: m.Plan, resource_value: Callable[[str, str], Any] | None) -> dict[str, dict[str, Any]]:
    """provider -> the settings the plan's resources are applied with, as a saved plan keeps them: its
    block as it evaluates now (unknown where it reads what the apply makes), then each setting a
    resource takes from elsewhere (the environment variable the provider reads), as recorded."""
    from zplan.provider import block_settings

    out: dict[str, dict[str, Any]] = {}
    for r in plan.resources:
        if r.provider not in out:
            out[r.provider] = block_settings(project, r.provider, resource_value)
        for setting, value in r.provider_settings.items():
            out[r.provider].setdefault(setting, value)
    return out


def moved_settings(taken: TakenSettings, recorded: dict) -> list[str]:
    """The taken settings whose value is not the one the resource was applied with: as recorded, or
    its own recorded input when it set the attribute itself until now; a setting the provider left to
    its own default then (null) is compared with what it chose; one known only after apply (read from
    a resource this plan changes) counts as changed. A value not known offline (null: the provider's
    default, from its own configuration files), or one state does not record (written by an older
    zplan), counts as unchanged: the next apply records it, with or without changes."""
    before = recorded.get("provider_settings") or {}
    inputs, attributes = recorded.get("inputs", {}), recorded.get("attributes", {})
    moved = []
    for setting, (attribute, value) in taken.items():
        if setting in before:
            old = attributes.get(attribute) if before[setting] is None and attribute else before[setting]
        elif attribute and attribute in inputs:
            old = inputs[attribute]
        else:
            continue
        if old is not None and value is not None and old != value:  # (unknown: read from a resource that changes)
            moved.append(setting)
    return moved


def plan_resource(resource: ResourceConfig, schema: ResourceSchema, desired: dict[str, Any], recorded: dict | None,
                  depends_on: list[str], pending: dict[str, list[str]] | None = None, taken: TakenSettings | None = None) -> m.ResourcePlan:
    from zplan.provider import provider_name_for

    taken = taken or {}
    action, reasons, forcing = diff(resource, schema, desired, recorded, pending or {}, taken)
    shown = _new_defaults(schema, taken, moved_settings(taken, recorded) if recorded and action != m.CREATE else [])
    computed = [k for k, a in schema.attributes.items() if a.computed and k not in desired and k not in shown]
    return m.ResourcePlan(
        address=str(resource.addr),
        type=resource.type,
        name=resource.name,
        provider=provider_name_for(resource.type),
        action=action,
        before=dict(recorded["attributes"]) if recorded else None,
        after={**desired, **_unset(schema, desired, recorded, resource.lifecycle.ignore_changes), **shown} if action in (m.UPDATE, m.REPLACE) else dict(desired),
        reasons=reasons,
        replace_because=forcing,
        sensitive=sorted(schema.sensitive_names()),
        unknown=computed if action in (m.CREATE, m.REPLACE) else [],
        depends_on=depends_on,
        create_before_destroy=resource.lifecycle.create_before_destroy,
        prevent_destroy=resource.lifecycle.prevent_destroy,
        provider_settings=recorded_settings(taken),
    )


def _new_defaults(schema: ResourceSchema, taken: TakenSettings, moved: list[str]) -> dict[str, Any]:
    """attribute -> the new value of each changed provider setting that fills it: the plan shows it
    (``region = "a" -> "b"``), as Terraform does; not a secret one, nor one unknown."""
    pairs = [taken[s] for s in moved]
    return {a: v for a, v in pairs if a in schema.attributes and v is not UNKNOWN and not schema.attributes[a].sensitive and not is_digest(v)}


def _unset(schema: ResourceSchema, desired: dict[str, Any], recorded: dict, ignored: list[str]) -> dict[str, None]:
    """The attributes the configuration no longer sets and the update takes away: null after it,
    so the plan shows them changing (``content = "a" -> null``) as the reason names them."""
    return {k: None for k in changed_inputs(schema, desired, recorded.get("inputs", {}), ignored) if k not in desired}


def with_sensitive(plan: m.ResourcePlan, computed_from_secret: list[str]) -> m.ResourcePlan:
    """Attributes whose value was computed from a sensitive value are sensitive too, whatever
    the schema says: stored sealed, shown as (sensitive)."""
    extra = set(computed_from_secret) - set(plan.sensitive)
    return dataclasses.replace(plan, sensitive=sorted({*plan.sensitive, *extra})) if extra else plan


def changed_inputs(schema: ResourceSchema, desired: dict[str, Any], recorded: dict[str, Any], ignored=(),
                   current: Mapping[str, Any] | None = None) -> list[str]:
    """``zplan.provider.changed_inputs``, for the applier (imported when called, as above)."""
    from zplan.provider import changed_inputs

    return changed_inputs(schema, desired, recorded, ignored, current)


def diff(resource: ResourceConfig, schema: ResourceSchema, desired: dict[str, Any], recorded: dict | None,
         pending: dict[str, list[str]] | None = None, taken: TakenSettings | None = None) -> tuple[m.Action, list[m.Reason], list[str]]:
    """The action, its reasons and the attributes forcing a replacement, from what was recorded
    (unsealed, with any refresh merged in) and what the configuration wants now. ``pending``
    names, per attribute, the rerunning steps whose output it is (the reason says so); ``taken``
    the provider settings the resource takes by default (a changed one changes it)."""
    from zplan.provider import provider_name_for

    pending, taken = pending or {}, taken or {}
    if recorded is None:
        return m.CREATE, [m.Reason(m.NEW_IN_CONFIG, "not yet created")], []
    if recorded.get("gone"):
        return m.CREATE, [m.Reason(m.GONE_OUTSIDE, "deleted outside zplan")], []
    changed = changed_inputs(schema, desired, recorded.get("inputs", {}), resource.lifecycle.ignore_changes, recorded.get("attributes"))
    drifted = sorted(set(recorded.get("drift", [])) - set(resource.lifecycle.ignore_changes))  # ignore_changes: changed outside zplan by design
    moved = moved_settings(taken, recorded)
    if not changed and not drifted and not moved:
        return m.NOOP, [], []
    forcing = [k for k in changed if schema.attributes[k].force_new]
    filled = [taken[s][0] for s in moved]  # "" (no attribute): the setting places the whole resource
    replacing = [a for a in filled if not a or a not in schema.attributes or schema.attributes[a].force_new]
    by_steps = [m.Reason(m.UPSTREAM_RERUNS, f"{k} changes (step {', '.join(pending[k])} reruns)") for k in changed if k in pending]
    others = [k for k in changed if k not in pending]
    if forcing or replacing:
        action, reasons = m.REPLACE, [m.Reason(m.FORCES_REPLACEMENT, f"{', '.join(forcing)} forces replacement")] if forcing else []
        forcing = forcing + [a for a in replacing if a and a not in forcing]
    else:
        action, reasons = m.UPDATE, [m.Reason(m.ATTRIBUTES_CHANGED, f"{', '.join(others)} changed")] if others else []
    reasons = by_steps + reasons
    if moved:
        reasons.append(m.Reason(m.PROVIDER_CHANGED, f"provider {provider_name_for(resource.type)}: {', '.join(moved)} changed"))
    if drifted:
        reasons.append(m.Reason(m.DRIFTED, f"changed outside zplan: {', '.join(drifted)}"))
    return action, reasons, forcing


def replace_requested(plan: m.ResourcePlan, schema: ResourceSchema) -> m.ResourcePlan:
    """``-replace ADDRESS``: a resource that would stay or update is replaced instead."""
    if plan.action not in (m.NOOP, m.UPDATE):
        return plan
    unknown = [k for k, a in schema.attributes.items() if a.computed and k not in (plan.after or {})]
    return dataclasses.replace(plan, action=m.REPLACE, unknown=unknown, reasons=[m.Reason(m.REPLACE_REQUESTED, "forced by -replace")])


def replaced_with_holder(plan: m.ResourcePlan, planned: Mapping[str, m.ResourcePlan], provider_of: Callable[[str], Any]) -> m.ResourcePlan:
    """A resource that one it depends on deletes with itself when replaced (a file inside a folder
    replaced at its own path, as `-replace` does) is replaced too, and says why: left as it is, the
    plan would hide its deletion and state would record it as still there."""
    if plan.action not in (m.NOOP, m.UPDATE) or not plan.before:
        return plan
    for address in plan.depends_on:
        holder = planned.get(address)
        if holder is None or holder.action != m.REPLACE or holder.create_before_destroy or not holder.before \
                or holder.provider != plan.provider:  # (create_before_destroy at the same path keeps the old object)
            continue
        provider = provider_of(plan.type)
        if provider.deletes_with(holder.type, holder.before, plan.type, plan.before):
            schema = provider.schemas[plan.type]
            unknown = [k for k, a in schema.attributes.items() if a.computed and k not in (plan.after or {})]
            why = m.Reason(m.FORCES_REPLACEMENT, f"{address} is replaced, and deleting it deletes this too")
            return dataclasses.replace(plan, action=m.REPLACE, unknown=unknown, reasons=[why])
    return plan


def check_held(plans: Mapping[str, m.ResourcePlan], recorded: Mapping[str, dict], provider_of: Callable[[str], Any]) -> None:
    """A resource replaced or destroyed that would delete with itself one this plan leaves out (-target,
    -exclude) or keeps is refused: the plan would hide that deletion and state would record it as there."""
    for holder in plans.values():
        if holder.action not in (m.REPLACE, m.DELETE) or holder.create_before_destroy or not holder.before:
            continue
        from zplan.provider import provider_name_for  # (here: a plan that replaces nothing never needs it)

        try:
            provider = provider_of(holder.type)
        except diags.DiagnosticError:  # its plugin is not installed: a removed resource still plans its delete
            continue
        for address, rec in recorded.items():
            held = plans.get(address)
            if _goes_with(held, holder) or rec.get("gone") or (rec.get("provider") or provider_name_for(rec["type"])) != holder.provider:
                continue
            if provider.deletes_with(holder.type, holder.before, rec["type"], rec.get("attributes") or {}):
                what = "replaced" if holder.action == m.REPLACE else "destroyed"
                raise diags.fail(f"{holder.address} is {what}, and deleting it deletes {address} too, which this plan "
                                 + ("leaves out" if held is None else "keeps"),
                                 f"plan it too (-target {address}, and no -exclude naming it), or plan without -target and -exclude"
                                 if held is None else f"destroy it too, move it out of {holder.address}, or keep {holder.address}")


def _goes_with(held: m.ResourcePlan | None, holder: m.ResourcePlan) -> bool:
    """Whether a planned resource is deleted first, or made anew after the resource holding it."""
    if held is None:
        return False
    return held.action == m.DELETE or (held.action in (m.REPLACE, m.CREATE) and holder.address in held.depends_on)


def plan_delete(address: str, recorded: dict, reason: m.Reason, prevent_destroy: bool | None = None) -> m.ResourcePlan:
    """``prevent_destroy`` from the configuration when the resource is still declared, else as recorded."""
    from zplan.provider import provider_name_for

    type_ = recorded["type"]
    return m.ResourcePlan(
        address=address,
        type=type_,
        name=short_name(address),
        provider=recorded.get("provider") or provider_name_for(type_),
        action=m.DELETE,
        before=dict(recorded["attributes"]),
        after=None,
        reasons=[reason],
        sensitive=list(recorded.get("sensitive", [])),
        depends_on=list(recorded.get("dependencies", [])),
        prevent_destroy=bool(recorded.get("prevent_destroy")) if prevent_destroy is None else prevent_destroy,
    )


def planned_names(plan: m.ResourcePlan) -> list[str]:
    """The attributes a planned resource will have: its inputs, what is known after apply, and
    what it keeps from before (an unchanged resource's computed attributes)."""
    if plan.action == m.DELETE:
        return []
    kept = plan.before if plan.before and plan.action in (m.NOOP, m.UPDATE) else {}
    return sorted({*(plan.after or {}), *plan.unknown, *kept})


def planned_value(plan: m.ResourcePlan, attribute: str) -> Any:
    """The value other expressions see for ``resource.T.N.attribute`` at plan time."""
    if plan.action == m.DELETE:
        return UNKNOWN
    if attribute in (plan.after or {}):
        return plan.after[attribute]
    if attribute in plan.unknown:
        return UNKNOWN
    if plan.before and attribute in plan.before and plan.action in (m.NOOP, m.UPDATE):
        return plan.before[attribute]
    return UNKNOWN
