"""`zplan import TYPE.NAME ID`: adopt an existing resource into state through its provider."""

from __future__ import annotations

from zplan import addrs, diags
from zplan.operations.opening import ProjectArgs, open_project
from zplan.operations.planning import lock_timeout_seconds
from zplan.operations.state_ops import LockViews
from zplan.plan.resources import desired_inputs, schema_for
from zplan.project import Project, ensure_state_dir
from zplan.provider import ProviderError, provider_name_for
from zplan.state.model import ResourceRecord, State


def import_resource(args: ProjectArgs, address: str, id_: str, lock_timeout: str, views: LockViews) -> str:
    """Read the resource ``id_`` through its provider and record it at ``address``; returns the address."""
    if not id_.strip():  # as Terraform: a provider would read it its own way (the local one, as the project folder)
        raise diags.fail("the import ID cannot be empty", f"give the ID of the existing resource: zplan import {address} ID")
    try:
        parsed = addrs.parse(address)
    except ValueError as exc:
        raise diags.fail(str(exc)) from None
    key = str(parsed)
    if isinstance(parsed, addrs.StepAddr):  # a step's record is made by running it: there is nothing to adopt
        raise diags.fail(f"{key} is a step: `zplan import` adopts resources only",
                         f"a step's outputs are recorded by running it: zplan apply -target {key}")
    project = open_project(args)
    ensure_state_dir(project)
    backend = project.state_backend()
    with backend.lock("import", lock_timeout_seconds(lock_timeout), views.on_wait, views.on_stale):
        state = State(backend.read())
        state.put_resource(key, _record(project, state, key, id_), project.stack_name)
        state.bump()
        backend.write(state.doc)
    return key


def _record(project: Project, state: State, address: str, id_: str) -> ResourceRecord:
    resource = project.config.resources.get(address)
    if resource is None:
        instances = sorted(a for a in project.config.resources if addrs.matches(a, address))
        if instances:  # a block with count or for_each: one instance is imported at a time, as in Terraform
            raise diags.fail(f"{address} has {len(instances)} instances: import into one of them",
                             f"give its key, e.g. zplan import '{instances[0]}' ID")
        raise diags.fail(f"{address} is not declared in the configuration", "add its resource block first, then import")
    if address in state.resources:
        raise diags.fail(f"{address} is already in state", "use `zplan state rm` first to import it again")
    schema = schema_for(project.registry, resource)
    provider_name = provider_name_for(resource.type)
    provider = project.registry.open(provider_name, project)
    try:
        attrs = provider.import_resource(resource.type, id_)
    except ProviderError as exc:
        raise diags.fail(f"cannot import {address}: {exc}") from None
    inputs = {k: v for k, v in attrs.items() if k in schema.inputs()}
    scope = project.recorded_scope(state)  # an input built from another resource's attribute (its id) is known
    try:  # record the configured inputs when they match, so a matching import plans as no-op
        wanted = desired_inputs(resource, schema, scope)
        # and only those, as an apply does: another record would rerun the steps reading the resource
        inputs = {k: v for k, v in inputs.items() if k in wanted}
    except diags.DiagnosticError:
        wanted = {}
    from_secret = {k for k, expr in resource.attributes.items() if scope.was_sensitive(expr)}
    for k, v in wanted.items():
        if k not in inputs:
            inputs[k] = v
        elif provider.same_input(resource.type, k, inputs[k], v):  # the provider's own comparison, not the spelling
            inputs[k] = attrs[k] = v
    secret = {*schema.sensitive_names(), *from_secret, *_holding_secrets(attrs, project.secrets)}
    return ResourceRecord.sealed(
        resource.type, provider_name, inputs, attrs, secret, project.state_dir, _dependencies(project, address),
        prevent_destroy=resource.lifecycle.prevent_destroy, schema_version=schema.version,
    )


def _holding_secrets(attrs: dict, secrets: list[str]) -> set[str]:
    """The imported attributes whose value holds a sensitive value of the configuration (a file
    read into ``content`` that the configuration writes from a secret): sealed like a secret."""
    from zplan.secrets import mask

    return {k for k, v in attrs.items() if mask(v, secrets) != v} if secrets else set()


def _dependencies(project: Project, address: str) -> list[str]:
    """What the resource stands on, as an apply records it: destroy deletes it before them."""
    from zplan.graph.build import build
    from zplan.plan.destroy_order import resource_ancestors

    return resource_ancestors(build(project.config, project.stack_name), address)
