"""`zplan import-dvc [dvc.yaml]`: a DVC pipeline as script steps in one ``*.zp.hcl`` file.

Stages become script steps (``cmd`` -> ``command``; ``deps``, ``params``, ``outs``,
``metrics``, ``plots`` kept). A dep that is another stage's out becomes an input
(``step.X.outs["path"]``): the out is placed at its own path, so the command
runs unchanged. Templating is translated: ``${train.n_est}`` reads params.yaml
(or the ``vars`` files) through ``params_file()``, and ``foreach``/``do``
stages become ``for_each`` with ``${item}`` -> ``${each.value}``, ``${key}`` ->
``${each.key}``. A stage's ``wdir`` becomes ``cd WDIR && ...`` with its paths
rewritten relative to the project. What has no equivalent is listed, never
silently dropped.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import json
import math
import os
import posixpath
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from zplan import diags
from zplan.config.fmt import format_text
from zplan.config.params_files import is_params_file
from zplan.operations.dvc_yaml import check_stage, read

DEFAULT_OUT = "dvc.zp.hcl"
PARAMS_FILE = "params.yaml"
_INTERPOLATION = re.compile(r"\$\{\s*([^}]*?)\s*\}")
_NOT_A_NAME = re.compile(r"[^A-Za-z0-9_]+")
_NOTED_FIELDS = {  # stage fields with no equivalent: what the note says
    "frozen": "`frozen: true` is not converted (use -target/-exclude, or -replace to force a run)",
    "vars": "`vars:` of a stage is not converted (only top-level vars are read)",
    "meta": "`meta:` is not converted (zplan keeps no free-form stage metadata)",
}
_FIELDS = {"cmd", "wdir", "deps", "params", "outs", "metrics", "plots", "desc", "always_changed", "foreach", "do", "matrix", *_NOTED_FIELDS}


@dataclass
class Converted:
    text: str
    notes: list[str] = field(default_factory=list)  # what could not be converted, one line each


def import_dvc(dvc_yaml: Path, out: Path | None = None, force: bool = False) -> tuple[Path, Converted]:
    """Write the converted pipeline next to dvc.yaml (or to ``out``); refuses to overwrite without ``force``."""
    dest = out or dvc_yaml.parent / DEFAULT_OUT
    converted = convert(dvc_yaml, dest.parent)
    write_converted(dest, converted.text, force)
    return dest, converted


def write_converted(dest: Path, text: str, force: bool, default_name: str = DEFAULT_OUT) -> None:
    """Write an importer's file (import-dvc, import-zenml), refusing to replace a folder, or a file without ``force``."""
    if dest.is_dir():
        raise diags.fail(f"{dest} is a folder", f"give -out a file name, e.g. -out {Path(dest.name) / default_name}")
    if dest.exists() and not force:
        raise diags.fail(f"{dest} already exists", "remove it, choose another file with -out, or pass -force to overwrite it")
    from zplan.fsutil import atomic_write_text

    try:
        atomic_write_text(dest, text)
    except OSError as exc:  # e.g. a parent that is a file, or a folder not writable
        raise diags.fail(f"cannot write {dest}: {exc.strerror or exc}", "choose another file with -out") from None


def convert(dvc_yaml: Path, project: Path | None = None) -> Converted:
    """The pipeline as HCL for a project in ``project`` (default: dvc.yaml's folder), its paths relative to it."""
    document, lines = read(dvc_yaml)
    project = project or dvc_yaml.parent
    base = _base(dvc_yaml, project)
    stages = document.get("stages") or {}
    if not isinstance(stages, dict) or not stages:
        raise diags.fail(f"{dvc_yaml} has no stages", "a dvc.yaml lists its stages under `stages:`")
    stages = {str(name): stage for name, stage in stages.items()}
    for name, stage in stages.items():
        if isinstance(stage, dict):
            check_stage(name, _body(stage), lines)
    notes: list[str] = []
    vars_ = _Vars(dvc_yaml.parent, project, base, document.get("vars") or [], notes)
    steps = _unique({name: _name(name) for name in stages})  # train-a and train_a are two steps
    outs_of = _outs_of(stages, vars_, steps)
    with _in_file(dvc_yaml):
        blocks = [_stage(name, stage, outs_of, vars_, notes, steps[name]) for name, stage in stages.items()]
        locals_block = vars_.locals_block()
    for key in ("metrics", "plots", "artifacts", "params", "datasets"):
        if document.get(key):
            notes.append(f"top-level `{key}:` is not converted (stage metrics are step outputs; see `zplan output`)")
    header = [f"# Converted from {posixpath.join(base, dvc_yaml.name)} by `zplan import-dvc`.", ""]
    metrics = {(steps[name], m): f"{steps[name]}_{_name(Path(m).stem)}" for name, stage in stages.items()
               if isinstance(stage, dict) and not _looped(stage, vars_) for m in _out_paths(stage, vars_, "metrics")}
    outputs = [f'\noutput "{output}" {{\n  value = step.{step}.outs[{_string(m)}]\n}}' for (step, m), output in _unique(metrics).items()]
    text = "\n".join(header + locals_block + ['pipeline "dvc" {', *[line for b in blocks for line in b], "}", *outputs, ""])
    return Converted(format_text(text, DEFAULT_OUT), notes)


