"""Adopting what a killed apply left behind.

An apply killed while a provider was creating an object (a service process waiting
to become healthy) leaves the object without a state record: planned again as new,
it would clash with itself ("port already in use") and `destroy` would not know it.
Providers whose reads are local say what they find (``Provider.leftover``); it is
recorded here as if that create had finished, and the plan diffs it as usual.
"""

from __future__ import annotations

from zplan import diags
from zplan.addrs import instance_name
from zplan.plan.resources import desired_inputs, schema_for
from zplan.state.model import ResourceRecord, State


def adopt_leftovers(project, state: State) -> list[str]:
    """Record in ``state`` (in memory) each configured resource a provider finds left over; their addresses."""
    if not project.config.resources:  # nothing to adopt: no need for the provider plugins
        return []
    from zplan.provider import Provider, provider_name_for

    adopted: list[str] = []
    providers: dict[str, Provider] = {}
    for address, resource in project.config.resources.items():
        if address in state.resources:
            continue
        name = provider_name_for(resource.type)
        try:
            cls = project.registry.provider_class(name)
        except diags.DiagnosticError:  # a plugin that cannot be loaded: the plan reports it at the block
            continue
        if cls is None or not cls.refresh_is_local or cls.leftover is Provider.leftover:
            continue
        schema = schema_for(project.registry, resource)
        try:
            inputs = desired_inputs(resource, schema, project.scope())
        except diags.DiagnosticError:
            inputs = {}  # the plan reports it; an adopted object then differs from it and is replaced
        if name not in providers:
            providers[name] = project.registry.open(name, project)
        attrs = providers[name].leftover(resource.type, instance_name(address), inputs)  # the name create is given
        if attrs is None:
            continue
        record_inputs = {k: attrs[k] for k in schema.inputs() if k in attrs}
        state.put_resource(address, ResourceRecord.sealed(
            resource.type, name, record_inputs, attrs, sorted(schema.sensitive_names()), project.state_dir,
            prevent_destroy=resource.lifecycle.prevent_destroy, schema_version=schema.version,
        ), project.stack_name)
        adopted.append(address)
    return adopted
