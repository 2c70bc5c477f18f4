"""Applying resource changes through their providers, and what applied resources are worth.

Used by the applier: first the destroy phase (dependents before what they depend
on): deletions, and the old object of every replacement that depends on another
replacement (a file inside a folder that moves), so the folder is empty when it is
replaced. Then each create/update/replace as the graph walk reaches it; a
replacement already destroyed is created. State is written after every resource.
Secret attributes are sealed before they are stored.

A resource reading a step's output (a model to serve) is planned again when it
starts, with the artifact that step produced: when it came out identical to what
the resource already has, nothing is redeployed. ``changed`` says which resources
this run really changed (the steps reading them rerun).

A create-before-destroy replacement that something changing depends on keeps its old
object until after the walk (Terraform's "deposed" object), unless its provider is
declarative and replaces in one engine run. Calls to a provider that does not take
concurrent applies are made one at a time.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
import time
from typing import Any, Callable

from zplan import diags
from zplan.addrs import instance_name, short_name
from zplan.hooks import Hooks
from zplan.config.values import UNKNOWN, contains_unknown
from zplan.graph.walk import FAILED, OK
from zplan.plan import model as m
from zplan.plan.resources import StepOutputLookup, changed_inputs, desired_inputs, keep_ignored, recorded_settings, schema_for, taken_settings
from zplan.provider import Provider, ProviderError, ResourceChange, ResourceResult, provider_name_for, same_object
from zplan.secrets import Sensitive, holds_secret, is_sealed, redact
from zplan.state import secrets as sealed
from zplan.state.model import ResourceRecord, State


class ResourceApplier:
    def __init__(self, project, state: State, hooks: Hooks, persist: Callable[[], None], result,
                 step_output: StepOutputLookup | None = None) -> None:
        self.project = project
        self.step_output = step_output or (lambda ref: UNKNOWN)  # the run's view of each step's outputs
        self.changed: dict[str, str] = {}  # address -> the action this run applied to it
        self._unchanged: set[str] = set()  # planned to change with a step's output, which came out the same
        self.on_applied: Callable[[m.ResourcePlan, dict, float], None] | None = None  # records deployments
        self.state = state
        self.hooks = hooks
        self.persist = persist
        self.result = result  # the ApplyResult shared with the applier
        self._providers: dict[str, Provider] = {}
        self._started: dict[str, float] = {}
        self._locks: dict[str, threading.Lock] = {}  # one per provider that must not overlap
        self._landed: dict[str, tuple[str, dict | None, frozenset[str]]] = {}  # address -> (type, attrs, secret inputs)
        self._destroyed_first: set[str] = set()  # replacements whose old object went in the destroy phase
        self._deposing: dict[str, m.ResourcePlan] = {}  # create-before-destroy replacements whose old object waits
        self._deposed: dict[str, dict] = {}  # address -> old attributes, once the new object is created
        self._ancestors: dict[str, set[str]] = {}

    def preflight(self, changes: list[m.ResourcePlan]) -> None:
        """Fail before anything changes when a provider cannot work (e.g. no Pulumi CLI)."""
        for name in sorted({r.provider for r in changes}):
            provider = self._provider(name)
            if contains_unknown(dict(provider.context.config)):
                continue  # its block reads a resource this apply makes: its own calls fail cleanly if it cannot work
            try:
                provider.preflight()
            except ProviderError as exc:
                raise diags.fail(f'provider "{name}" cannot apply changes: {exc}', "nothing was changed") from None

    def _provider(self, name: str) -> Provider:
        """The provider configured by its block as it evaluates now: a block may read a resource this
        apply creates or changes (the provider's resources wait for it: the graph says so), so it is
        evaluated again at each use, and the provider opened again when its settings changed."""
        provider = self._providers.get(name)
        if provider is None or name in self.project.config.providers:
            fresh = self.project.registry.open(name, self.project, self.value, self._notice)
            if provider is None or dict(fresh.context.config) != dict(provider.context.config):
                self._providers[name] = provider = fresh
        return provider

    def _notice(self, text: str) -> None:
        """A provider's progress line (an engine's output quotes values: a failing one, its outputs)."""
        self.hooks.notice(redact(text, self.project.secrets))

    def apply_destroys(self, resources: list[m.ResourcePlan], stopping: Callable[[], bool] = lambda: False) -> None:
        """The destroy phase: deletions and early replacement halves, dependents first
        (the one under way finishes when ``stopping()`` turns true; no more start)."""
        deletes = [r for r in resources if r.action == m.DELETE]
        blocked = [r.address for r in deletes if r.prevent_destroy]
        if blocked:
            raise diags.fail(f"{', '.join(blocked)} has lifecycle.prevent_destroy set", "remove prevent_destroy from the resource first")
        self._ancestors = ancestors({r.address: r.depends_on for r in resources})
        later = deposed_later(resources, self._ancestors)
        self._deposing = {r.address: r for r in later if not self._provider(r.provider).declarative}
        early = {r.address: dataclasses.replace(r, action=m.DELETE) for r in replaced_first(resources, self._ancestors)}
        for rp in self._dependents_first(deletes + list(early.values())):
            if stopping():
                break
            if self.finish(rp, self.run(rp)).ok and rp.address in early:
                self._destroyed_first.add(rp.address)

    def destroy_deposed(self) -> None:
        """Delete the old objects of create-before-destroy replacements, once what used
        them has moved to the new ones (after the walk), dependents first."""
        for rp in self._dependents_first([self._deposing[a] for a in self._deposed]):
            if same_object(self._deposed[rp.address], (self.state.resources.get(rp.address) or {}).get("attributes")):
                del self._deposed[rp.address]  # the new object took the old one over: nothing is left to delete
                continue
            self.hooks.resource_started(rp.address, m.DELETE)
            started = time.monotonic()
            old = ResourceChange(rp.address, rp.type, instance_name(rp.address), m.DELETE, self._deposed.pop(rp.address), None)
            provider = self._provider(rp.provider)
            with self._lock(rp.provider, provider):
                res = self._call(provider, old)
            if not res.ok:
                res = ResourceResult(rp.address, None, f"the replaced object {old.before.get('id', '')} was not deleted "
                                     f"(no longer in state: delete it by hand): {res.error}")
                self.result.outcome[rp.address] = FAILED
            self.hooks.resource_finished(rp.address, m.DELETE, res.ok, time.monotonic() - started, redact(res.error, self.project.secrets))

    def _dependents_first(self, plans: list[m.ResourcePlan]) -> list[m.ResourcePlan]:
        remaining = {r.address: r for r in plans}
        order = []
        while remaining:
            needed = {d for a in remaining for d in self._ancestors.get(a, ())}
            wave = [r for a, r in sorted(remaining.items()) if a not in needed] or list(remaining.values())
            for rp in wave:
                del remaining[rp.address]
                order.append(rp)
        return order

    def run(self, rp: m.ResourcePlan) -> ResourceResult:
        self.hooks.resource_started(rp.address, rp.action)
        self._started[rp.address] = time.monotonic()
        provider = self._provider(rp.provider)
        after = None
        if rp.action != m.DELETE:
            resource = self.project.config.resources[rp.address]
            schema = schema_for(self.project.registry, resource)
            try:
                after = self.desired(rp)
            except diags.DiagnosticError as exc:
                return ResourceResult(rp.address, None, "; ".join(f"{d.summary} ({d.detail})" if d.detail else d.summary for d in exc.diagnostics))
            if any(v is UNKNOWN for v in after.values()):
                return ResourceResult(rp.address, None, "an input is still unknown after its dependencies were applied")
            if self._same_as_recorded(rp, schema, after):
                self._unchanged.add(rp.address)
                return ResourceResult(rp.address, self.state.resources[rp.address]["attributes"])
        action, before = rp.action, None
        if rp.address in self._destroyed_first:
            action = m.CREATE  # the old object went in the destroy phase
        else:
            before = sealed.unseal_all(self.state.resources.get(rp.address, {}).get("attributes"), self.project.state_dir)
        old = None
        if rp.address in self._deposing:
            action, before, old = m.CREATE, None, before  # the old object is deleted after the walk
        secret = frozenset({*rp.sensitive, *(k for k, v in (after or {}).items() if holds_secret(v, self.project.secrets))})
        change = ResourceChange(rp.address, rp.type, instance_name(rp.address), action, before, after, rp.create_before_destroy, secret)
        with self._lock(rp.provider, provider):
            result = self._call(provider, change)
            if result.ok:
                self._landed[rp.address] = (rp.type, None if action == m.DELETE else dict(result.attributes or {}), secret)
        if result.ok and old is not None:
            self._deposed[rp.address] = old
        return result

    def desired(self, rp: m.ResourcePlan) -> dict[str, Any]:
        """The inputs the configuration wants now, with what this run has applied and produced
        (and, as planned, the current value of each attribute ``ignore_changes`` names)."""
        resource = self.project.config.resources[rp.address]
        schema = schema_for(self.project.registry, resource)
        wanted = desired_inputs(resource, schema, self.project.scope(self.value, self.names), self.step_output)
        if rp.action == m.CREATE or rp.after is None or not resource.lifecycle.ignore_changes:
            return wanted
        return keep_ignored(wanted, {"inputs": rp.after}, resource.lifecycle.ignore_changes)

    def _same_as_recorded(self, rp: m.ResourcePlan, schema, after: dict[str, Any]) -> bool:
        """Planned to change only because a step it reads was to rerun, and that step's
        output came out identical (early cutoff): nothing to redeploy."""
        codes = {r.code for r in rp.reasons}
        if rp.action not in (m.UPDATE, m.REPLACE) or m.UPSTREAM_RERUNS not in codes:
            return False
        if codes - {m.UPSTREAM_RERUNS, m.ATTRIBUTES_CHANGED, m.FORCES_REPLACEMENT} or rp.address in self._destroyed_first:
            return False
        recorded = sealed.unseal_all(self.state.resources.get(rp.address, {}).get("inputs", {}), self.project.state_dir)
        resource = self.project.config.resources[rp.address]
        return not changed_inputs(schema, after, recorded, resource.lifecycle.ignore_changes)

    def _lock(self, name: str, provider: Provider):
        """Serialises the calls to a provider that cannot take two applies at once."""
        if provider.concurrent_applies:
            return contextlib.nullcontext()
        return self._locks.setdefault(name, threading.Lock())

    def _call(self, provider: Provider, change: ResourceChange) -> ResourceResult:
        results: list[ResourceResult] = []
        try:
            if change.action == m.DELETE:
                provider.destroy([change], results.append)
            else:
                provider.apply([change, *self._noops(provider, change.address)], results.append)
        except ProviderError as exc:
            return ResourceResult(change.address, None, str(exc))
        except Exception as exc:
            return ResourceResult(change.address, None, f"{type(exc).__name__}: {exc}")
        mine = [r for r in results if r.address == change.address]
        return mine[-1] if mine else ResourceResult(change.address, None, "provider reported no result")

    def _noops(self, provider: Provider, address: str) -> list[ResourceChange]:
        """A declarative provider's other resources, as recorded or as just applied."""
        if not provider.declarative:
            return []
        current = {  # the names state keeps sealed stay secret in the engine's next run too
            addr: (rec["type"], sealed.unseal_all(rec["attributes"], self.project.state_dir), frozenset(rec.get("sensitive") or ()))
            for addr, rec in list(self.state.resources.items())
            if rec.get("provider") == provider.name
        }
        current.update({a: landed for a, landed in self._landed.items() if provider_name_for(landed[0]) == provider.name})
        return [
            ResourceChange(addr, type_, short_name(addr), m.NOOP, attrs, attrs, sensitive=secret)
            for addr, (type_, attrs, secret) in sorted(current.items())
            if addr != address and attrs is not None
        ]

    def finish(self, rp: m.ResourcePlan, res: ResourceResult) -> ResourceResult:
        seconds = time.monotonic() - self._started.get(rp.address, time.monotonic())
        if res.ok and rp.address in self._unchanged:
            self.result.outcome[rp.address] = OK
            self.hooks.resource_finished(rp.address, m.NOOP, True, seconds, None)
            return res
        attrs = dict(res.attributes or {})
        secret = self._secret_names(rp, attrs) if res.ok and rp.action != m.DELETE else set()
        if res.ok and self.on_applied is not None and rp.action != m.DELETE:
            self.on_applied(rp, {k: v for k, v in attrs.items() if k not in secret}, self._started.get(rp.address, time.monotonic()))
        if res.ok:
            self.changed[rp.address] = str(rp.action)
            self.result.changed = True
            if rp.action == m.DELETE:
                self.state.forget(rp.address)
            else:
                resource = self.project.config.resources[rp.address]
                schema = schema_for(self.project.registry, resource)
                inputs = self.desired(rp)
                taken = taken_settings(self._provider(rp.provider), rp.type, inputs, resource.lifecycle.ignore_changes, self.project.secrets)
                self.state.put_resource(rp.address, ResourceRecord.sealed(
                    rp.type, rp.provider, inputs, attrs, secret, self.project.state_dir,
                    rp.depends_on, rp.prevent_destroy, schema.version, recorded_settings(taken),
                ), self.project.stack_name)
            self.persist()  # after every resource, atomically
        elif res.old_deleted:  # zplan deleted it, so the next plan must not call it deleted outside zplan
            self.state.forget(rp.address)
            self.persist()
        self.result.outcome[rp.address] = OK if res.ok else FAILED
        self.hooks.resource_finished(rp.address, rp.action, res.ok, seconds, redact(res.error, self.project.secrets))
        return res

    def _secret_names(self, rp: m.ResourcePlan, attrs: dict) -> set[str]:
        """The attributes sealed in state: sensitive by schema or by the plan, and any the provider
        computed from a secret (a URL holding a sensitive name)."""
        schema = schema_for(self.project.registry, self.project.config.resources[rp.address])
        return {*schema.sensitive_names(), *rp.sensitive, *(k for k, v in attrs.items() if holds_secret(v, self.project.secrets))}

    def names(self, address: str) -> list[str]:
        """The attributes of ``address`` as recorded: what ``resource.T.N`` holds as a whole."""
        rec = self.state.resources.get(address)
        return sorted({*rec["attributes"], *rec.get("inputs", {})}) if rec is not None else []

    def value(self, address: str, attr: str) -> Any:
        rec = self.state.resources.get(address)
        if rec is None:
            return UNKNOWN
        value = rec["attributes"].get(attr, rec.get("inputs", {}).get(attr, UNKNOWN))
        clear = sealed.unseal(value, self.project.state_dir)
        return Sensitive(clear) if attr in rec.get("sensitive", ()) or is_sealed(value) else clear


