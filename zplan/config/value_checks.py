"""Every local value, module input and module output is checked, used or not, as Terraform does.

Planning evaluates only what steps, resources and outputs read, so a mistake in a value
nothing reads yet would pass until someone uses it. After a plan, this evaluates the rest
through the plan's own scope: each value once (what was read is already computed and
cached there), a value known only after apply stays unknown. References are also checked
by name, which finds a mistake in a branch a conditional did not take.
"""

from __future__ import annotations

from pathlib import Path

from zplan import diags
from zplan.config.expand import called_from
from zplan.config.model import Config, ModuleInstance, Where
from zplan.config.scope import Scope

# The roots a reference may start with (``zplan.config.scope`` resolves each).
ROOTS = frozenset({"var", "local", "step", "resource", "module", "each", "count", "zplan", "path"})


def check_values(config: Config, scope: Scope) -> None:
    """Every local, module input and module output: undeclared names, cycles, evaluation errors."""
    found = _Found()
    instances = list(config.module_instances.values()) or [ModuleInstance("", config)]
    for inst in _one_per_config(instances):
        found.run(lambda: _check_names(inst.config), Where(inst), config.project_dir)
    found.raise_if_errors()  # a misspelt name first: evaluating it would say the same again
    for inst in instances:
        where = Where(inst)
        for name in inst.call.inputs if inst.call is not None else ():  # first: their errors are the caller's
            found.run(lambda: scope.declared("var", name, where), Where(inst.parent), config.project_dir)
        for name in inst.config.locals:
            found.run(lambda: scope.declared("local", name, where), where, config.project_dir)
        for name in inst.config.outputs if inst.call is not None else ():  # the root's are planned already
            found.run(lambda: scope.declared("output", name, where), where, config.project_dir)
    found.raise_if_errors()


class _Found(diags.Collector):
    """Errors once each: a value read by several others fails each of them the same way."""

    def run(self, check, where: Where | None, root: Path) -> None:
        try:
            check()
        except diags.DiagnosticError as exc:
            seen = {(d.summary, d.range) for d in self.items}
            self.extend(d for d in called_from(exc, where, root).diagnostics if (d.summary, d.range) not in seen)


def _one_per_config(instances: list[ModuleInstance]) -> list[ModuleInstance]:
    """One instance of each module folder: what is written there is checked by name once."""
    seen: dict[int, ModuleInstance] = {}
    for inst in instances:
        seen.setdefault(id(inst.config), inst)
    return list(seen.values())


def _check_names(config: Config) -> None:
    """``var.X``, ``local.X``, ``module.X`` and the roots of references in locals, outputs and
    module inputs name what the module declares."""
    found = diags.Collector()
    exprs = [local.expr for local in config.locals.values()] + [out.expr for out in config.outputs.values()]
    for expr in exprs:
        for ref in expr.references():
            _check_name(ref, config, found)
    for call in config.modules.values():
        for expr in call.inputs.values():
            for ref in expr.references():
                _check_name(ref, config, found)
    found.raise_if_errors()


def _check_name(ref, config: Config, found: diags.Collector) -> None:
    root, name = ref.parts[0], ref.parts[1] if len(ref.parts) > 1 else None
    if root not in ROOTS:
        found.error(f'unknown reference "{ref}"', "references start with " + ", ".join(sorted(ROOTS)), ref.range)
    elif root == "var" and name is not None and name not in config.variables:
        found.error(f'reference to undeclared variable "{name}"',
                    f'{diags.did_you_mean(name, config.variables, then="or ")}declare it: variable "{name}" {{ default = ... }}', ref.range)
    elif root == "local" and name is not None and name not in config.locals:
        found.error(f'reference to undeclared local value "{name}"', "declare it inside a locals { } block", ref.range)
    elif root == "module" and name is not None and name not in config.modules:
        found.error(f'reference to undeclared module "{name}"', f'declare it: module "{name}" {{ source = "./modules/..." }}', ref.range)