@contextlib.contextmanager
def _in_file(dvc_yaml: Path) -> Iterator[None]:
    """An error about a value read from the file (a NaN in vars) names the file."""
    try:
        yield
    except diags.DiagnosticError as exc:
        where = diags.Range(str(dvc_yaml))
        raise diags.DiagnosticError([dataclasses.replace(d, range=d.range or where) for d in exc.diagnostics]) from None


def _base(dvc_yaml: Path, project: Path) -> str:
    """dvc.yaml's folder relative to the project's: DVC reads a stage's paths from there ("" for the same)."""
    folder = Path(os.path.relpath(dvc_yaml.parent.resolve(), project.resolve())).as_posix()
    if folder == ".." or folder.startswith("../"):
        raise diags.fail(f"{dvc_yaml} is outside the folder of the file to write ({project})",
                         "write the file in dvc.yaml's folder or in a folder above it (-out)")
    return "" if folder == "." else folder


class _Vars:
    """DVC's templating sources: params.yaml (always) and the ``vars`` entries, as HCL locals."""

    def __init__(self, root: Path, project: Path, base: str, entries: list, notes: list[str]) -> None:
        self.root, self.project, self.base = root, project, base  # dvc.yaml's folder; the project's; the first in the second
        self.files: dict[str, str] = {}  # local name -> params file
        self.values: dict[str, Any] = {}  # inline vars
        self.used: set[str] = set()
        self._documents: dict[str, Any] = {}
        candidates = [PARAMS_FILE] if (root / PARAMS_FILE).exists() else []
        for entry in entries if isinstance(entries, list) else [entries]:
            if isinstance(entry, str):
                file = entry.split(":", 1)[0]
                if file not in candidates:
                    candidates.append(file)
            elif isinstance(entry, dict):
                self.values.update(entry)
            else:
                notes.append(f"vars entry {entry!r} is not converted")
        names = _unique({file: "params" if file == PARAMS_FILE else _name(Path(file).stem + "_params") for file in candidates})
        for file, name in names.items():  # a/conf.yaml and b/conf.yaml: conf_params and conf_params_2
            self.files[name] = file
            try:
                from zplan.config.params_files import read

                self._documents[name] = read(root / file)
            except Exception:
                notes.append(f"vars file {file} could not be read: its keys are not translated")

    def reference(self, dotted: str) -> str | None:
        """The HCL for a DVC ``${dotted}`` that names a var, else None."""
        head = dotted.split(".")[0].split("[")[0]
        if head in self.values:
            self.used.add("vars")
            return f"local.vars.{dotted}"
        for name, document in self._documents.items():
            if isinstance(document, dict) and head in document:
                self.used.add(name)
                return f"local.{name}.{dotted}"
        return None

    def value(self, dotted: str) -> Any:
        """The value a ``${dotted}`` that names a var stands for (None when it names none)."""
        from zplan.config.params_files import ParamsFileError, lookup

        head = dotted.split(".")[0]
        sources = [self.values] if head in self.values else [d for d in self._documents.values() if isinstance(d, dict) and head in d]
        try:
            return lookup(sources[0], dotted, "") if sources else None
        except ParamsFileError:
            return None

    def locals_block(self) -> list[str]:
        if not self.used:
            return []
        lines = ["locals {"]
        for name in sorted(self.used):
            if name == "vars":
                lines.append(f"  vars = {hcl_literal(self.values)}")
            else:
                lines.append(f'  {name} = params_file({_string(posixpath.join(self.base, self.files[name]))})')
        return lines + ["}", ""]


