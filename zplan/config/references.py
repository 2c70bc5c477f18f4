"""Which steps and resources an expression refers to, at the ``Where`` it is evaluated.

The graph's edges and a step's resource reads come from here: ``step.train`` is every
instance of a fanned-out step, ``step.train["a"]`` one of them; ``var.x`` inside a module
follows the calling block's expression, ``module.m.out`` the module's output, and a
module named in ``depends_on`` stands for everything in it.
"""

from __future__ import annotations

from zplan import diags
from zplan.addrs import instance_key, prefixed
from zplan.config.expr import Ref
from zplan.config.model import Config, ModuleInstance, Where
from zplan.config.instance_values import no_instance


def module_of(config: Config, where: Where | None) -> ModuleInstance:
    if where is not None:
        return where.module
    return config.module_instances.get("") or ModuleInstance("", config)


def pipeline_of(expr, config: Config, where: Where | None = None) -> str | None:
    """The pipeline of the first ``step.NAME`` an expression outside a pipeline names.

    An expression naming only undeclared steps gets ``ANY_PIPELINE``: step outputs may be used
    there, so its evaluation reports the undeclared step, not that steps cannot be used."""
    from zplan.config.scope import ANY_PIPELINE

    declared = module_of(config, where).config.pipelines
    names_a_step = False
    for ref in expr.references():
        if ref.parts[0] == "step" and len(ref.parts) > 1:
            names_a_step = True
            found = next((p for p, pl in declared.items() if ref.parts[1] in pl.steps), None)
            if found is not None:
                return found
    return ANY_PIPELINE if names_a_step else None


def targets(config: Config, refs: list[Ref], where: Where | None, pipeline: str | None, found: diags.Collector) -> set[str]:
    """Graph nodes (step and resource addresses) named by ``refs``; undeclared ones are reported."""
    out: set[str] = set()
    _Walk(config, found, out).refs(refs, where, pipeline, frozenset())
    return out


def depends_on_targets(config: Config, refs: list[Ref], where: Where | None, pipeline: str | None, found: diags.Collector) -> set[str]:
    """The nodes a ``depends_on`` names. Nothing evaluates it, so what names no step, resource or
    module, or a key that names no instance, is reported here: it would silently wait for nothing."""
    out: set[str] = set()
    _Walk(config, found, out, strict=True).refs(refs, where, pipeline, frozenset())
    return out