def replaced_first(resources: list[m.ResourcePlan], ancestors: dict[str, set[str]]) -> list[m.ResourcePlan]:
    """Replacements (destroy, then create) that depend, directly or not, on another
    such replacement: their old object must go before that one is destroyed."""
    plain = {r.address for r in resources if r.action == m.REPLACE and not r.create_before_destroy}
    return [r for r in resources if r.address in plain and ancestors.get(r.address, set()) & plain]


def deposed_later(resources: list[m.ResourcePlan], ancestors: dict[str, set[str]]) -> list[m.ResourcePlan]:
    """Create-before-destroy replacements with a dependent that changes: the old object
    must outlive the dependent's change (a file still in the old folder)."""
    changing = {r.address for r in resources if r.action in (m.CREATE, m.UPDATE, m.REPLACE)}
    used = {d for a in changing for d in ancestors.get(a, ())}
    return [r for r in resources if r.action == m.REPLACE and r.create_before_destroy and r.address in used]


def ancestors(depends_on: dict[str, list[str]]) -> dict[str, set[str]]:
    """Everything each address depends on, through any chain (iterative: chains may be long)."""
    out: dict[str, set[str]] = {}
    for root in depends_on:
        stack = [root]
        while stack:
            address = stack[-1]
            deps = depends_on.get(address, ())
            pending = [d for d in deps if d not in out and d not in stack]
            if address in out or not pending:
                out.setdefault(address, set().union(*({d} | out.get(d, set()) for d in deps)))
                stack.pop()
            else:
                stack.extend(pending)
    return out