def _stage(name: str, stage: Any, outs_of: dict[str, _Out], vars_: _Vars, notes: list[str], step: str) -> list[str]:
    if not isinstance(stage, dict):
        notes.append(f"stage {name}: not a mapping, skipped")
        return []
    body, looped, wdir = _body(stage), _looped(stage, vars_), _wdir(stage, vars_.base)
    _note_fields(name, stage, looped, notes)
    command = _command(name, body, wdir, vars_, looped, notes)
    if command is None:
        return []
    lines = ["", f'  step "{step}" {{']
    if looped:
        each = _for_each(stage["foreach"], vars_) if "foreach" in stage else hcl_literal(_matrix(stage["matrix"], vars_))
        lines.append(f"    for_each = {each}")
        if "matrix" in stage and _moves(stage, vars_):
            notes.append(f"stage {name}: its matrix is written with the values of {_moves(stage, vars_)} now: import again after changing them")
    if body.get("desc"):
        lines.append(f"    description = {_string(str(body['desc']))}")
    lines.append(f"    command = {command}")
    if body.get("always_changed") is True:
        lines.append("    cache = false")  # DVC's always_changed: the stage runs on every repro
    params, files = _params(body.get("params") or [], name, wdir, notes)
    lines += _deps(name, body, wdir, outs_of, vars_, looped, notes, files, _stage_instances(stage, vars_) if looped else None,
                   stage.get("foreach"))
    if params:  # a key may name ${item}, as any field of a foreach stage
        lines.append(f"    params = {_list([_path_text(p, vars_, looped, notes, name) for p in params], raw=True)}")
    outs, metrics, plots = ([_path(o, wdir) for o in _outs(body, kind)] for kind in ("outs", "metrics", "plots"))
    if plots:
        notes.append(f"stage {name}: plots {', '.join(plots)} are kept as outs (zplan draws no plots)")
    if outs or plots:
        lines.append(f"    outs = {_list([_path_text(p, vars_, looped, notes, name) for p in outs + plots], raw=True)}")
    if metrics:
        lines.append(f"    metrics = {_list([_path_text(p, vars_, looped, notes, name) for p in metrics], raw=True)}")
    return lines + ["  }"]


@dataclass(frozen=True)
class _Out:
    stage: str  # the DVC stage writing it
    ref: str  # its HCL reference, of one instance for a foreach stage
    key: str | None = None  # that instance's key
    each: Any = None  # that stage's foreach as written, when it names a var (`${regions}`)
    moves: str | None = None  # the vars whose edit changes that stage's instances


def _outs_of(stages: dict[str, Any], vars_: _Vars, steps: dict[str, str]) -> dict[str, _Out]:
    """Every out by its path; a foreach stage's for each instance, when its items are known statically."""
    found = {}
    for name, stage in stages.items():
        if not isinstance(stage, dict):
            continue
        if not _looped(stage, vars_):
            found.update({p: _Out(name, f"step.{steps[name]}.outs[{_string(p)}]") for p in _out_paths(stage, vars_)})
            continue
        for key, item in (_stage_instances(stage, vars_) or {}).items():
            for template in _out_paths(stage, vars_):
                path = _render(template, vars_, (key, item))
                if path is not None:
                    each = stage.get("foreach") if isinstance(stage.get("foreach"), str) else None
                    found[path] = _Out(name, f"step.{steps[name]}[{_string(key)}].outs[{_string(path)}]", key, each, _moves(stage, vars_))
    return found


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
    return ref is not None and not ref.startswith("local.vars.")


def _looped(stage: dict, vars_: _Vars) -> bool:
    """A foreach stage, or a matrix stage whose combinations are known statically: a step with for_each."""
    return "foreach" in stage or ("matrix" in stage and _matrix(stage["matrix"], vars_) is not None)


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
        parts += [text[last:match.start()], _dvc_str(value)]
        last = match.end()
    return "".join(parts) + text[last:]


