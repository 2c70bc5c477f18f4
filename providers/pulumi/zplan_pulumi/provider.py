"""A zplan provider whose resources are applied by one Pulumi stack.

A cloud provider (gcp, aws) subclasses ``PulumiProvider`` with a table of
``TypeMap`` and a credentials check; everything else is shared. Each wave runs
``pulumi up`` with a program declaring every resource that must exist after the
wave, so Pulumi creates, updates, replaces and deletes in one engine run;
``destroy`` is a targeted ``pulumi destroy`` of exactly the resources named.
"""

from __future__ import annotations

import os
import subprocess
from typing import Any, Callable, Iterable, Mapping

from zplan.provider import Action, Provider, ProviderError, ResourceChange, ResourceResult

from .engine import StackSpec, open_stack, package_settings, stack_spec
from .events import EventLog, engine_message
from .preflight import require_cli
from .results import after_failure, from_outputs, live_resources, read_deployment, where_live
from .spec import TypeMap, check_values, urn

Report = Callable[[ResourceResult], None]


class PulumiProvider(Provider):
    package: str = ""  # the Pulumi package and config namespace, e.g. "gcp"
    types: Mapping[str, TypeMap] = {}
    secret_config: frozenset[str] = frozenset()  # provider block keys stored as Pulumi secrets
    # credentials of the provider block given to the engine as the variable its package reads
    # (never on a command line): setting -> environment variable
    secret_env: Mapping[str, str] = {}
    # type -> {provider block setting: the attribute it fills when unset, "" for none}: the cloud
    # package's defaults, which a change of the setting moves (``Provider.settings_taken``)
    provider_defaults: Mapping[str, Mapping[str, str]] = {}
    setting_env: Mapping[str, tuple[str, ...]] = {}  # setting -> the variables the package reads when it is unset
    declarative = True  # each ``pulumi up`` declares every resource that must exist
    concurrent_applies = False  # one stack takes one run at a time

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.schemas = {t: m.schema for t, m in cls.types.items()}
        cls.sensitive_settings = cls.secret_config

    @classmethod
    def known_settings(cls) -> frozenset[str] | None:
        return package_settings(cls.package)

    def settings_taken(self, type_: str) -> Mapping[str, str]:
        return self.provider_defaults.get(type_, {})

    def setting_value(self, setting: str) -> Any:
        value = super().setting_value(setting)
        if value is None:
            value = next((os.environ[n] for n in self.setting_env.get(setting, ()) if os.environ.get(n)), None)
        return value

    # -- offline ----------------------------------------------------------------------
    def check(self, type_: str, inputs: Mapping[str, Any]) -> list[str]:
        return check_values(self.types[type_], inputs) if type_ in self.types else []

    def credentials_problem(self) -> str | None:
        """A message when no credentials can be found (subclasses know where to look)."""
        return None

    def preflight(self) -> None:
        require_cli(self.name)
        self.spec()  # a shared backend without a passphrase fails here
        problem = self.credentials_problem()
        if problem:
            raise ProviderError(problem)

    def spec(self) -> StackSpec:
        return stack_spec(self.context, self.package, self.secret_config, secret_env=self.secret_env)

    def urn(self, spec: StackSpec, change: ResourceChange) -> str:
        return urn(spec.stack, spec.project, self.types[change.type], change.address)

    def log(self, line: str) -> None:
        line = line.rstrip()
        if line:
            self.context.log(line)

    # -- apply ------------------------------------------------------------------------
    def apply(self, changes: list[ResourceChange], on_result: Report) -> None:
        """One ``pulumi up`` whose program declares every resource but the deleted ones."""
        from .program import make_program

        active = [c for c in changes if c.action != Action.NOOP]
        if not active:
            return
        spec = self._ready(active, on_result)
        if spec is None:
            return
        log = EventLog()
        aliases: dict[str, str] = {}
        try:
            stack = open_stack(spec, make_program(changes, self.types, aliases))
            live = live_resources(stack.export_stack().deployment or {})
            aliases.update(self._moved(spec, live, [c for c in changes if c.action != Action.CREATE]))
            refuse_strangers(spec, live, {aliases.get(c.address) or self.urn(spec, c) for c in changes})
            replace = [self.urn(spec, c) for c in active if c.action == "replace"]
            result = stack.up(on_output=self.log, on_event=log, replace=replace or None, color="never")
        except Exception as exc:  # noqa: BLE001 - engine failures are reported per resource
            self._after_failure(spec, active, log, exc, on_result)
            return
        outputs = {k: v.value for k, v in result.outputs.items()}
        for change in active:
            on_result(from_outputs(self.types[change.type], change, outputs))

    def destroy(self, changes: list[ResourceChange], on_result: Report) -> None:
        """Delete exactly ``changes`` (a targeted destroy); the whole stack once nothing else is left."""
        if not changes:
            return
        spec = self._ready(changes, on_result)
        if spec is None:
            return
        log = EventLog()
        try:
            stack = open_stack(spec, _no_program, create=False)
            live = live_resources(stack.export_stack().deployment or {}) if stack else {}
            found = where_live(live, self._wanted(spec, [(c.address, c.type, c.before) for c in changes]))
            targets = destroy_targets(live, [found[c.address] for c in changes if c.address in found])
            if targets != []:
                stack.destroy(target=targets, on_output=self.log, on_event=log, color="never")
        except Exception as exc:  # noqa: BLE001
            self._after_failure(spec, changes, log, exc, on_result)
            return
        for change in changes:  # including those already gone
            on_result(ResourceResult(change.address, None))

    def _wanted(self, spec: StackSpec, recorded: Iterable[tuple[str, str, Mapping[str, Any] | None]]):
        """``where_live``'s question for (address, type, recorded attributes)."""
        return {a: (urn(spec.stack, spec.project, self.types[t], a), self.types[t].token, (attrs or {}).get("id"))
                for a, t, attrs in recorded if t in self.types}

    def _moved(self, spec: StackSpec, live: Mapping[str, Any], changes: list[ResourceChange]) -> dict[str, str]:
        """address -> the URN the stack has it under, for those zplan's state alone moved (aliases)."""
        wanted = self._wanted(spec, [(c.address, c.type, c.before) for c in changes])
        found = where_live(live, wanted)
        return {a: u for a, u in found.items() if u != wanted[a][0]}

    def _ready(self, changes: list[ResourceChange], on_result: Report) -> StackSpec | None:
        """The stack to run on, or None after failing every change (no CLI, credentials or passphrase)."""
        try:
            self.preflight()
            return self.spec()
        except ProviderError as exc:
            _fail_all(changes, str(exc), on_result)
            return None

    def _after_failure(
        self, spec: StackSpec, changes: list[ResourceChange], log: EventLog, exc: Exception, on_result: Report
    ) -> None:
        why = _describe(exc, log)
        for change in changes:
            on_result(after_failure(self.types[change.type], self.urn(spec, change), change, log, why))

    # -- drift ------------------------------------------------------------------------
    def refresh(self, resources: Mapping[str, tuple[str, Mapping[str, Any]]]) -> dict[str, dict[str, Any] | None]:
        """Read every recorded resource back from the cloud (``pulumi refresh``).

        Stack outputs are only recomputed by ``up``, so the refreshed values
        are read from the exported stack state, where Pulumi keeps them under
        their wire (camelCase) names.
        """
        if not resources:
            return {}
        self.preflight()
        spec = self.spec()
        try:
            stack = open_stack(spec, _no_program, create=False)
            if stack is None:
                return {address: None for address in resources}
            stack.refresh(on_output=self.log, color="never")
            deployment = stack.export_stack().deployment or {}
        except Exception as exc:  # noqa: BLE001
            raise ProviderError(f"pulumi refresh failed: {_describe(exc, EventLog())}") from exc
        urns = where_live(live_resources(deployment), self._wanted(spec, [(a, t, attrs) for a, (t, attrs) in resources.items()]))
        return read_deployment(self.types, urns, resources, deployment)


