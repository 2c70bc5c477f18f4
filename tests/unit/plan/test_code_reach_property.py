"""Random step-module layouts: editing what a step reaches changes its fingerprint; editing anything else does not.

Each layout spreads helper units (functions, classes used through an instance,
module constants built by code) over files at the top level, in a package, a
sub-package and a package next to the steps. Every reference between units is
written in a randomly drawn import style and use form; function bodies also
bind locals named like units they do not use. The expected reach is computed
from the layout itself, independently of zplan's reading of the code.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.plan.layout import edit, info, write

# dotted module name -> file; each module may only use units of the modules before it
MODULES = {"helpers": "helpers.py", "pkg.m1": "pkg/m1.py", "pkg.sub.m2": "pkg/sub/m2.py", "steps.lib.m3": "steps/lib/m3.py", "steps.run": "steps/run.py"}
PACKAGE_FILES = {"pkg/sub/__init__.py": "", "steps/__init__.py": "", "steps/lib/__init__.py": ""}
STEPS = ("step_a", "step_b")
STYLES = ("from", "alias", "dotted", "from_package", "relative", "reexport", "local_import", "same_module")
FORMS = ("plain", "partial", "default", "decorator")


@dataclass
class Unit:
    name: str
    kind: str  # func | class | const
    module: str
    literal: int
    refs: list[tuple["Unit", str, str]] = field(default_factory=list)  # (unit, style, form)
    shadows: list[str] = field(default_factory=list)  # names bound locally, never uses


@st.composite
def layouts(draw) -> list[Unit]:
    units: list[Unit] = []
    for module in MODULES:
        kinds = ["func"] * len(STEPS) if module == "steps.run" else draw(st.lists(st.sampled_from(["func", "class", "const"]), max_size=3))
        for i, kind in enumerate(kinds):
            name = STEPS[i] if module == "steps.run" else f"{kind}_{module.split('.')[-1]}_{i}"
            unit = Unit(name, kind, module, 100000 + len(units))
            earlier = [u for u in units if not (module == "steps.run" and u.name in STEPS)]
            if earlier:
                for target in draw(st.lists(st.sampled_from(earlier), max_size=3, unique_by=lambda u: u.name)):
                    style = draw(st.sampled_from([s for s in STYLES if _style_fits(s, unit, target)]))
                    form = draw(st.sampled_from([f for f in FORMS if _form_fits(f, unit, target, style)]))
                    unit.refs.append((target, style, form))
                if kind == "func":
                    used = {t.name for t, _, _ in unit.refs}
                    unit.shadows = draw(st.lists(st.sampled_from([u.name for u in earlier]), max_size=2)).copy()
                    unit.shadows = [s for s in unit.shadows if s not in used]
            units.append(unit)
    return units


def _style_fits(style: str, user: Unit, target: Unit) -> bool:
    same = user.module == target.module
    if style == "same_module" or same:
        return style == "same_module" and same
    if style == "from_package":
        return "." in target.module
    if style == "relative":
        return user.module.split(".")[0] == target.module.split(".")[0]
    if style == "reexport":
        return target.module == "pkg.m1" and target.kind == "func"
    if style == "local_import":
        return user.kind == "func"
    return True


def _form_fits(form: str, user: Unit, target: Unit, style: str) -> bool:
    if form in ("decorator", "partial"):
        return user.kind == "func" and target.kind == "func" and style != "local_import"
    if form == "default":
        return user.kind == "func" and style != "local_import"
    return True


# -- rendering ---------------------------------------------------------------------------------


def _reference(user: Unit, target: Unit, style: str) -> tuple[str, str]:
    """(import statement or "", expression naming the target) for one reference."""
    mod, short = target.module, target.module.split(".")[-1]
    parent = mod.rpartition(".")[0]
    if style in ("from", "local_import"):
        return f"from {mod} import {target.name}", target.name
    if style == "alias":
        return f"import {mod} as mod_{short}", f"mod_{short}.{target.name}"
    if style == "dotted":
        return f"import {mod}", f"{mod}.{target.name}"
    if style == "from_package":
        return f"from {parent} import {short}", f"{short}.{target.name}"
    if style == "reexport":
        return f"from pkg import {target.name}", target.name
    if style == "relative":
        here, there = user.module.split(".")[:-1], mod.split(".")
        common = next((i for i, (a, b) in enumerate(zip(here, there[:-1])) if a != b), min(len(here), len(there) - 1))
        dots = "." * (len(here) - common + 1)
        return f"from {dots}{'.'.join(there[common:-1])} import {short}", f"{short}.{target.name}"
    return "", target.name  # same module


def _value(target: Unit, expr: str) -> str:
    return {"func": f"{expr}()", "class": f"{expr}().m()", "const": expr}[target.kind]


def render(units: list[Unit]) -> dict[str, str]:
    files = {**PACKAGE_FILES, "pkg/__init__.py": ""}
    for module, rel in MODULES.items():
        imports, body = {"import functools"}, []
        for unit in (u for u in units if u.module == module):
            body.append(_render_unit(unit, imports))
        files[rel] = "\n".join(sorted(imports)) + "\n\n\n" + "\n\n\n".join(body) + "\n"
    exported = [u.name for u in units if u.module == "pkg.m1" and u.kind == "func"]
    files["pkg/__init__.py"] = "".join(f"from .m1 import {name}\n" for name in exported)
    return files


def _render_unit(unit: Unit, imports: set[str]) -> str:
    values, decorators, defaults, local_imports = [str(unit.literal)], [], [], []
    for i, (target, style, form) in enumerate(unit.refs):
        statement, expr = _reference(unit, target, style)
        if style == "local_import":
            local_imports.append(statement)
        elif statement:
            imports.add(statement)
        if form == "decorator":
            decorators.append(f"@{expr}\n")
            values.append(_value(target, expr))
        elif form == "partial":
            values.append(f"functools.partial({expr})()")
        elif form == "default":
            defaults.append(f"_d{i}={expr}")
            values.append(_value(target, f"_d{i}"))
        else:
            values.append(_value(target, expr))
    listed = f"[{', '.join(values)}]"
    if unit.kind == "const":
        return f"{unit.name} = {listed}"
    if unit.kind == "class":
        return f"class {unit.name}:\n    def m(self, *a):\n        return {listed}"
    lines = [*local_imports, *(f"{s} = [{s} for {s} in range(2)]" for s in unit.shadows), f"return {listed}"]
    body = "\n".join(f"    {line}" for line in lines)
    return f"{''.join(decorators)}def {unit.name}(*a{''.join(', ' + d for d in defaults)}):\n{body}"


def reached(step: Unit) -> set[str]:
    out, todo = set(), [step]
    while todo:
        unit = todo.pop()
        if unit.name not in out:
            out.add(unit.name)
            todo += [t for t, _, _ in unit.refs]
    return out


@settings(max_examples=60, deadline=None)
@given(layouts())
def test_an_edit_changes_exactly_the_fingerprints_of_the_steps_that_reach_it(units):
    steps = [u for u in units if u.name in STEPS]
    with tempfile.TemporaryDirectory() as tmp:
        root = write(Path(tmp), render(units))
        before = {s.name: info(root, f"steps/run.py:{s.name}").parts for s in steps}
        for unit in units:
            rel = MODULES[unit.module]
            edit(root, rel, str(unit.literal), str(unit.literal + 500000))
            for step in steps:
                after = info(root, f"steps/run.py:{step.name}").parts
                changed = {k for k in set(before[step.name]) | set(after) if before[step.name].get(k) != after.get(k)}
                expected = {f"{rel}:{unit.name}"} if unit.name in reached(step) else set()
                assert changed == expected, f"editing {unit.name} in {rel}, step {step.name}\n" + (root / rel).read_text()
            edit(root, rel, str(unit.literal + 500000), str(unit.literal))