def _command(name: str, stage: dict, wdir: str, vars_: _Vars, looped: bool, notes: list[str]) -> str | None:
    """The HCL ``command``: DVC's cmd (a list joined with &&), run in the stage's wdir; None without one."""
    cmd = stage.get("cmd")
    if isinstance(cmd, list):
        if len(cmd) > 1:
            notes.append(f"stage {name}: {len(cmd)} commands are joined with && into one")
        cmd = " && ".join(cmd)
    if not cmd:
        notes.append(f"stage {name}: no cmd, skipped")
        return None
    if not wdir:
        return _template(cmd, vars_, looped, notes, name)
    # The scratch folder holds deps at their project paths (rewritten below as wdir/...), so
    # the command runs from that folder, as DVC runs it.
    return f'["sh", "-c", {_template(f"cd {shlex.quote(wdir)} && {cmd}", vars_, looped, notes, name)}]'


def _note_fields(name: str, stage: dict, looped: bool, notes: list[str]) -> None:
    """A note for each field of the stage that has no equivalent, or that DVC does not know."""
    body = _body(stage)
    if "matrix" in stage and not looped:
        notes.append(f"stage {name}: `matrix` is not converted: its values are not lists, or name vars zplan cannot read here")
    for key, value in (stage if body is stage else {**stage, **body}).items():
        if key in _NOTED_FIELDS and value:
            notes.append(f"stage {name}: {_NOTED_FIELDS[key]}")
        elif key not in _FIELDS:
            notes.append(f"stage {name}: `{key}:` is not a DVC stage field, not converted")
    for entry in [o for k in ("outs", "metrics", "plots") for o in body.get(k) or [] if isinstance(o, dict)]:
        for path, options in entry.items():
            if isinstance(options, dict) and options.get("persist"):
                notes.append(f"stage {name}: out {path}: `persist` is not converted (a step starts from an empty folder)")


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


def _deps(name: str, stage: dict, wdir: str, outs_of: dict[str, _Out], vars_: _Vars, looped: bool, notes: list[str],
          params_files: list[str], instances: dict[str, Any] | None, stage_each: Any = None) -> list[str]:
    """A dep another stage writes (as a whole, or inside or around one of its outs) is an input from that step;
    ``params_files``: params files the step depends on as a whole; ``instances``: a foreach stage's items by key."""
    inputs, deps = {}, []
    others = {o: out for o, out in outs_of.items() if out.stage != name}
    for dep in stage.get("deps") or []:
        path = _path(dep, wdir)
        rendered = _render(path, vars_)
        if rendered is None and instances:  # it names ${item} or ${key}: each instance reads its own
            refs = {key: _written(_render(path, vars_, (key, item)), others) for key, item in instances.items()}
            if all(refs.values()):
                ref = _per_instance(path, refs, stage_each, vars_, notes, name)
                _add_input(inputs, path, ref)
                if not ref.startswith("step."):  # a map of the instances there are now
                    _note_fixed(name, path, [o for _, o in refs.values()], notes)
                continue
        path = rendered or path
        around = next((o for o in others if path.startswith(o + "/")), None)
        within = [o for o in others if o.startswith(path + "/")]  # DVC links a folder dep to the outs inside it
        if path in others:
            _add_input(inputs, path, others[path].ref)
            _note_fixed(name, path, [others[path]], notes)
        elif around is not None:
            notes.append(f"stage {name}: dep {path} is inside the out of {others[around].stage}: the whole out is used")
            _add_input(inputs, around, others[around].ref)
            _note_fixed(name, path, [others[around]], notes)
        elif within:
            for out in within:
                _add_input(inputs, out, others[out].ref)
            _note_unwritten(name, path, within, vars_.project, notes)
            _note_fixed(name, path, [others[o] for o in within], notes)
        else:
            deps.append(_path_text(path, vars_, looped, notes, name))
    deps += [text for text in map(_string, params_files) if text not in deps]
    lines = []
    if inputs:
        lines.append("    inputs = { " + ", ".join(f"{k} = {v}" for k, v in inputs.items()) + " }")
    if deps:
        lines.append(f"    deps = {_list(deps, raw=True)}")
    return lines


def _written(path: str | None, outs: dict[str, _Out]) -> tuple[str, _Out] | None:
    """The out that is ``path`` or holds it (its path and what writes it), if a stage writes one."""
    found = path if path in outs else next((o for o in outs if path and path.startswith(o + "/")), None)
    return (found, outs[found]) if found else None


