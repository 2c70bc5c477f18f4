"""The dependency graph of steps and resources, built from references alone.

An edge A -> B means B needs A first: a step input naming another step's
output, a resource or step mentioning ``resource.T.N``, a resource attribute
naming a step output (a model to serve), ``depends_on``, a resource whose provider's
block names a resource, or a step running on a stack whose settings name a resource. Cycles and references to undeclared things
are user mistakes reported with their file and line.
"""

from __future__ import annotations

from zplan import diags
from zplan.addrs import is_resource
from zplan.config.model import Config, StepConfig
from zplan.config.references import depends_on_targets, module_dependencies, pipeline_of, targets  # noqa: F401 (pipeline_of: used by plan and apply)
from zplan.graph.dag import Dag


def build(config: Config, stack: str | None = None) -> Dag:
    graph = Dag()
    found = diags.Collector()
    steps = [(step.address, step) for step in config.steps()]
    for node, step in steps:
        graph.add_node(node, kind="step", range=step.range)
    for addr, resource in config.resources.items():
        graph.add_node(addr, kind="resource", range=resource.range)

    stack_deps: set[str] = set()
    if stack is not None and stack in config.stacks:
        for expr in config.stacks[stack].settings.values():
            stack_deps |= targets(config, expr.references(), None, None, found)

    deps_of = _StepDeps(config, found)
    for node, step in steps:
        for dep in deps_of(step) | stack_deps:
            graph.add_edge(dep, node)
    configured = _provider_reads(config, found)
    through_provider: dict[tuple[str, str], str] = {}  # an edge only a provider block makes -> that provider
    for addr, resource in config.resources.items():
        refs = [ref for expr in resource.attributes.values() for ref in expr.references()] + _repeat_refs(resource)
        deps = targets(config, refs, resource.where, None, found) | depends_on_targets(config, resource.depends_on, resource.where, None, found)
        deps |= module_dependencies(config, resource.where, found)
        for dep in deps | configured.get(addr, set()):
            graph.add_edge(dep, addr)
            if dep not in deps:
                through_provider[(dep, addr)] = _provider_of(resource.type)
    found.items = list(dict.fromkeys(found.items))  # a module call's depends_on is read for each block inside it: once
    found.raise_if_errors()
    _check_acyclic(graph, config, through_provider)
    return graph


def _provider_of(resource_type: str) -> str:
    from zplan.provider import provider_name_for

    return provider_name_for(resource_type)


def _provider_reads(config: Config, found: diags.Collector) -> dict[str, set[str]]:
    """resource -> what its provider's block reads (a resource's attribute): it waits for those, as
    in Terraform, so its provider is configured with their applied values."""
    if not config.providers:
        return {}
    from zplan.provider import provider_name_for

    reads = {name: targets(config, [ref for expr in block.settings.values() for ref in expr.references()], None, None, found)
             for name, block in config.providers.items()}
    return {addr: reads[name] for addr, resource in config.resources.items() if (name := provider_name_for(resource.type)) in reads}


class _StepDeps:
    """The nodes a step's references name. The instances of a for_each or count step share
    its expressions, and what they name depends on the module instance they are in, not on
    their key (``each.value`` names no node): worked out once per step body and module
    instance, as a 20,000-instance sweep would otherwise walk the same expressions 20,000
    times. A body whose references are in error is worked out (and reported) per instance."""

    def __init__(self, config: Config, found: diags.Collector) -> None:
        self.config, self.found = config, found
        self._known: dict[tuple, set[str]] = {}

    def __call__(self, step: StepConfig) -> set[str]:
        module = step.where.module.path if step.where is not None else ""
        key = (tuple(step.depends_on), step.inputs, step.params, step.repeat, module, step.pipeline)
        deps = self._known.get(key)
        if deps is None:
            errors = len(self.found.items)
            refs = [ref for expr in (step.inputs, step.params) if expr is not None for ref in expr.references()] + _repeat_refs(step)
            deps = targets(self.config, refs, step.where, step.pipeline, self.found)
            deps |= depends_on_targets(self.config, step.depends_on, step.where, step.pipeline, self.found)
            deps |= module_dependencies(self.config, step.where, self.found)
            if len(self.found.items) == errors:
                self._known[key] = deps
        return deps


def _repeat_refs(block) -> list:
    """What a block's count or for_each reads: each.value may carry it (a module's step output), so
    every instance waits for it, as in Terraform."""
    return block.repeat.expr.references() if block.repeat is not None else []


def resources_read(config: Config, step: StepConfig) -> set[str]:
    """The resources a step's params and inputs read (``resource.T.N.attr``, through locals, or the
    instance its each.value is): the step reruns when one of them changes. ``depends_on`` and the stack only order it."""
    if not config.resources:  # every resource, modules' included, is listed here after expansion
        return set()
    refs = [r for expr in (step.inputs, step.params) if expr is not None for r in expr.references()]
    read = {t for t in targets(config, refs, step.where, step.pipeline, diags.Collector()) if _is_resource(t)}
    each = step.where.each if step.where is not None else None
    if each is not None and any(r.parts[:2] == ("each", "value") for r in refs):
        read |= _read_through_each(config, each.value)
    return read


def _read_through_each(config: Config, value) -> set[str]:
    """The resources behind an each.value: the resource instances it is or holds, and what every output of
    a module instance it holds reads (any of them may be the one read: a redeploy reruns rather than goes unseen)."""
    from zplan.config.instance_values import instances_in
    from zplan.config.model import Where

    read = set()
    for instance in instances_in(value):
        if instance.kind == "resource":
            read.add(instance.address)
            continue
        child = config.module_instances[instance.address]
        refs = [r for output in child.config.outputs.values() for r in output.expr.references()]
        read |= {t for t in targets(config, refs, Where(child), None, diags.Collector()) if _is_resource(t)}
    return read


def _is_resource(address: str) -> bool:
    return is_resource(address)


def _check_acyclic(graph: Dag, config: Config, through_provider: dict[tuple[str, str], str]) -> None:
    """A cycle is named link by link; one closed by a provider block (a setting reading a resource
    that provider configures) names that block and points at it, the reference to remove."""
    try:
        graph.topological_order()  # (kept: the plan walks it)
        return
    except ValueError:
        nodes = graph.find_cycle()
    links, blocks = [str(nodes[0])], []
    for a, b in zip(nodes, nodes[1:] + nodes[:1]):
        name = through_provider.get((a, b))
        if name is not None:
            block = config.providers[name]
            links.append(f'provider "{name}" ({block.range.relative_to(config.project_dir)})')
            blocks.append(block)
        links.append(str(b))
    where = blocks[0].range if blocks else graph.nodes[nodes[0]].get("range")
    detail = ("remove one of these references: a provider block's setting cannot read a resource that provider configures "
              "(set it from a variable or a local instead)" if blocks else "remove one of these references")
    raise diags.fail(f"dependency cycle: {' -> '.join(links)}", detail, where)


def subgraph_for(graph: Dag, targets: list[str], excludes: list[str]) -> set[str]:
    """The nodes a -target/-exclude selection keeps: targets plus everything they need."""
    from zplan.addrs import matches_any

    nodes = set(graph.nodes)
    if targets:
        chosen = {n for n in nodes if matches_any(n, targets)}
        keep = set(chosen)
        for n in chosen:
            keep |= graph.ancestors(n)
        nodes = keep
    if excludes:
        dropped = {n for n in nodes if matches_any(n, excludes)}
        for n in list(dropped):
            dropped |= graph.descendants(n)  # what needs an excluded node cannot run either
        nodes -= dropped
    return nodes
