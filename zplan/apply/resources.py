"""Applying resource changes through their providers, and what applied resources are worth.

Used by the applier: deletions first (dependents before what they depend on),
then each create/update/replace as the graph walk reaches it. State is written
after every resource. Secret attributes are sealed before they are stored.
"""

from __future__ import annotations

import time
from typing import Any, Callable

from zplan import diags
from zplan.hooks import Hooks
from zplan.config.expr import UNKNOWN
from zplan.graph.walk import FAILED, OK
from zplan.plan import model as m
from zplan.plan.resources import desired_inputs, schema_for
from zplan.provider import Provider, ProviderContext, ProviderError, ResourceChange, ResourceResult
from zplan.state import secrets as sealed
from zplan.state.model import ResourceRecord, State


class ResourceApplier:
    def __init__(self, project, state: State, hooks: Hooks, persist: Callable[[], None], result) -> None:
        self.project = project
        self.state = state
        self.hooks = hooks
        self.persist = persist
        self.result = result  # the ApplyResult shared with the applier
        self._providers: dict[str, Provider] = {}
        self._started: dict[str, float] = {}

    def preflight(self, changes: list[m.ResourcePlan]) -> None:
        """Fail before anything changes when a provider cannot work (e.g. no Pulumi CLI)."""
        for name in sorted({r.provider for r in changes}):
            try:
                self._provider(name).preflight()
            except ProviderError as exc:
                raise diags.fail(f'provider "{name}" cannot apply changes: {exc}', "nothing was changed") from None

    def _provider(self, name: str) -> Provider:
        if name not in self._providers:
            cls = self.project.registry.provider_class(name)
            if cls is None:
                raise diags.fail(f'no installed provider "{name}"', "install its plugin package")
            cfg = self.project.config.providers.get(name)
            scope = self.project.scope(self.value)
            settings = {k: scope.eval(e) for k, e in cfg.settings.items()} if cfg else {}
            ctx = ProviderContext(self.project.root, self.project.state_dir, settings)
            self._providers[name] = cls(ctx)
        return self._providers[name]

    def apply_deletes(self, deletes: list[m.ResourcePlan]) -> None:
        blocked = [r.address for r in deletes if r.prevent_destroy]
        if blocked:
            raise diags.fail(f"{', '.join(blocked)} has lifecycle.prevent_destroy set", "remove prevent_destroy from the resource first")
        remaining = {r.address: r for r in deletes}
        while remaining:  # dependents first
            needed = {d for r in remaining.values() for d in r.depends_on}
            wave = [r for a, r in sorted(remaining.items()) if a not in needed] or list(remaining.values())
            for rp in wave:
                del remaining[rp.address]
                self.finish(rp, self.run(rp))

    def run(self, rp: m.ResourcePlan) -> ResourceResult:
        self.hooks.resource_started(rp.address, rp.action)
        self._started[rp.address] = time.monotonic()
        provider = self._provider(rp.provider)
        after = None
        if rp.action != m.DELETE:
            resource = self.project.config.resources[rp.address]
            schema = schema_for(self.project.registry, resource)
            after = desired_inputs(resource, schema, self.project.scope(self.value))
            if any(v is UNKNOWN for v in after.values()):
                return ResourceResult(rp.address, None, "an input is still unknown after its dependencies were applied")
        before = sealed.unseal_all(self.state.resources.get(rp.address, {}).get("attributes"), self.project.state_dir)
        change = ResourceChange(rp.address, rp.type, rp.name, rp.action, before, after, rp.create_before_destroy)
        results: list[ResourceResult] = []
        noops = self._noops(rp.provider, rp.address)
        method = provider.destroy if rp.action == m.DELETE else provider.apply
        try:
            method([change, *noops], results.append)
        except ProviderError as exc:
            return ResourceResult(rp.address, None, str(exc))
        except Exception as exc:
            return ResourceResult(rp.address, None, f"{type(exc).__name__}: {exc}")
        mine = [r for r in results if r.address == rp.address]
        return mine[-1] if mine else ResourceResult(rp.address, None, "provider reported no result")

    def _noops(self, provider: str, address: str) -> list[ResourceChange]:
        out = []
        for addr, rec in self.state.resources.items():
            if addr != address and rec.get("provider") == provider:
                attrs = sealed.unseal_all(rec["attributes"], self.project.state_dir)
                out.append(ResourceChange(addr, rec["type"], addr.rsplit(".", 1)[1], m.NOOP, attrs, attrs))
        return out

    def finish(self, rp: m.ResourcePlan, res: ResourceResult) -> ResourceResult:
        seconds = time.monotonic() - self._started.get(rp.address, time.monotonic())
        if res.ok:
            self.result.changed = True
            if rp.action == m.DELETE:
                self.state.forget(rp.address)
            else:
                resource = self.project.config.resources[rp.address]
                schema = schema_for(self.project.registry, resource)
                inputs = desired_inputs(resource, schema, self.project.scope(self.value))
                self.state.put_resource(rp.address, ResourceRecord.sealed(
                    rp.type, rp.provider, inputs, res.attributes or {}, schema.sensitive_names(), self.project.state_dir,
                    rp.depends_on, rp.prevent_destroy,
                ))
            self.persist()  # after every resource, atomically
        self.result.outcome[rp.address] = OK if res.ok else FAILED
        self.hooks.resource_finished(rp.address, rp.action, res.ok, seconds, res.error)
        return res

    def value(self, type_: str, name: str, attr: str) -> Any:
        rec = self.state.resources.get(f"resource.{type_}.{name}")
        if rec is None:
            return UNKNOWN
        value = rec["attributes"].get(attr, rec.get("inputs", {}).get(attr, UNKNOWN))
        return sealed.unseal(value, self.project.state_dir)