def _per_instance(path: str, refs: dict[str, tuple[str, _Out]], each: Any, vars_: _Vars, notes: list[str], stage: str) -> str:
    """The input of each instance: the same instance of a stage looping over the same var
    (``step.prepare[each.key]``, which follows an edit of that var), else a map by instance."""
    (producer_each, step), *others = {(o.each, o.ref.split("[")[0]) for _, o in refs.values()}
    if not others and isinstance(each, str) and producer_each == each and all(
            o.key == k and out == _render(path, vars_, (k, i)) for (k, i), (out, o) in zip(_instances(each, vars_).items(), refs.values())):
        return f"{step}[each.key].outs[{_template(path, vars_, True, notes, stage)}]"
    return "{ " + ", ".join(f"{_string(k)} = {o.ref}" for k, (_, o) in refs.items()) + " }[each.key]"


def _note_fixed(stage: str, dep: str, outs: list[_Out], notes: list[str]) -> None:
    """A note when a dep is wired to the instances a var gives now: an edit of the var is not followed."""
    moves = sorted({f"{o.stage} ({o.moves})" for o in outs if o.moves})
    if moves:
        notes.append(f"stage {stage}: dep {dep} is read from the instances of {', '.join(moves)} as they are now: import again after changing them")


def _add_input(inputs: dict[str, str], path: str, ref: str) -> None:
    """An input named by the out's file name, unique within the step (a/x.csv and b/x.csv: x_csv, x_csv_2)."""
    base = _name(Path(path).name.replace(".", "_"))
    key, n = base, 2
    while key in inputs and inputs[key] != ref:
        key, n = f"{base}_{n}", n + 1
    inputs[key] = ref


def _note_unwritten(stage: str, folder: str, outs: list[str], root: Path, notes: list[str]) -> None:
    """A note when the dep folder, as it is in the workspace, holds files no stage writes: they are not placed."""
    base = root / folder
    files = [p.relative_to(root).as_posix() for p in base.rglob("*") if p.is_file()] if base.is_dir() else []
    extra = sorted(f for f in files if not any(f == o or f.startswith(o + "/") for o in outs))
    if extra:
        notes.append(f"stage {stage}: dep {folder} holds {', '.join(extra[:3])}{' ...' if len(extra) > 3 else ''}, which no stage writes: "
                     f"only the outs in it are inputs; add those files to deps")


def _params(entries: list, stage: str, wdir: str, notes: list[str]) -> tuple[list[str], list[str]]:
    """The param keys a step lists, and the params files it depends on as a whole: all of a file's params
    (``- file.yaml:``), and the params of a Python file, which a step cannot list by key."""
    keys, files = [], []
    for entry in entries:
        if isinstance(entry, str):
            keys.append(_param_key(PARAMS_FILE, entry, wdir))
        elif isinstance(entry, dict):
            for file, names in entry.items():
                if names and is_params_file(file):
                    keys += [_param_key(file, k, wdir) for k in names]
                    continue
                what = f"all of {file} as params" if not names else f"params {', '.join(map(str, names))} of {file} (Python)"
                files.append(_path(file, wdir))
                notes.append(f"stage {stage}: {what}: {files[-1]} is a dep instead (any edit of it reruns the step)")
    return keys, files


def _param_key(file: str, key: str, wdir: str) -> str:
    """A DVC param as a script step lists it: a key of params.yaml alone, any other FILE:KEY."""
    file = _path(file, wdir)  # DVC reads a stage's params files from its wdir
    return key if file == PARAMS_FILE else f"{file}:{key}"


def _outs(stage: dict, *kinds: str) -> list:
    kinds = kinds or ("outs", "metrics", "plots")
    return [o for k in kinds for o in stage.get(k) or []]


def _path(entry: Any, wdir: str = "") -> str:
    """An out or dep as DVC writes it (a path, or {path: {options}}), relative to the project."""
    path = (next(iter(entry)) if isinstance(entry, dict) else str(entry)).rstrip("/")
    return posixpath.normpath(posixpath.join(wdir, path)) if wdir else path


def _for_each(each: Any, vars_: _Vars) -> str:
    """DVC's foreach as a for_each, keyed as DVC keys its instances (``${key}``, ``stage@KEY``)."""
    if isinstance(each, str):
        match = _INTERPOLATION.fullmatch(each.strip())
        ref = vars_.reference(match.group(1)) if match else None
        return _keyed(ref, vars_.value(match.group(1))) if ref else _string(each)
    if isinstance(each, list) and not all(isinstance(v, str) for v in each):
        return hcl_literal(_dvc_keys(each))  # for_each takes a map or a set of strings, not a list, as in Terraform
    return _keyed(hcl_literal(each), each)