def refuse_strangers(spec: StackSpec, live: Iterable[str], declared: set[str]) -> None:
    """A run declares every resource zplan records for the stack; one the stack holds besides (forgotten
    with `zplan state rm`, or applied by another zplan stack whose state is elsewhere) would be deleted
    by ``pulumi up`` though no plan said so: refused, naming them, before anything changes."""
    strangers = sorted(set(live) - declared)
    if strangers:
        names = ", ".join(u.rsplit("::", 2)[-1] for u in strangers[:5]) + (", ..." if len(strangers) > 5 else "")
        raise ProviderError(
            f"the Pulumi stack {spec.stack!r} ({spec.backend}) holds {len(strangers)} resource(s) this zplan state does not "
            f"record ({names}), which this run would delete: nothing was applied. Give each zplan stack its own Pulumi stack "
            f"(stack = \"...\" in the provider block), or remove them from the Pulumi stack (pulumi state delete URN keeps "
            f"the cloud object): {', '.join(strangers)}"
        )


def destroy_targets(live: Iterable[str], wanted: Iterable[str]) -> list[str] | None:
    """The ``--target`` list for a destroy: [] when none of ``wanted`` exists (nothing
    to run), None when they are all that is left (destroy the whole stack)."""
    live = set(live)
    targets = [u for u in wanted if u in live]
    if targets and live <= set(targets):
        return None
    return targets


def _no_program() -> None:
    """The program of runs that never execute it (destroy, refresh)."""


def _fail_all(changes: Iterable[ResourceChange], message: str, on_result: Report) -> None:
    for change in changes:
        on_result(ResourceResult(change.address, None, message))


def _describe(exc: BaseException, log: EventLog) -> str:
    if isinstance(exc, FileNotFoundError) and "pulumi" in str(exc):
        return "the Pulumi CLI disappeared from PATH during the run"
    if isinstance(exc, subprocess.CalledProcessError):  # the Automation API's own CLI checks
        command = " ".join(str(part) for part in exc.cmd) if isinstance(exc.cmd, (list, tuple)) else str(exc.cmd)
        return f"the Pulumi CLI failed: `{command}` exited with status {exc.returncode}"
    return engine_message(exc, log)
