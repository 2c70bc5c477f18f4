"""Functions that read files: ``file``, ``templatefile``, ``fileexists``.

A relative path is taken from the folder of the file holding the call (the
module's folder, the project's for its own files). Every file read is recorded
through the ``CallSite``, so a saved plan notices when its content changes; the
value itself is read afresh by every evaluation, so a plan always sees the
file as it is.
"""

from __future__ import annotations

import contextvars
import functools
from pathlib import Path
from typing import Any

from zplan import diags
from zplan.config.expr import IDENTIFIER, Expr, Ref, _Ctx
from zplan.config.function_args import CallSite, FunctionError, as_map, as_string, register
from zplan.config.values import UNKNOWN, article, to_text, type_name

MAX_FILE_BYTES = 16 * 1024 * 1024  # configuration text, not data: larger files belong in step inputs
_rendering: contextvars.ContextVar[bool] = contextvars.ContextVar("rendering", default=False)  # inside templatefile()


@register("file(path)", 1, site=True)
def _file(site: CallSite, path: Any) -> str:
    return _read(site, as_string(path, "path"))


@register("fileexists(path)", 1, site=True)
def _fileexists(site: CallSite, path: Any) -> bool:
    text = as_string(path, "path")
    found = site.path(text)
    site.record(found)
    if found.is_dir():
        raise FunctionError(f'"{text}" is a folder, not a file')
    return found.is_file()


@register("templatefile(path, vars)", 2, site=True)
def _templatefile(site: CallSite, path: Any, variables: Any) -> Any:
    text = as_string(path, "path")
    names = as_map(variables, "vars")
    for key in names:
        if not IDENTIFIER.fullmatch(key):
            raise FunctionError(f'vars key "{key}" is not a name a template can refer to')
    if _rendering.get():  # a template including itself would never end
        raise FunctionError("cannot be called inside a template, as in Terraform: render the inner template outside and pass its text in vars", quotes_values=False)
    template = _parsed(_read(site, text), str(site.path(text)))
    token = _rendering.set(True)
    try:
        # its vars are as sensitive as the arguments: errors inside never show them
        value = template._eval(_Ctx(_not_in_vars, {}, dict(names), site.reads, site.marks, frozenset(names) if site.sensitive else frozenset()))
    except diags.DiagnosticError as exc:
        raise diags.DiagnosticError(_called_from(d, site) for d in exc.diagnostics) from None
    finally:
        _rendering.reset(token)
    if value is UNKNOWN or isinstance(value, str):
        return value
    rendered = to_text(value)  # a template holding only "${n}" gives n itself
    if rendered is None:
        raise FunctionError(f"the template {text} gives {article(type_name(value))}; a template must give text")
    return rendered


def _read(site: CallSite, text: str) -> str:
    path = site.path(text)
    site.record(path)
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise FunctionError(f"{text} is larger than {MAX_FILE_BYTES // 2**20} MiB; pass large files to steps as inputs")
        data = path.read_bytes()
    except FileNotFoundError:
        raise FunctionError(f'no file "{text}" in {path.parent}') from None
    except IsADirectoryError:
        raise FunctionError(f'"{text}" is a folder, not a file') from None
    except OSError as exc:
        raise FunctionError(f"cannot read {text}: {exc.strerror or exc}") from None
    try:
        return data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError:
        raise FunctionError(f"{text} is not UTF-8 text") from None


@functools.lru_cache(maxsize=64)
def _parsed(text: str, filename: str) -> Expr:
    """A template parsed once per content (a step fanned out a thousand times renders it a thousand times)."""
    from zplan.config import hcl

    return hcl.parse_template(text, filename)


def _not_in_vars(ref: Ref) -> Any:
    name = ref.parts[0]
    raise diags.fail(f'the template refers to "{name}", which its vars do not hold', f"pass it: templatefile(path, {{ {name} = ... }})", ref.range)


def _called_from(diag: diags.Diagnostic, site: CallSite) -> diags.Diagnostic:
    where = f"in the template rendered by templatefile() at {site.range}"
    return diags.Diagnostic(diag.severity, diag.summary, f"{diag.detail}; {where}" if diag.detail else where, diag.range)