class _Walk:
    def __init__(self, config: Config, found: diags.Collector, out: set[str], strict: bool = False) -> None:
        self.config, self.found, self.out = config, found, out
        self.strict = strict  # the refs of a depends_on: each must name something (see depends_on_targets)

    def refs(self, refs: list[Ref], where: Where | None, pipeline: str | None, seen: frozenset) -> None:
        module = module_of(self.config, where)
        for ref in refs:
            parts, root = ref.parts, ref.parts[0]
            if root == "step" and len(parts) >= 2:
                self._step(ref, module, pipeline)
            elif root == "resource" and len(parts) >= 3:
                self._resource(ref, module, str(parts[1]), str(parts[2]), 3)
            elif len(parts) >= 2 and "_" in str(root) and (self.strict or f"resource.{root}.{parts[1]}" in module.config.resources):
                self._resource(ref, module, str(root), str(parts[1]), 2)  # depends_on = [local_directory.data]
            elif root == "module" and len(parts) >= 2:
                self._module(ref, module, seen)
            elif root in ("local", "var") and len(parts) >= 2:
                if (module.path, root, parts[1]) not in seen:
                    self._value(module, str(root), str(parts[1]), where, pipeline, seen | {(module.path, root, parts[1])})
            elif self.strict:
                self.found.error(f'depends_on cannot name "{ref}"', "it names steps, resources and modules: step.NAME, resource.TYPE.NAME "
                                 "(or TYPE.NAME) or module.NAME, with a key for one instance (step.NAME[\"KEY\"])", ref.range)

    def _step(self, ref: Ref, module: ModuleInstance, pipeline: str | None) -> None:
        name, declared = str(ref.parts[1]), module.config.pipelines
        if pipeline is None or pipeline not in declared:
            pipeline = next((p for p, pl in declared.items() if name in pl.steps), None)
        if pipeline is None or name not in declared[pipeline].steps:
            where = f"pipeline {pipeline}" if pipeline else "any pipeline"
            steps = declared[pipeline].steps if pipeline else [s for pl in declared.values() for s in pl.steps]
            self.found.error(f'reference to undeclared step "{name}"', f"steps of {where}: {', '.join(steps) or 'none'}", ref.range)
            return
        self._instances(prefixed(module.path, f"pipeline.{pipeline}.step.{name}"), ref, 2)

    def _resource(self, ref: Ref, module: ModuleInstance, type_: str, name: str, at: int) -> None:
        if f"resource.{type_}.{name}" not in module.config.resources:
            self.found.error(f'reference to undeclared resource "{type_}.{name}"', f'declare it: resource "{type_}" "{name}" {{ ... }}', ref.range)
            return
        self._instances(prefixed(module.path, f"resource.{type_}.{name}"), ref, at)

    def _instances(self, base: str, ref: Ref, at: int) -> None:
        """``base`` or, when ``ref`` names one by its part ``at``, one of its instances."""
        found = self.config.instances.get(base)
        key = ref.parts[at : at + 1]
        if found is None or found.kind == "single":
            self.out.add(base)
        elif key and key[0] in found.keys:
            self.out.add(base + instance_key(key[0]))
        elif key and self.strict:
            self.found.extend(no_instance(found, base, ref.parts, at, ref).diagnostics)
        else:
            self.out.update(base + instance_key(k) for k in found.keys)

    def _module(self, ref: Ref, module: ModuleInstance, seen: frozenset) -> None:
        base = module.child_path(str(ref.parts[1]))
        found = self.config.instances.get(base)
        if found is None:
            self.found.error(f'reference to undeclared module "{ref.parts[1]}"', "declare it with a module block", ref.range)
            return
        rest = ref.parts[2:]
        if found.kind == "single":
            paths = [base]
        elif rest and rest[0] in found.keys:
            paths, rest = [base + instance_key(rest[0])], rest[1:]
        elif rest and self.strict:
            outputs = self.config.module_instances[base + instance_key(found.keys[0])].config.outputs if found.keys else ()
            self.found.extend(no_instance(found, base, ref.parts, 2, ref, outputs).diagnostics)
            return
        else:
            paths, rest = [base + instance_key(k) for k in found.keys], ()
        for path in paths:
            child = self.config.module_instances[path]
            outputs = [str(rest[0])] if rest and str(rest[0]) in child.config.outputs else list(child.config.outputs)
            if not rest:  # the whole module (depends_on = [module.m]): everything in it
                self.out.update(a for a in self._addresses() if a.startswith(path + ".") or a.startswith(path + "["))
            for name in outputs:
                if (path, "output", name) not in seen:
                    expr = child.config.outputs[name].expr
                    self._follow(expr.references(), Where(child), None, seen | {(path, "output", name)})

    def _value(self, module: ModuleInstance, kind: str, name: str, where: Where | None, pipeline: str | None, seen: frozenset) -> None:
        if kind == "local":
            local = module.config.locals.get(name)
            if local is not None:
                self._follow(local.expr.references(), where if module.call is None else Where(module), pipeline, seen)
        elif module.call is not None and name in module.call.inputs:
            self._follow(module.call.inputs[name].references(), Where(module.parent, module.each), None, seen)

    def _follow(self, refs: list[Ref], where: Where | None, pipeline: str | None, seen: frozenset) -> None:
        """The references of an expression a reference leads to (an output, a local, an input): evaluated
        when planned, which reports their mistakes, so walked as any expression's."""
        _Walk(self.config, self.found, self.out).refs(refs, where, pipeline, seen)

    def _addresses(self) -> list[str]:
        return [s.address for s in self.config.steps()] + list(self.config.resources)


def module_dependencies(config: Config, where: Where | None, found: diags.Collector) -> set[str]:
    """What a block inside a module waits for: the ``depends_on`` of every module call around it, and
    what their count / for_each read."""
    out: set[str] = set()
    module = where.module if where is not None else None
    while module is not None and module.call is not None:
        if module.call.depends_on:
            out |= depends_on_targets(config, module.call.depends_on, Where(module.parent, module.each), None, found)
        if module.call.repeat is not None:  # each.value in its inputs may carry what the for_each read
            out |= targets(config, module.call.repeat.expr.references(), Where(module.parent), None, found)
        module = module.parent
    return out
