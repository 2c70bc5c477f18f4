"""The expansion stage: module calls, ``count`` and ``for_each`` become concrete instances.

It runs once variables (and the selected stack) are known and before the graph is
built. Each step and resource instance gets its full address (``module.a.pipeline.p.step.
train["c=0.5"]``, ``resource.t.d[0]``) and a ``Where`` (its module instance and key) that
the scope evaluates it at, so the graph, the planner and apply see plain steps and
resources as before, keyed by plain address strings in state and plan JSON. Expanding
here, rather than inside the graph, keeps the rest of the core unchanged and the cost
of a no-change plan at one dictionary entry per instance.

``count`` / ``for_each`` must be known now: an instance set that depends on a value known
only after apply is an error (as in Terraform), and so is ``for_each`` over a list. Blocks are
expanded in the order written, but one whose instances (or module outputs) another's count or
for_each reads is expanded first, when the scope asks for it.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from pathlib import Path
from typing import Any, Callable, Mapping

from zplan import diags
from zplan.addrs import instance_key, prefixed
from zplan.config import loader
from zplan.config.instance_values import Lazy, rebindable
from zplan.config.model import NO_DEFAULT, SINGLE, Config, Each, Instances, ModuleCall, ModuleInstance, Pipeline, Repeat, Where
from zplan.config.scope import Scope
from zplan.config.values import UNKNOWN, SetValue, contains_unknown, is_number, type_name


def needs_expansion(config: Config) -> bool:
    if config.modules:
        return True
    return any(r.repeat for r in config.resources.values()) or any(s.repeat for s in config.steps())


def expand(config: Config, variables: Mapping[str, Any], stack: str = "") -> Config:
    """The configuration with every instance written out (``config`` itself is left as it was)."""
    if config.module_instances:  # expanded already
        return config
    root = ModuleInstance("", config)
    if not needs_expansion(config):  # the common case: nothing to copy
        instances = dict.fromkeys([s.address for s in config.steps()], SINGLE)
        instances.update(dict.fromkeys(config.resources, SINGLE))
        return dataclasses.replace(config, instances=instances, module_instances={"": root}, _step_index=None)
    out = dataclasses.replace(config, files=list(config.files), pipelines={}, resources={}, instances={}, module_instances={"": root},
                              moved=list(config.moved), _step_index=None)
    _Expander(out, Scope(out, variables, stack=stack)).module(root, [config.project_dir])
    return out


_Task = tuple[Callable[[], None], Repeat | None, diags.Range]  # expands a block; its count / for_each; where it is


class _Expander:
    def __init__(self, out: Config, scope: Scope) -> None:
        self.out = out
        self.scope = scope
        self.root_dir = out.project_dir
        self.cache_root = out.project_dir / ".zplan" if (out.project_dir / ".zplan").is_dir() else None
        self.loaded: dict[Path, Config] = {}
        self.pending: dict[str, _Task] = {}  # blocks declared, not expanded yet
        self.expanding: dict[str, tuple[Repeat | None, diags.Range]] = {}  # blocks being expanded: count / for_each, block
        scope.expand_block = self.expand_block

    def module(self, inst: ModuleInstance, chain: list[Path]) -> None:
        """Expand what ``inst`` declares, in the order written, but each block when first needed:
        a count or for_each may read a module output or another block's instances declared after it."""
        tasks = self._tasks(inst, chain)
        self.pending.update(tasks)
        for base in tasks:
            self.expand_block(base)

    def expand_block(self, base: str) -> None:
        """Expand the block at ``base`` (``resource.t.n``, ``pipeline.p.step.s``, ``module.m``, under
        its module's path) unless it is already; the scope asks before reading its instances."""
        task = self.pending.pop(base, None)
        if task is None:
            if base in self.expanding:
                raise _cycle(base, *self.expanding[base])
            return
        run, repeat, where = task
        self.expanding[base] = (repeat, where)
        try:
            run()
        finally:
            del self.expanding[base]

    def _tasks(self, inst: ModuleInstance, chain: list[Path]) -> dict[str, _Task]:
        """What expands each block ``inst`` declares, by the block's address, with its count / for_each and range."""
        tasks: dict[str, _Task] = {}
        for resource in inst.config.resources.values():
            base = prefixed(inst.path, f"resource.{resource.type}.{resource.name}")
            tasks[base] = (functools.partial(self._in(inst, self._resource), inst, resource, base), resource.repeat, resource.range)
        for pipeline in inst.config.pipelines.values():
            key = pipeline.name if not inst.path else f"{inst.path}.pipeline.{pipeline.name}"
            expanded = self.out.pipelines[key] = Pipeline(pipeline.name, pipeline.range)
            for step in pipeline.steps.values():
                base = prefixed(inst.path, f"pipeline.{pipeline.name}.step.{step.name}")
                tasks[base] = (functools.partial(self._in(inst, self._step), inst, expanded, step, base), step.repeat, step.range)
        for call in inst.config.modules.values():
            tasks[inst.child_path(call.name)] = (functools.partial(self._call, inst, call, chain), call.repeat, call.range)
        return tasks

    def _in(self, inst: ModuleInstance, expand: Callable[..., None]) -> Callable[..., None]:
        """``expand`` with its errors naming the module block that called ``inst``."""

        def run(*args) -> None:
            try:
                expand(*args)
            except diags.DiagnosticError as exc:
                raise _in_module(exc, inst, self.root_dir) from None

        return run

    def _resource(self, inst: ModuleInstance, resource, base: str) -> None:
        for suffix, where in self._instances(base, resource.repeat, inst):
            copy = resource if where is None else _instance_of(resource, name=resource.name + suffix, where=where)
            self.out.resources[str(copy.addr)] = copy

    def _step(self, inst: ModuleInstance, expanded: Pipeline, step, base: str) -> None:
        folder = inst.config.project_dir
        source = step.source if folder == self.root_dir else _relative_source(step.source, folder, self.root_dir)
        for suffix, where in self._instances(base, step.repeat, inst):
            copy = step if where is None else _instance_of(step, name=step.name + suffix, where=where, source=source)
            if copy.script is not None and copy.script.pending:  # a fanned-out command: its paths per instance
                from zplan.config.scripts import instance_script  # here: only configurations with commands need it

                copy = instance_script(copy, lambda expr, at=where: self.scope.eval(expr, where=at))
            expanded.steps[copy.name] = copy

    def _instances(self, base: str, repeat: Repeat | None, inst: ModuleInstance) -> list[tuple[str, Where | None]]:
        """(key suffix, where) of each instance; where is None for a root block without count / for_each."""
        if repeat is None:
            self.out.instances[base] = SINGLE
            return [("", None if inst.call is None else Where(inst))]
        made = Lazy.made
        value, sensitive = self.scope.eval_marked(repeat.expr, where=Where(inst))
        if sensitive and repeat.kind == "for_each":
            raise _sensitive_for_each(repeat)
        keyed = instance_keys(repeat, value, sensitive)
        self.out.instances[base] = Instances(repeat.kind, tuple(key for key, _ in keyed))
        inside = Lazy.made != made  # it read a resource or module instance: each.value may hold one
        return [(instance_key(key), Where(inst, Each(key, rebindable(value, inside)))) for key, value in keyed]

    def _call(self, parent: ModuleInstance, call: ModuleCall, chain: list[Path]) -> None:
        from zplan.config.modules import module_dir  # here: only configurations that call modules need it

        try:
            folder = module_dir(call, parent.config.project_dir, self.root_dir)
            if folder in chain:
                names = " -> ".join(p.name for p in chain[1:] + [folder])
                raise diags.fail(f"module cycle: {names}", f'module "{call.name}" calls a module that calls it; a module cannot call itself', call.source_range)
            child = self._load(folder, call)
            _check_inputs(call, child, self.root_dir)
            base = parent.child_path(call.name)
            keyed = self._instances(base, call.repeat, parent)
        except diags.DiagnosticError as exc:
            raise _in_module(exc, parent, self.root_dir) from None
        for suffix, where in keyed:
            path = parent.child_path(call.name, suffix)
            inst = self.out.module_instances[path] = ModuleInstance(path, child, call, parent, where.each if where else None)
            # a module's moved blocks name addresses inside it, as in Terraform: they move what each instance declares
            self.out.moved += [dataclasses.replace(m, from_addr=prefixed(path, m.from_addr), to_addr=prefixed(path, m.to_addr)) for m in child.moved]
            self.module(inst, chain + [folder])

    def _load(self, folder: Path, call: ModuleCall) -> Config:
        if folder not in self.loaded:
            try:
                self.loaded[folder] = loader.load(folder, cache_root=self.cache_root)
            except diags.DiagnosticError as exc:
                raise _called_from(exc, call, self.root_dir) from None
            # a saved plan is refused when a module's files changed since, as the project's own
            # (a module beside the project, source = "../modules/x", as much as one inside it)
            self.out.files += self.loaded[folder].files
        return self.loaded[folder]


