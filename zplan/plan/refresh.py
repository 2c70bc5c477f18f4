"""Refresh: read recorded resources back from their providers, so a plan sees drift.

Shared by every command that plans and by the read API (which asks only the providers
whose reads are local and free).
"""

from __future__ import annotations

from zplan.project import Project
from zplan.state.model import State


def read_back(project: Project, state: State, everything: bool = False) -> dict[str, dict | None]:
    """Read recorded resources back from their providers (drift). By default only
    providers whose reads are local and free; ``-refresh`` asks every provider."""
    from zplan.state import secrets as sealed

    by_provider: dict[str, dict] = {}
    for addr, rec in state.resources.items():
        by_provider.setdefault(rec["provider"], {})[addr] = (rec["type"], sealed.unseal_all(rec["attributes"], project.state_dir))
    out: dict[str, dict | None] = {}
    for name, resources in by_provider.items():
        cls = project.registry.provider_class(name)
        if cls is None or not (everything or getattr(cls, "refresh_is_local", False)):
            continue
        provider = project.registry.open(name, project, _recorded_value(state, project))
        out.update(_refreshed(name, provider, resources, everything, project.secrets))
    return out


def _refreshed(name: str, provider, resources: dict, everything: bool, secrets: list[str]) -> dict[str, dict | None]:
    """One provider's read-back; one that cannot read (no CLI, no credentials) is the user's to fix."""
    from zplan import diags
    from zplan.provider import ProviderError
    from zplan.secrets import redact

    try:
        if everything:
            provider.preflight()
        return provider.refresh(resources)
    except ProviderError as exc:
        raise diags.fail(f'provider "{name}" cannot read its resources back: {redact(str(exc), secrets)}',
                         "plan without -refresh to compare the configuration with the recorded state; nothing was changed"
                         if everything else "nothing was changed") from None


def _recorded_value(state: State, project: Project):
    """Provider blocks may name resource attributes: before a plan, the recorded ones are all there is."""
    from zplan.config.values import UNKNOWN
    from zplan.state import secrets as sealed

    def value(type_: str, name: str, attr: str):
        record = state.resources.get(f"resource.{type_}.{name}")
        if record is None or attr not in record["attributes"]:
            return UNKNOWN
        return sealed.unseal_all({attr: record["attributes"][attr]}, project.state_dir)[attr]

    return value