def _keyed(expr: str, value: Any) -> str:
    """``expr`` (a foreach list or mapping) as a map or a set of strings, with DVC's keys."""
    if not isinstance(value, list):
        return expr
    if all(isinstance(v, str) for v in value):
        return f"toset({expr})"
    if any(isinstance(v, (dict, list)) for v in value):
        return f"{{ for i, v in {expr} : tostring(i) => v }}"
    return f"{{ for v in {expr} : tostring(v) => v }}"


def _dvc_keys(items: list) -> dict[str, Any]:
    """A foreach list keyed as DVC keys it: plain values by themselves, lists and mappings by their index."""
    if any(isinstance(v, (dict, list)) for v in items):
        return {str(i): v for i, v in enumerate(items)}
    return {_dvc_str(v): v for v in items}


def _dvc_str(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def _template(text: str, vars_: _Vars, looped: bool, notes: list[str], stage: str) -> str:
    """A DVC string as an HCL string: ``${...}`` translated, other ``$`` kept literal."""
    out, last = [], 0
    for match in _INTERPOLATION.finditer(text):
        out.append(_escape(text[last:match.start()]))
        out.append(_interpolation(match.group(1), vars_, looped, notes, stage))
        last = match.end()
    out.append(_escape(text[last:]))
    return '"' + "".join(out) + '"'


def _instance_value(expr: str, instance: tuple[str, Any]) -> Any:
    key, item = instance
    if expr == "key":
        return key
    if expr == "item" or expr.startswith("item."):
        from zplan.config.params_files import ParamsFileError, lookup

        try:
            return lookup({"item": item}, expr, "")
        except ParamsFileError:
            return None
    return None


def _interpolation(expr: str, vars_: _Vars, looped: bool, notes: list[str], stage: str) -> str:
    if looped and (expr == "item" or expr.startswith("item.")):
        return "${each.value" + expr[4:] + "}"
    if looped and expr == "key":
        return "${each.key}"
    ref = vars_.reference(expr)
    if ref is None:
        notes.append(f"stage {stage}: ${{{expr}}} names no var or params.yaml key: kept as literal text")
        return "$${" + expr + "}"
    return "${" + ref + "}"


def _escape(text: str) -> str:
    """Text inside an HCL quoted string, which cannot span lines: a multi-line ``cmd: |`` keeps its newlines as ``\\n``."""
    text = text.replace("\\", "\\\\").replace('"', '\\"').replace("${", "$${").replace("%{", "%%{")
    return text.replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")


def _string(text: str) -> str:
    return '"' + _escape(text) + '"'


def _list(items: list[str], raw: bool = False) -> str:
    return "[" + ", ".join(items if raw else [_string(i) for i in items]) + "]"


def hcl_literal(value: Any) -> str:
    """A YAML or Python literal value as an HCL literal: its strings are text, never a template, and a value
    HCL has no literal for (a YAML date) is its text, as DVC interpolates it; an error for NaN or infinity."""
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_key(k)} = {hcl_literal(v)}" for k, v in value.items()) + " }"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(hcl_literal(v) for v in value) + "]"
    if isinstance(value, float) and not math.isfinite(value):
        raise diags.fail(f"the value {value} has no HCL literal: zplan's numbers are finite", "write it as a string, or a finite number")
    if value is None or isinstance(value, (bool, int, float)):
        return json.dumps(value)
    return _string(str(value))


def _key(key: Any) -> str:
    text = str(key)
    return text if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", text) else _string(text)


def _unique(names: dict[Any, str]) -> dict[Any, str]:
    """Each name made distinct from the ones before it (x, x_2, x_3...), for HCL blocks that need their own."""
    taken: set[str] = set()
    for key, name in names.items():
        found, n = name, 2
        while found in taken:
            found, n = f"{name}_{n}", n + 1
        names[key] = found
        taken.add(found)
    return names


def _name(text: str) -> str:
    """A DVC stage name (may hold '@', '.', '-') as an HCL name."""
    name = _NOT_A_NAME.sub("_", text).strip("_") or "stage"
    return name if name[0].isalpha() or name[0] == "_" else f"s_{name}"
