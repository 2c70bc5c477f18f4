"""DVC's templating of a stage as `zplan import-dvc` reads it: its fields and paths, its ``${...}``, and its
foreach and matrix instances."""

from __future__ import annotations

import itertools
import posixpath
from typing import Any

from zplan import diags
from zplan.operations.dvc_literals import _escape, _string, dvc_literal
from zplan.operations.dvc_vars import _INTERPOLATION, _Vars


def check_references(name: str, stage: Any, vars_: _Vars, at: Any) -> None:
    """Refuse a ``${...}`` naming no var (nor a foreach's ``item`` or ``key``), as DVC does, rather than leave it
    for the shell to read as empty text; ``at(field)``: where the stage's field is written. Not when it may name
    a var read from a Python vars file, which is not translated (and so listed)."""
    body = _body(stage) if isinstance(stage, dict) else {}
    if not vars_.complete:
        return
    looped = "foreach" in stage or "matrix" in stage
    for field in ("cmd", "wdir", "deps", "params", "outs", "metrics", "plots"):
        for text in _texts(body.get(field)):
            for match in _INTERPOLATION.finditer(text):
                expr = match.group(1)
                if not (looped and (expr in ("item", "key") or expr.startswith(("item.", "item["))) or vars_.knows(expr)):
                    raise diags.fail(f"stage {name}: ${{{expr}}} in its {field} names no var of params.yaml or vars",
                                     "add it there, as DVC needs it too; or write \\${...} for text the shell reads", at(field))