COUNT_LIMIT = 100_000  # five times the largest sweep benchmarked (bench/scale.py: 20,000 instances)


def instance_keys(repeat: Repeat, value: Any, sensitive: bool = False) -> list[tuple[str | int, Any]]:
    """The (key, each.value) pairs ``count`` or ``for_each`` asks for, in Terraform's order
    (``sensitive``: a count read from a secret; a bad one is not quoted)."""
    if value is UNKNOWN or repeat.kind == "for_each" and isinstance(value, dict) and any(k is UNKNOWN for k in value):
        raise diags.fail(
            f"{repeat.kind} depends on a value known only after apply",
            "the instances are made before anything is planned, so they cannot read resource attributes or "
            "step outputs (not even ones already applied): build it from variables, locals and constants",
            repeat.range,
        )
    if repeat.kind == "count":
        value = _number_of(value)
        if not is_number(value) or isinstance(value, bool) or value < 0 or float(value) != int(value):
            shown = "(sensitive value)" if sensitive else repr(value)
            raise diags.fail(f"count must be a whole number of 0 or more, got {type_name(value)} {shown}", "e.g. count = 2", repeat.range)
        if value > COUNT_LIMIT:  # a typo such as 1e9 would otherwise fill the memory before any message
            raise diags.fail(f"count = {int(value)} is more instances than one block may have (at most {COUNT_LIMIT:,})",
                             "check the number; split the work over several blocks or modules if it is meant", repeat.range)
        return [(i, None) for i in range(int(value))]
    if isinstance(value, dict):
        return sorted(value.items())
    if isinstance(value, (set, frozenset, SetValue)):  # SetValue: toset(), a set(T) variable
        if not all(isinstance(v, str) for v in value) or contains_unknown(list(value)):
            raise diags.fail("for_each over a set needs a set of known strings", "e.g. for_each = toset([\"a\", \"b\"])", repeat.range)
        return [(v, v) for v in sorted(value)]
    if isinstance(value, (list, tuple)):
        raise diags.fail(
            "for_each takes a map or a set of strings, not a list",
            "a list's order would become part of the addresses: write a map (for_each = { a = 1, b = 2 }), "
            "turn the list into a set (toset(LIST)) or a map ({ for v in LIST : v => v }), or use count",
            repeat.range,
        )
    raise diags.fail(f"for_each takes a map or a set of strings, got {type_name(value)}", "e.g. for_each = { small = 0.1, large = 1.0 }", repeat.range)


