"""Input variable values: defaults, then env, then vars files, then the command line, as Terraform orders them.

Sources, lowest precedence first: the variable's ``default``; ``ZPLAN_VAR_<name>``
in the environment; ``zplan.zpvars``; ``*.auto.zpvars`` (alphabetical); then each
``-var name=value`` and ``-var-file`` in the order given on the command line, the later
one winning. A vars file is HCL attributes (``name = value``), like Terraform's
``terraform.tfvars``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Mapping, Sequence, Union

from zplan import diags
from zplan.config import hcl
from zplan.config.model import NO_DEFAULT, Config
from zplan.config.values import SENSITIVE_VALUE, valid_text
from zplan.config.variable_checks import Text, accept

ENV_PREFIX = "ZPLAN_VAR_"
DEFAULT_VARS_FILE = "zplan.zpvars"

# One variable source given on the command line: "NAME=VALUE" text is a -var, a Path a -var-file.
# A command carries them in one list, in the order given, as the later one wins.
CommandLineVar = Union[str, Path]


def resolve(
    config: Config,
    cli_vars: Sequence[CommandLineVar] = (),
    environ: Mapping[str, str] | None = None,
    fixed: Mapping[str, Any] | None = None,
    given: Mapping[str, Any] | None = None,
    unset: set[str] | None = None,
) -> dict[str, Any]:
    """Every declared variable's value; an unset one without default is an error.

    ``fixed`` values (a saved plan's, already typed) win over every source and are
    taken as they are, never converted from text. ``given`` values (the Python API's)
    win over the others and are converted like a vars file's. When ``unset`` is a set,
    a variable without a value is named in it and left out (it reads as unknown) instead
    of being an error: reading what was recorded needs no value it does not use."""
    environ = os.environ if environ is None else environ
    raw: dict[str, tuple[Any, str]] = {}  # name -> (value, where it came from)
    for key, text in environ.items():
        if key.startswith(ENV_PREFIX) and key[len(ENV_PREFIX):] in config.variables:  # stray ones are ignored, as Terraform does
            raw[key[len(ENV_PREFIX):]] = (_from_text(text, f"environment variable {key}"), f"environment variable {key}")
    auto = [config.project_dir / DEFAULT_VARS_FILE] + sorted(config.project_dir.glob("*.auto.zpvars"))
    for path in [p for p in auto if p.exists()]:
        raw.update(_read_vars_file(path, config))
    for item in cli_vars:  # in command-line order: a later -var or -var-file wins over an earlier one
        raw.update(_read_vars_file(item, config) if isinstance(item, Path) else _read_var(item))
    raw.update((name, (value, "zplan.open(variables=...)")) for name, value in (given or {}).items())

    found = diags.Collector()
    values: dict[str, Any] = {}
    for name, (value, where) in raw.items():
        if name not in config.variables:
            if not where.startswith("environment") and not where.endswith(", a params file"):  # stray env vars are ignored, as Terraform does
                found.error(f'value for undeclared variable "{name}" (from {where})',
                            f'{diags.did_you_mean(name, config.variables, then="or ")}declare it: variable "{name}" {{}}')
            continue
    for name, var in config.variables.items():
        if fixed is not None and name in fixed:
            values[name] = fixed[name]
        elif name in raw:
            value, where = raw[name]
            values[name] = accept(var, value, where, found)
        elif var.default is not NO_DEFAULT:
            values[name] = accept(var, var.default, "its default", found)
        elif unset is not None:
            unset.add(name)
        else:
            found.error(*no_value(config, name))
    found.raise_if_errors()
    return values


def no_value(config: Config, name: str, reading: str = "") -> tuple:
    """The error for variable ``name`` left without a value: summary, what to do, where it is declared.
    ``reading`` says why a command that only reads needs it (such commands take no -var)."""
    if reading:
        return f'no value for variable "{name}"', f"{reading}: set it in {DEFAULT_VARS_FILE} or in {ENV_PREFIX}{name}", config.variables[name].range
    return f'no value for variable "{name}"', f"set it with -var {name}=VALUE, in {DEFAULT_VARS_FILE}, or in {ENV_PREFIX}{name}", config.variables[name].range


def sensitive_values(config: Config, values: Mapping[str, Any]) -> list[str]:
    """The text forms of every sensitive variable's value (to mask them anywhere)."""
    from zplan.config.types import attribute_names
    from zplan.secrets import secret_forms

    # `in`, not `get`: looking for secrets is not a use of the variable (a reading project notes uses)
    forms: list[str] = []
    for name, var in config.variables.items():
        if var.sensitive and name in values and values[name] not in (None, ""):
            forms += [form for form in secret_forms([values[name]], attribute_names(var.type)) if form not in forms]
    return forms


def _read_var(item: str) -> dict[str, tuple[Any, str]]:
    name, sep, text = item.partition("=")
    if not sep or not name.strip():
        raise diags.fail(f"invalid -var {item!r}", "write it as -var NAME=VALUE")
    return {name.strip(): (_from_text(text, f"-var {name.strip()}"), f"-var {name.strip()}")}


def _read_vars_file(path: Path, config: Config) -> dict[str, tuple[Any, str]]:
    if not path.exists():
        raise diags.fail(f"vars file {path} does not exist", "check the -var-file path")
    from zplan.config import params_files

    shown = _shown(path, config.project_dir)
    sensitive = {name for name, var in config.variables.items() if var.sensitive}
    if params_files.is_params_file(path):  # params.yaml, config.json, pyproject-style TOML
        return params_files.as_variables(path, shown, sensitive)
    try:
        body = hcl.parse_file(path)
        if body.blocks:
            raise diags.fail("a vars file holds only NAME = VALUE lines", "move blocks into a .zp.hcl file", body.blocks[0].range)
        return {name: (attr.expr.static_value(), f"{shown}:{attr.range.line}") for name, attr in body.attributes.items()}
    except diags.DiagnosticError as exc:
        name = _setting_at(path, exc.diagnostics[0].range)
        if name in sensitive:  # the reason may quote the text (`"hunter2" cannot be used here`): a secret written without quotes
            raise diags.fail(f'cannot read the value of "{name}" {SENSITIVE_VALUE}',
                             'the reason is left out, as it would show the value; write text in quotes: NAME = "..."', exc.diagnostics[0].range) from None
        raise


def _setting_at(path: Path, where: diags.Range | None) -> str | None:
    """The variable a vars file sets on the line of ``where`` (the last ``NAME =`` at or above it)."""
    if where is None or not where.line:
        return None
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()[: where.line]
    for line in reversed(lines):
        found = _SETTING.match(line)
        if found:
            return found.group(1)
    return None


_SETTING = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_-]*)\s*=(?!=)")


def _shown(path: Path, project_dir: Path) -> str:
    """A vars file as messages name it: from the project folder (envs/prod/zplan.zpvars is not
    the project's own zplan.zpvars), else as given."""
    try:
        return path.resolve().relative_to(project_dir.resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def _from_text(text: str, where: str) -> Any:
    """-var and env values are text; the variable's type decides how to read it."""
    if valid_text(text) != text:  # bytes that are not UTF-8 reach Python as lone surrogates
        raise diags.fail(f"the value of {where} is not UTF-8 text", "give the value in UTF-8")
    return Text(text)
