"""A variable's value checked as Terraform checks it: converted to its type, then its
``validation`` blocks' conditions.

``read_validations`` reads the blocks when the configuration loads (a condition
may refer only to the variable itself); ``accept`` checks one value from any
source (default, vars file, environment, ``-var``) and reports what is wrong
with the variable's name, where the value came from and the file and line.
"""

from __future__ import annotations

from typing import Any

from zplan import diags
from zplan.config import hcl
from zplan.config.convert import ConversionError, convert, problem_text
from zplan.config.function_args import parse_number
from zplan.config.model import NO_DEFAULT, Validation, Variable
from zplan.config.expr import Marks, traverse
from zplan.config.types import BOOL, AnyType, Primitive
from zplan.config.values import SENSITIVE_VALUE, UNKNOWN, is_number, type_name


class Text(str):
    """A value written on the command line or in the environment: text, which a variable
    of a collection type reads as an HCL value (``-var 'sizes=[1, 2]'``)."""


# -- when the configuration loads -------------------------------------------------------------

# Names Terraform reserves for variables: a module block uses them for its own arguments.
RESERVED_NAMES = ("count", "depends_on", "for_each", "lifecycle", "locals", "providers", "source", "version")


def check_name(name: str, block: hcl.Block, found: diags.Collector) -> None:
    if name in RESERVED_NAMES:
        found.error(f'variable name "{name}" is reserved', f"a module block uses it for its own argument; choose another name (reserved: {', '.join(RESERVED_NAMES)})", block.range)


def read_description(attr: hcl.Attribute | None, found: diags.Collector) -> str:
    value = constant(attr, found, "")
    if value is None:
        return ""
    if not isinstance(value, str):
        found.error("a variable's description must be a string", f"got {attr.expr.source()}", attr.range)
        return ""
    return value


def read_sensitive(attr: hcl.Attribute | None, found: diags.Collector, owner: str = "a variable") -> bool:
    """``sensitive`` of a variable or an output (``owner``)."""
    value = constant(attr, found, False)
    if value is None:
        return False
    if not isinstance(value, bool):  # "false" would be text, and true as a condition: refuse it
        found.error(f"{owner}'s sensitive must be true or false", f"got {attr.expr.source()}", attr.range)
        return True  # the safer reading while the error stands
    return value


def constant(attr: hcl.Attribute | None, found: diags.Collector, default: Any = None) -> Any:
    """The attribute's constant value (``default`` when absent, or when it is not a constant:
    its error is collected in ``found``)."""
    if attr is None:
        return default
    try:
        return attr.expr.static_value()
    except diags.DiagnosticError as exc:
        found.extend(exc.diagnostics)
        return default



def read_validations(name: str, block: hcl.Block, found: diags.Collector) -> list[Validation]:
    """The ``validation`` blocks nested in the ``variable "name"`` block."""
    checks = []
    for nested in block.blocks:
        attrs = nested.attributes
        for attr in attrs.values():
            if attr.name not in ("condition", "error_message"):
                found.error(f'unsupported attribute "{attr.name}" in a validation of variable "{name}"', "a validation holds condition and error_message", attr.range)
        missing = [a for a in ("condition", "error_message") if a not in attrs]
        if missing:
            found.error(f'a validation of variable "{name}" has no {" and no ".join(missing)}',
                        'write validation { condition = <bool expression> error_message = "..." }', nested.range)
            continue
        for attr in (attrs["condition"], attrs["error_message"]):
            _only_self(name, attr, found)
        checks.append(Validation(attrs["condition"].expr, attrs["error_message"].expr, nested.range))
    return checks


def _only_self(name: str, attr: hcl.Attribute, found: diags.Collector) -> None:
    for ref in attr.expr.references():
        if ref.parts[:2] != ("var", name):
            found.error(f'the validation of variable "{name}" refers to "{ref}"',
                        f"a validation condition can refer only to the variable itself (var.{name})", ref.range)


def check_default(var: Variable, found: diags.Collector) -> None:
    """A default must fit the declared type (checked even when a value is given)."""
    if var.default is not NO_DEFAULT and var.default is not None:
        try:
            convert(var.default, var.type, f"var.{var.name}")
        except ConversionError as exc:
            problem = problem_text(exc, var.default, var.type, var.sensitive)  # never the sensitive default itself
            found.error(f'the default of variable "{var.name}" does not fit its type {var.type}', problem, var.range)


# -- when values are given --------------------------------------------------------------------