def _number_of(value: Any) -> Any:
    """``count = var.n`` set with ``-var n=2`` on an untyped variable: Terraform reads the text "2" as a number."""
    if isinstance(value, str):
        from zplan.config.function_args import parse_number

        number = parse_number(value)
        return value if number is None else number
    return value


def _cycle(base: str, repeat: Repeat | None, where: diags.Range) -> diags.DiagnosticError:
    """A count or for_each that needs the instances it is making (directly, or through a module output)."""
    what = f"the {repeat.kind} of {base}" if repeat is not None else f"{base}, through a count or for_each inside it,"
    return diags.fail(f"{what} reads its own instances", "count and for_each cannot depend on the block they make, nor on a module output computed from it",
                      repeat.range if repeat is not None else where)


def _sensitive_for_each(repeat: Repeat) -> diags.DiagnosticError:
    # the keys become addresses, printed in every plan and written in state: as in Terraform,
    # a value computed from a secret cannot name instances (count only numbers them)
    return diags.fail(
        "for_each cannot use a sensitive value",
        "its keys would show the secret in every address; iterate over plain keys and read the secret "
        "inside the block (for_each = toset([\"dev\", \"prod\"]), then var.passwords[each.key])",
        repeat.range,
    )


def _check_inputs(call: ModuleCall, child: Config, root: Path) -> None:
    found = diags.Collector()
    for name in call.inputs:
        if name not in child.variables:
            declared = ", ".join(sorted(child.variables)) or "none"
            found.error(f'module "{call.name}" has no input "{name}"', f"the module's variables are: {declared}", call.input_ranges[name])
    for name, var in child.variables.items():
        if name not in call.inputs and var.default is NO_DEFAULT:
            found.error(f'module "{call.name}": missing input "{name}"', f"the module declares variable \"{name}\" without a default (at {var.range.relative_to(root)}): set {name} = ... here", call.range)
    found.raise_if_errors()


def _instance_of(block, **changes):
    """``dataclasses.replace`` of a step or resource block (plain dataclasses: no ``__post_init__``,
    every field set by ``__init__``), without calling ``__init__`` again: the same fields, the
    same values, at a fifth of the cost for a 20,000-instance for_each."""
    copy = object.__new__(type(block))
    copy.__dict__.update(block.__dict__, **changes)
    return copy


def _relative_source(source: str, folder: Path, root: Path) -> str:
    """A module step's ``file.py:function``, relative to its module folder, as the project sees it."""
    file, _, function = source.rpartition(":")
    return f"{Path(os.path.relpath(folder / file, root)).as_posix()}:{function}"


def _called_from(exc: diags.DiagnosticError, call: ModuleCall, root: Path) -> diags.DiagnosticError:
    """An error inside a module's files, naming the block that called it."""
    note = f'in module "{call.name}" called at {call.range.relative_to(root)}'
    return diags.DiagnosticError([d if f"({note})" in d.detail else  # (named already: a block made while another was)
                                  dataclasses.replace(d, detail=f"{d.detail}\n  ({note})" if d.detail else f"({note})") for d in exc.diagnostics])


def _in_module(exc: diags.DiagnosticError, inst: ModuleInstance, root: Path) -> diags.DiagnosticError:
    return exc if inst.call is None else _called_from(exc, inst.call, root)


def called_from(exc: diags.DiagnosticError, where: Where | None, root: Path) -> diags.DiagnosticError:
    """An error met while planning a block inside a module, naming the module block that called it."""
    return exc if where is None else _in_module(exc, where.module, root)
