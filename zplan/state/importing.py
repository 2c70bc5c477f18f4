"""`zplan import TYPE.NAME ID`: adopt an existing resource into state through its provider."""

from __future__ import annotations

from zplan import diags
from zplan.plan.resources import desired_inputs, schema_for
from zplan.provider import ProviderContext, ProviderError, provider_name_for
from zplan.state.model import ResourceRecord, State


def import_into_state(project, backend, address: str, id_: str) -> None:
    resource = project.config.resources.get(address)
    if resource is None:
        raise diags.fail(f"{address} is not declared in the configuration", "add its resource block first, then import")
    state = State(backend.read())
    if address in state.resources:
        raise diags.fail(f"{address} is already in state", "use `zplan state rm` first to import it again")
    schema = schema_for(project.registry, resource)
    provider_name = provider_name_for(resource.type)
    provider = project.registry.provider_class(provider_name)(ProviderContext(project.root, project.state_dir, {}))
    try:
        attrs = provider.import_resource(resource.type, id_)
    except ProviderError as exc:
        raise diags.fail(f"cannot import {address}: {exc}") from None
    inputs = {k: v for k, v in attrs.items() if k in schema.inputs()}
    try:  # record the configured inputs when they match, so a matching import plans as no-op
        wanted = desired_inputs(resource, schema, project.scope())
        inputs.update({k: v for k, v in wanted.items() if k not in inputs})
    except diags.DiagnosticError:
        pass
    state.put_resource(address, ResourceRecord.sealed(
        resource.type, provider_name, inputs, attrs, schema.sensitive_names(), project.state_dir,
        prevent_destroy=resource.lifecycle.prevent_destroy,
    ))
    state.bump()
    backend.write(state.doc)