def accept(var: Variable, value: Any, where: str, found: diags.Collector) -> Any:
    """``value`` converted to the variable's type and validated; problems go to ``found``."""
    try:
        value = _typed(var, value, where)
    except ConversionError as exc:
        problem = problem_text(exc, getattr(exc, "value", value), var.type, var.sensitive)
        found.error(f'invalid value for variable "{var.name}" (from {where}): {problem}',
                    f"variable \"{var.name}\" has type {var.type}", var.range)
        return value
    except diags.DiagnosticError as exc:
        found.extend(exc.diagnostics)
        return value
    found.extend(failed_validations(var, value, where))
    return value


def failed_validations(var: Variable, value: Any, where: str) -> list[diags.Diagnostic]:
    """What the variable's validations say of ``value`` (a root variable's, a module input's)."""
    problems: list[diags.Diagnostic] = []
    for validation in var.validations:
        try:
            problem = _failed(var, validation, value, where)
        except diags.DiagnosticError as exc:
            problems.extend(exc.diagnostics)
            continue
        if problem is not None:
            problems.append(problem)
    return problems


def _typed(var: Variable, value: Any, where: str) -> Any:
    if not isinstance(value, Text):
        return _convert(var, value)
    if isinstance(var.type, Primitive):
        return _convert(var, value)
    if isinstance(var.type, AnyType):
        return _untyped_text(var, value)
    return _convert(var, _hcl_value(var, value, where))


def _convert(var: Variable, value: Any) -> Any:
    try:
        return convert(value, var.type, f"var.{var.name}")
    except ConversionError as exc:
        exc.value = value  # as read from its text: the keys its message must not show when sensitive
        raise


def _untyped_text(var: Variable, text: Text) -> Any:
    """Text for a variable without a type: a list or map when written as one; a number or a bool
    when the default is one (so ``-var epochs=3`` keeps it numeric, and ``-var debug=false`` is
    false, not the text "false" that a step would take as true); else the text."""
    if text.strip()[:1] in ("[", "{"):
        try:
            return _hcl_value(var, text, "")
        except diags.DiagnosticError:
            return str(text)
    if var.default is not NO_DEFAULT and isinstance(var.default, bool):
        try:
            return convert(text, BOOL, "")
        except ConversionError:
            pass
    elif var.default is not NO_DEFAULT and is_number(var.default):
        number = parse_number(text)  # as written (2.0 stays a float): an untyped value keeps its own type
        if number is not None:
            return number
    return str(text)


def _hcl_value(var: Variable, text: str, where: str) -> Any:
    hint = "write a list as [1, 2] and a map or object as { a = 1 }"
    try:  # read as the attribute NAME = TEXT, so a message names the variable
        body = hcl.parse_text(f"{var.name} = {text.strip()}", f"<{where}>")
        if len(body.attributes) > 1 or body.blocks:  # what followed a newline would be left out unsaid
            raise diags.fail(f'more text follows the value of "{var.name}" on another line')
        return body.attributes[var.name].expr.static_value()
    except diags.DiagnosticError as exc:
        if var.sensitive:  # the reason quotes the text (`"hunter2" cannot be used here`): a secret written without quotes
            raise diags.fail(f"cannot read the value from {where} {SENSITIVE_VALUE}", f"the reason is left out, as it would show the value; {hint}") from None
        raise diags.fail(f"cannot read the value from {where}: {exc.diagnostics[0].summary}", hint) from None


def _failed(var: Variable, validation: Validation, value: Any, where: str) -> diags.Diagnostic | None:
    """The diagnostic of a validation whose condition is false for ``value``, else None."""

    marks = Marks()

    def resolve(ref):  # only var.NAME can appear (checked at load)
        marks.read |= var.sensitive  # so errors about it never show it
        current = value
        for part in ref.parts[2:]:
            current = traverse(validation.condition, current, part, var.sensitive)
        return current

    result = validation.condition.evaluate(resolve, marks=marks)
    if result is UNKNOWN:
        return None
    if not isinstance(result, bool):
        shown = f"{type_name(result)} {SENSITIVE_VALUE}" if var.sensitive else repr(result)
        return diags.error(f'the validation condition of variable "{var.name}" must be true or false, got {shown}',
                           f"in {validation.condition.source()}", validation.condition.range)
    if result:
        return None
    return diags.error(f'invalid value for variable "{var.name}" (from {where}): {_message(var, validation, resolve)}',
                       f"the value does not meet the validation condition {validation.condition.source()} "
                       f"(variable \"{var.name}\" is declared at line {var.range.line})", validation.range)


def _message(var: Variable, validation: Validation, resolve) -> str:
    if var.sensitive and validation.error_message.references():
        return validation.error_message.source()  # never shows a sensitive value
    message = validation.error_message.evaluate(resolve)
    return message if isinstance(message, str) else str(message)
