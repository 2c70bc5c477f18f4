"""The dependency graph of steps and resources, built from references alone.

An edge A -> B means B needs A first: a step input naming another step's
output, a resource or step mentioning ``resource.T.N``, a resource attribute
naming a step output (a model to serve), ``depends_on``, or a step running on a
stack whose settings name a resource. Cycles and references to undeclared things
are user mistakes reported with their file and line.
"""

from __future__ import annotations

from zplan import diags
from zplan.config.expr import Ref
from zplan.config.model import Config, StepConfig
from zplan.graph.dag import Dag


def build(config: Config, stack: str | None = None) -> Dag:
    graph = Dag()
    found = diags.Collector()
    for step in config.steps():
        graph.add_node(str(step.addr), kind="step", range=step.range)
    for addr, resource in config.resources.items():
        graph.add_node(addr, kind="resource", range=resource.range)

    stack_deps: set[str] = set()
    if stack is not None and stack in config.stacks:
        for expr in config.stacks[stack].settings.values():
            stack_deps |= _targets(config, expr.references(), None, found)

    for step in config.steps():
        node = str(step.addr)
        refs = list(step.depends_on)
        for expr in (step.inputs, step.params):
            if expr is not None:
                refs += expr.references()
        for dep in _targets(config, refs, step, found) | stack_deps:
            graph.add_edge(dep, node)
    for addr, resource in config.resources.items():
        refs = list(resource.depends_on)
        for expr in resource.attributes.values():
            refs += expr.references()
        for dep in _targets(config, refs, None, found):
            graph.add_edge(dep, addr)
    found.raise_if_errors()
    _check_acyclic(graph)
    return graph


def _targets(config: Config, refs: list[Ref], step: StepConfig | None, found: diags.Collector, seen: frozenset = frozenset()) -> set[str]:
    """Graph nodes named by a list of references (locals are followed)."""
    out: set[str] = set()
    for ref in refs:
        parts = ref.parts
        root = parts[0]
        if root == "step" and len(parts) >= 2:
            name = str(parts[1])
            pipeline = step.pipeline if step is not None else pipeline_declaring(config, name)
            if pipeline is None or name not in config.pipelines[pipeline].steps:
                where = f"pipeline {pipeline}" if pipeline else "any pipeline"
                declared = config.pipelines[pipeline].steps if pipeline else [s.name for s in config.steps()]
                found.error(f'reference to undeclared step "{name}"', f"steps of {where}: {', '.join(declared) or 'none'}", ref.range)
                continue
            out.add(f"pipeline.{pipeline}.step.{name}")
        elif root == "resource" and len(parts) >= 3:
            addr = f"resource.{parts[1]}.{parts[2]}"
            if addr not in config.resources:
                found.error(f'reference to undeclared resource "{parts[1]}.{parts[2]}"', f'declare it: resource "{parts[1]}" "{parts[2]}" {{ ... }}', ref.range)
                continue
            out.add(addr)
        elif root == "local" and len(parts) >= 2 and parts[1] in config.locals and parts[1] not in seen:
            local = config.locals[str(parts[1])]
            out |= _targets(config, local.expr.references(), step, found, seen | {parts[1]})
        elif len(parts) == 2 and "_" in str(root) and f"resource.{root}.{parts[1]}" in config.resources:
            out.add(f"resource.{root}.{parts[1]}")  # depends_on = [local_directory.data]
    return out


def pipeline_declaring(config: Config, step: str) -> str | None:
    """The pipeline a ``step.NAME`` outside any pipeline (a resource, an output) means: the first that declares it."""
    return next((name for name, pipeline in config.pipelines.items() if step in pipeline.steps), None)


def pipeline_of(expr, config: Config) -> str | None:
    """The pipeline of the first ``step.NAME`` an expression outside a pipeline names."""
    for ref in expr.references():
        if ref.parts[0] == "step" and len(ref.parts) > 1:
            found = pipeline_declaring(config, str(ref.parts[1]))
            if found is not None:
                return found
    return None


def resources_read(config: Config, step: StepConfig) -> set[str]:
    """The resources a step's params and inputs read (``resource.T.N.attr``, through locals):
    the step reruns when one of them changes. ``depends_on`` and the stack only order it."""
    refs = [r for expr in (step.inputs, step.params) if expr is not None for r in expr.references()]
    return {t for t in _targets(config, refs, step, diags.Collector()) if t.startswith("resource.")}


def _check_acyclic(graph: Dag) -> None:
    nodes = graph.find_cycle()
    if nodes is None:
        return
    path = " -> ".join(nodes + [nodes[0]])
    raise diags.fail(f"dependency cycle: {path}", "remove one of these references", graph.nodes[nodes[0]].get("range"))


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