def _texts(value: Any) -> list[str]:
    """The strings of a stage field: a cmd, paths, and the files and keys of params and outs with options."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [str(k) for k in value] + [t for v in value.values() if isinstance(v, list) for t in _texts(v)]
    return [t for item in value for t in _texts(item)] if isinstance(value, list) else []


_KINDS = {list: "list", dict: "mapping"}


def check_loop_values(name: str, stage: Any, vars_: _Vars, where: diags.Range) -> None:
    """Refuse a foreach, or a matrix value, given as ``${...}`` that DVC cannot loop over: naming no var, or a var
    that is no list or mapping (a matrix's: no list)."""
    from zplan.operations.dvc_yaml import _kind

    if not isinstance(stage, dict):
        return
    looped = [("foreach", stage.get("foreach"), (list, dict))] if "foreach" in stage else []
    matrix = stage.get("matrix")
    looped += [(f"matrix {k}", v, (list,)) for k, v in matrix.items()] if isinstance(matrix, dict) else []
    for field, text, kinds in looped:
        if not isinstance(text, str):
            continue
        match = _INTERPOLATION.fullmatch(text.strip())
        value = vars_.value(match.group(1)) if match else text
        if value is None and match and not vars_.complete:  # it may name a var of a file not read here
            continue
        if not isinstance(value, kinds):
            what = "names no var of params.yaml or vars" if value is None else f"is {_kind(value)}, not a {' or a '.join(_KINDS[k] for k in kinds)}"
            raise diags.fail(f"stage {name}: {field} {text} {what}, so DVC cannot loop over it",
                             "name a list (or for foreach a mapping) of params.yaml or vars: `${models}`", where)


def _moves(stage: dict, vars_: _Vars) -> str | None:
    """The params-file vars a foreach or matrix stage loops over (``${regions}``): an edit of one changes its
    instances without changing dvc.yaml."""
    each = stage.get("foreach", stage.get("matrix"))
    named = [each] if isinstance(each, str) else [v for v in each.values() if isinstance(v, str)] if isinstance(each, dict) and "matrix" in stage else []
    return ", ".join(n for n in named if _from_file(n, vars_)) or None


def _from_file(text: str, vars_: _Vars) -> bool:
    """Whether ``text`` is one ``${...}`` naming a var of params.yaml or a vars file (not of dvc.yaml itself)."""
    match = _INTERPOLATION.fullmatch(text.strip())
    ref = vars_.reference(match.group(1)) if match else None
    return ref is not None and ref.split(".")[1] in vars_.files


def _looped(stage: dict, vars_: _Vars) -> bool:
    """A foreach stage, or a matrix stage whose combinations are known statically: a step with for_each."""
    return "foreach" in stage or ("matrix" in stage and _matrix(stage["matrix"], vars_) is not None)


def _frozen(stage: Any) -> bool:
    """A stage DVC never runs (``dvc freeze``): ``frozen: true`` among its fields (a foreach stage's under ``do``)."""
    return isinstance(stage, dict) and (stage.get("frozen") is True or _body(stage).get("frozen") is True)


def _stage_instances(stage: dict, vars_: _Vars) -> dict[str, Any] | None:
    return _instances(stage["foreach"], vars_) if "foreach" in stage else _matrix(stage["matrix"], vars_)


def _matrix(matrix: Any, vars_: _Vars) -> dict[str, dict] | None:
    """A matrix's combinations keyed as DVC keys them (``cnn-a``: each plain value, a list or mapping as NAME+index),
    each a mapping of its values (``${item.model}``); None when a value list is not known here."""
    if not isinstance(matrix, dict) or not matrix:
        return None
    columns = {}
    for column, values in matrix.items():
        match = _INTERPOLATION.fullmatch(values.strip()) if isinstance(values, str) else None
        values = vars_.value(match.group(1)) if match else values
        if not isinstance(values, list) or not values:
            return None
        columns[str(column)] = [(f"{column}{i}" if isinstance(v, (dict, list)) else _dvc_str(v), v) for i, v in enumerate(values)]
    combos = itertools.product(*columns.values())
    return {"-".join(k for k, _ in combo): {c: v for c, (_, v) in zip(columns, combo)} for combo in combos}


def _instances(each: Any, vars_: _Vars) -> dict[str, Any] | None:
    """A foreach's items by DVC's keys; None when they are known only from a value zplan cannot read here."""
    if isinstance(each, str):
        match = _INTERPOLATION.fullmatch(each.strip())
        each = vars_.value(match.group(1)) if match else None
    if isinstance(each, dict):
        return {_dvc_str(k): v for k, v in each.items()}
    return _dvc_keys(each) if isinstance(each, list) else None


def _out_paths(stage: dict, vars_: _Vars, *kinds: str) -> list[str]:
    """The stage's outs as its step lists them (with their vars' values, but for a foreach stage)."""
    paths = [_path(o, _wdir(stage, vars_.base)) for o in _outs(_body(stage), *kinds)]
    return paths if _looped(stage, vars_) else [_render(p, vars_) or p for p in paths]


def _path_text(path: str, vars_: _Vars, looped: bool, notes: list[str], stage: str) -> str:
    """A dep or out path as HCL. A step's paths are constants (but for ``each.*``): a stage's ``${var}`` in
    one is written as its value."""
    if path == ".." or path.startswith("../"):
        notes.append(f"stage {stage}: {path} is outside the project folder, which a step cannot read or write: "
                     "write the file in the folder that holds it (-out ../dvc.zp.hcl)")
    rendered = None if looped else _render(path, vars_)
    if rendered is None or rendered == path:
        return _template(path, vars_, looped, notes, stage)
    notes.append(f"stage {stage}: {path} is written as {rendered} (a step's paths are constants): import again after changing what it names")
    return _string(rendered)


def _render(text: str, vars_: _Vars, instance: tuple[str, Any] | None = None) -> str | None:
    """``text`` with each ``${...}`` replaced by the value of the var it names, or of a foreach ``instance``'s
    ``key`` and ``item``; None when one names none."""
    parts, last = [], 0
    for match in _INTERPOLATION.finditer(text):
        value = _instance_value(match.group(1), instance) if instance else None
        value = vars_.value(match.group(1)) if value is None else value
        if value is None or isinstance(value, (dict, list)):
            return None
        parts += [_unescaped(text[last:match.start()]), _dvc_str(value)]
        last = match.end()
    return "".join(parts) + _unescaped(text[last:])


def _body(stage: dict) -> dict:
    """The fields of a stage: a foreach stage's are under ``do``."""
    if "foreach" not in stage:
        return stage
    body = stage.get("do")
    return body if isinstance(body, dict) else {}


def _wdir(stage: Any, base: str) -> str:
    """The stage's working folder relative to the project ("" for its own): DVC reads its paths from there."""
    wdir = _body(stage).get("wdir") if isinstance(stage, dict) else None
    folder = posixpath.normpath(posixpath.join(base, wdir or "."))
    return "" if folder == "." else folder


def _outs(stage: dict, *kinds: str) -> list:
    kinds = kinds or ("outs", "metrics", "plots")
    return [o for k in kinds for o in stage.get(k) or []]


def _path(entry: Any, wdir: str = "") -> str:
    """An out or dep as DVC writes it (a path, or {path: {options}}), relative to the project."""
    path = (next(iter(entry)) if isinstance(entry, dict) else str(entry)).rstrip("/")
    return posixpath.normpath(posixpath.join(wdir, path))  # ./data/x.csv and data//x.csv are data/x.csv, as DVC reads them


def _for_each(each: Any, vars_: _Vars) -> str:
    """DVC's foreach as a for_each, keyed as DVC keys its instances (``${key}``, ``stage@KEY``)."""
    if isinstance(each, str):
        match = _INTERPOLATION.fullmatch(each.strip())
        ref = vars_.reference(match.group(1)) if match else None
        return _keyed(ref, vars_.value(match.group(1))) if ref else _string(each)
    if isinstance(each, list) and not all(isinstance(v, str) for v in each):
        return dvc_literal(_dvc_keys(each))  # for_each takes a map or a set of strings, not a list, as in Terraform
    return _keyed(dvc_literal(each), each)


def _keyed(expr: str, value: Any) -> str:
    """``expr`` (a foreach list or mapping) as a map or a set of strings, with DVC's keys."""
    if not isinstance(value, list):
        return expr
    if all(isinstance(v, str) for v in value):
        return f"toset({expr})"
    if any(isinstance(v, (dict, list)) for v in value):
        return f"{{ for i, v in {expr} : tostring(i) => v }}"
    return f"{{ for v in {expr} : dvc_text(v) => v }}"


def _dvc_keys(items: list) -> dict[str, Any]:
    """A foreach list keyed as DVC keys it: plain values by themselves, lists and mappings by their index."""
    if any(isinstance(v, (dict, list)) for v in items):
        return {str(i): v for i, v in enumerate(items)}
    return {_dvc_str(v): v for v in items}


def _dvc_str(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def _template(text: str, vars_: _Vars, looped: bool, notes: list[str], stage: str) -> str:
    """A DVC string as an HCL string: ``${...}`` translated, other ``$`` kept literal (``\\${`` as ``${``, as DVC keeps it)."""
    out, last = [], 0
    for match in _INTERPOLATION.finditer(text):
        out.append(_escape(_unescaped(text[last:match.start()])))
        out.append(_interpolation(match.group(1), vars_, looped, notes, stage))
        last = match.end()
    out.append(_escape(_unescaped(text[last:])))
    return '"' + "".join(out) + '"'


def _instance_value(expr: str, instance: tuple[str, Any]) -> Any:
    key, item = instance
    if expr == "key":
        return key
    if expr == "item" or expr.startswith(("item.", "item[")):
        from zplan.config.params_files import ParamsFileError, lookup

        try:
            return lookup({"item": item}, expr.replace("[", ".").replace("]", ""), "")
        except ParamsFileError:
            return None
    return None


def _interpolation(expr: str, vars_: _Vars, looped: bool, notes: list[str], stage: str) -> str:
    """One ``${...}`` as HCL: written by ``dvc_text`` as DVC writes it (2.0 as 2.0, a mapping as --flags), not as
    HCL writes a number (2)."""
    if looped and (expr == "item" or expr.startswith(("item.", "item["))):
        return "${dvc_text(each.value" + expr[4:] + vars_.parsing + ")}"
    if looped and expr == "key":
        return "${each.key}"
    ref = vars_.reference(expr)
    if ref is None:
        notes.append(f"stage {stage}: ${{{expr}}} names no var or params.yaml key: kept as literal text")
        return "$${" + expr + "}"
    return "${dvc_text(" + ref + vars_.parsing + ")}"


def _unescaped(text: str) -> str:
    """DVC's text between its ``${...}``: ``\\${`` is a literal ``${`` (DVC leaves it for the shell: ``\\${HOME}``)."""
    return text.replace("\\${", "${")
