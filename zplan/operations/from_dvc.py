"""`zplan import-dvc [dvc.yaml ...]`: a DVC pipeline, of one or several dvc.yaml files, as script steps in one ``*.zp.hcl`` file.

Stages become script steps (``cmd`` -> ``command``; ``deps``, ``params``, ``outs``,
``metrics``, ``plots`` kept). A dep that is another stage's out becomes an input
(``step.X.outs["path"]``): the out is placed at its own path, so the command
runs unchanged. Templating is translated: ``${train.n_est}`` reads params.yaml
(or the ``vars`` files) through ``params_file()``, written by ``dvc_text()`` as DVC
writes it, and ``foreach``/``do`` stages become ``for_each`` with ``${item}`` ->
``each.value``, ``${key}`` -> ``each.key``. A stage's ``wdir`` becomes ``cd WDIR && ...`` with its paths
rewritten relative to the project. What has no equivalent is listed, never
silently dropped.

Here: the file and each stage's step block. The vars are read in ``dvc_vars``, the
templating of stages in ``dvc_templating``, values are written as HCL in
``dvc_literals``, deps are linked to outs in ``dvc_links``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import posixpath
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence

from zplan import diags
from zplan.config.fmt import format_text
from zplan.config.params_files import is_params_file
from zplan.operations.dvc_ignore import ignored, rules_of
from zplan.operations.dvc_links import _deps, _Out, _outs_of
from zplan.operations.dvc_literals import _list, _name, _string, _unique, dvc_literal, hcl_literal
from zplan.operations.dvc_templating import (_body, _for_each, _frozen, _looped, _matrix, _moves, _out_paths, _outs, _path, _path_text, _render,
                                             _stage_instances, _template, _wdir, check_loop_values, check_references)
from zplan.operations.dvc_vars import PARAMS_FILE, _Vars, dvc_parsing
from zplan.operations.dvc_yaml import Lines, check_loop, check_stage, note_line, read

DEFAULT_OUT = "dvc.zp.hcl"
_INTERPOLATED = re.compile(r"\$\{[^}]*\}")
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]+://")  # an external dep DVC reads from a remote: s3://, https://, remote://
_NOTED_FIELDS = {  # stage fields with no equivalent: what the note says
    "meta": "`meta:` is not converted (zplan keeps no free-form stage metadata)",
}
_TOP_LEVEL = {  # top-level sections with no equivalent: why
    "metrics": "list a metrics file in the `metrics:` of the stage writing it: its values are then outputs, see `zplan output`",
    "plots": "zplan draws no plots; the files stay outs of the steps writing them",
    "artifacts": "zplan keeps no model registry; the files stay outs of the steps writing them",
    "params": "a step lists the param keys it reads in its own `params`",
    "datasets": "zplan reads no DVC datasets; give the data as deps",
}
_FIELDS = {"cmd", "wdir", "vars", "deps", "params", "outs", "metrics", "plots", "desc", "always_changed", "frozen", "foreach", "do",
           "matrix", *_NOTED_FIELDS}


@dataclass
class Converted:
    text: str
    notes: list[str] = field(default_factory=list)  # what could not be converted, one line each
    places: list[str] = field(default_factory=list)  # where each note's subject is written: dvc.yaml:LINE


def import_dvc(dvc_yaml: Path | Sequence[Path], out: Path | None = None, force: bool = False) -> tuple[Path, Converted]:
    """Write the converted pipeline next to dvc.yaml, or in the folder holding all the dvc.yaml files given (or to
    ``out``); refuses to overwrite without ``force``."""
    files = [dvc_yaml] if isinstance(dvc_yaml, Path) else list(dvc_yaml)
    dest = out or _common_folder(files) / DEFAULT_OUT
    converted = convert(files, dest.parent)
    write_converted(dest, converted.text, force)
    return dest, converted


def find_dvc_yamls(root: Path) -> list[Path]:
    """Every dvc.yaml of the project, as `dvc repro` reads them into one graph: ./dvc.yaml first, then those of its
    sub-folders (but hidden ones: .git, .dvc, .zplan; those its .dvcignore files leave out; and a sub-folder that is a
    DVC project of its own, holding a .dvc folder: as DVC does)."""
    found, (rules, above) = [], _rules_above(root)
    for folder, subfolders, files in os.walk(root):
        base = posixpath.normpath(posixpath.join(above, Path(os.path.relpath(folder, root)).as_posix()))
        base = "" if base == "." else base  # the folder's path in the DVC project
        rules += rules_of(Path(folder), base)  # a folder's rules apply below it only: they name paths under it
        inside = f"{base}/" if base else ""
        subfolders[:] = sorted(d for d in subfolders if not d.startswith(".") and not ignored(inside + d, True, rules)
                               and not (Path(folder) / d / ".dvc").is_dir())
        if "dvc.yaml" in files and not ignored(inside + "dvc.yaml", False, rules):
            found.append(Path(folder) / "dvc.yaml")
    if not found:
        raise diags.fail(f"no dvc.yaml in {root} or its sub-folders", "run `zplan import-dvc` in the DVC project, or give the dvc.yaml's path")
    return found


def _rules_above(root: Path) -> tuple[list, str]:
    """The .dvcignore rules of the DVC project's folders above ``root`` (its folder holding .dvc, down to root's
    parent), and root's path in the project, which those rules name paths by."""
    resolved = root.resolve()
    top = next((p for p in [resolved, *resolved.parents] if (p / ".dvc").is_dir()), resolved)
    parts = resolved.relative_to(top).parts
    return [rule for i in range(len(parts)) for rule in rules_of(top.joinpath(*parts[:i]), "/".join(parts[:i]))], "/".join(parts)


def _common_folder(files: list[Path]) -> Path:
    return Path(os.path.commonpath([f.parent.resolve() for f in files])) if len(files) > 1 else files[0].parent


def write_converted(dest: Path, text: str, force: bool, default_name: str = DEFAULT_OUT) -> None:
    """Write an importer's file (import-dvc, import-zenml), refusing to replace a folder, or a file without ``force``.
    It is a configuration file: a plan reads no other name, and dvc.yaml itself was replaced with -force."""
    from zplan.fsutil import atomic_write_text

    if dest.is_dir():
        raise diags.fail(f"{dest} is a folder", f"give -out a file name, e.g. -out {Path(dest.name) / default_name}")
    if not dest.name.endswith(".zp.hcl"):
        raise diags.fail(f"{dest} is not a configuration file", f"give -out a *.zp.hcl file, which plan reads: e.g. -out {default_name}")
    if dest.exists() and not force:
        raise diags.fail(f"{dest} already exists", "remove it, choose another file with -out, or pass -force to overwrite it")

    try:
        atomic_write_text(dest, text)
    except OSError as exc:  # e.g. a parent that is a file, or a folder not writable
        raise diags.fail(f"cannot write {dest}: {exc.strerror or exc}", "choose another file with -out") from None


@dataclass
class _File:
    """One dvc.yaml of the project: its stages by their DVC address (``train``, or ``sub/dvc.yaml:train`` when
    several files are read into one graph, as DVC addresses them), and its templating sources."""

    path: Path
    document: dict
    stages: dict[str, Any]
    vars_: _Vars
    shown: str  # its path relative to the project
    vars_of: dict[str, _Vars]  # each stage's, by its address: the file's and its own `vars:`
    lines: Lines  # where its stages and their fields are written


def convert(dvc_yaml: Path | Sequence[Path], project: Path | None = None) -> Converted:
    """The pipeline of one or several dvc.yaml files (one graph, as `dvc repro` runs them) as HCL for a project in
    ``project`` (default: the folder holding them), its paths relative to it."""
    paths = [dvc_yaml] if isinstance(dvc_yaml, Path) else list(dvc_yaml)
    project = project or _common_folder(paths)
    notes: list[str] = []
    taken: set[str] = set()  # the locals' names, across files
    files: list[_File] = []
    places: list[str] = []  # where a note that names no stage points, until the stages' are known
    for path in paths:
        files.append(_read(path, project, len(paths) > 1, notes, taken))
        places += [_where(files[-1], files[-1].lines.top("vars").line)] * (len(notes) - len(places))
    stages = {name: stage for f in files for name, stage in f.stages.items()}
    if not stages:
        raise diags.fail(f"{', '.join(f.shown for f in files)} hold no stages", "a dvc.yaml lists its stages under `stages:`")
    vars_of = {name: v for f in files for name, v in f.vars_of.items()}
    steps = _unique({name: _step_name(name) for name in stages})  # train-a and train_a are two steps
    outs_of = {path: out for name, stage in stages.items() for path, out in _outs_of({name: stage}, vars_of[name], steps).items()}
    blocks, locals_lines = [], []
    for f in files:
        with _in_file(f.path):
            blocks += [_stage(name, stage, outs_of, vars_of[name], notes, steps[name]) for name, stage in f.stages.items()]
            locals_lines += f.vars_.locals_lines()
        places += [_where(f, 0)] * (len(notes) - len(places))
        for key, why in _TOP_LEVEL.items():
            if f.document.get(key):
                notes.append(f"top-level `{key}:` is not converted ({why})")
                places.append(_where(f, f.lines.top(key).line))
    header = [f"# Converted from {', '.join(f.shown for f in files)} by `zplan import-dvc`.", ""]
    parsing = dvc_parsing(project)  # the DVC project's config: how its mappings are unpacked in a cmd
    locals_lines = ([f"  dvc_parsing = {hcl_literal(parsing)}"] if parsing else []) + locals_lines
    locals_block = ["locals {", *locals_lines, "}", ""] if locals_lines else []
    metrics = {(name, m): f"{steps[name]}_{_name(_INTERPOLATED.sub('', Path(m).stem) or 'metrics')}"  # m-${key}.json: m
               for name, stage in stages.items() if not _frozen(stage) for m in _out_paths(stage, vars_of[name], "metrics")}
    outputs = [f'\noutput "{output}" {{\n  value = {value}\n}}' for (name, m), output in _unique(metrics).items()
               if (value := _metric_value(name, m, stages[name], steps[name], vars_of[name], notes))]
    text = "\n".join(header + locals_block + ['pipeline "dvc" {', *[line for b in blocks for line in b], "}", *outputs, ""])
    return Converted(format_text(text, DEFAULT_OUT), notes, _places(notes, places, files))


def _places(notes: list[str], places: list[str], files: list[_File]) -> list[str]:
    """file:line of each note: the stage field or stage it names, else where it was noted (the vars, a top-level section)."""
    stages = {address: (f.lines, address.removeprefix(f"{f.shown}:") if address != name else name)
              for f in files for address, name in zip(f.stages, f.document.get("stages") or {})}
    by_path = {str(f.lines.path): f for f in files}
    shown = []
    for i, note in enumerate(notes):
        found = note_line(note, stages)
        shown.append(_where(by_path[str(found[0].path)], found[1]) if found else places[i] if i < len(places) else files[0].shown)
    return shown


def _where(f: _File, line: int) -> str:
    return f"{f.shown}:{line}" if line else f.shown


def _read(dvc_yaml: Path, project: Path, several: bool, notes: list[str], taken: set[str]) -> _File:
    """One dvc.yaml, its stages checked as DVC checks them; with ``several``, those of a file but ./dvc.yaml named by
    its address (``sub/dvc.yaml:train``) and its locals by its folder (``sub_params``), so no two clash."""
    document, lines = read(dvc_yaml)
    base = _base(dvc_yaml, project)
    shown = posixpath.join(base, dvc_yaml.name)
    stages = document.get("stages") or {}
    if not isinstance(stages, dict) or not (stages or several):  # of several, one may hold only plots or artifacts
        raise diags.fail(f"{dvc_yaml} has no stages", "a dvc.yaml lists its stages under `stages:`")
    for name, stage in stages.items():
        check_loop(str(name), stage, lines)
        check_stage(str(name), _body(stage) if isinstance(stage, dict) else stage, lines)
    prefix = f"{_name(base)}_" if several and base else ""
    vars_ = _Vars(dvc_yaml.parent, project, base, document.get("vars") or [], notes, prefix, taken, lines.top("vars"))
    addressed = several and shown != "dvc.yaml"
    vars_of = {}
    for name, stage in stages.items():
        field = "foreach" if isinstance(stage, dict) and "foreach" in stage else "matrix"
        check_loop_values(str(name), stage, vars_, lines.at(str(name), field))  # a loop reads the file's vars only, as in DVC
        body = _body(stage) if isinstance(stage, dict) else {}
        wdir = _vars_wdir(str(name), body, vars_, lines.at(str(name), "wdir"))
        own = vars_.for_stage(str(name), body.get("vars"), wdir, notes, lines.at(str(name), "vars"))
        check_references(str(name), stage, own, lambda key, name=str(name): lines.at(name, key))
        vars_of[f"{shown}:{name}" if addressed else str(name)] = own
    return _File(dvc_yaml, document, {f"{shown}:{name}" if addressed else str(name): stage for name, stage in stages.items()}, vars_,
                 shown, vars_of, lines)


def _vars_wdir(name: str, body: dict, vars_: _Vars, where: diags.Range) -> str:
    """The folder a stage's own vars files are read from: its wdir, a ``${...}`` in it filled first with the
    file's vars (params.yaml and the top-level ``vars``), as `dvc repro` fills it before reading them."""
    wdir, entries = str(body.get("wdir") or ""), body.get("vars")
    files = [e for e in (entries if isinstance(entries, list) else [entries]) if isinstance(e, str)]
    if "${" not in wdir or not files:  # (a mapping of vars is read from nowhere)
        return wdir
    filled = _render(wdir, vars_)
    if filled is None:  # a foreach's ${item} (each instance reads its own files), or no var of the file
        raise diags.fail(f"stage {name}: its vars files are read from its wdir {wdir}, which names a loop's item or key, "
                         "or no var of params.yaml or the file's vars", "import-dvc reads a stage's vars files from one folder: "
                         "write the wdir with the file's vars only, or move the vars to the file's top-level vars", where)
    return filled


def _step_name(address: str) -> str:
    """A stage's step name: ``sub/dvc.yaml:train`` is sub_train."""
    file, _, name = address.rpartition(":")
    folder = posixpath.dirname(file)
    return _name(f"{folder}_{name}" if folder else name)


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


def _stage(name: str, stage: dict, outs_of: dict[str, _Out], vars_: _Vars, notes: list[str], step: str) -> list[str]:
    if _frozen(stage):
        return _frozen_stage(name, [p for p, o in outs_of.items() if o.stage == name], vars_.project, notes)
    body, looped, wdir = _body(stage), _looped(stage, vars_), _wdir(stage, vars_.base)
    _note_fields(name, stage, looped, notes)
    command = _command(name, body, wdir, vars_, looped, notes)
    lines = ["", f'  step "{step}" {{']
    if looped:
        each = _for_each(stage["foreach"], vars_) if "foreach" in stage else dvc_literal(_matrix(stage["matrix"], vars_))
        lines.append(f"    for_each = {each}")
        if "matrix" in stage and _moves(stage, vars_):
            notes.append(f"stage {name}: its matrix is written with the values of {_moves(stage, vars_)} now: import again after changing them")
    if body.get("desc"):
        lines.append(f"    description = {_string(str(body['desc']))}")
    lines.append(f"    command = {command}")
    external = [d for d in body.get("deps") or [] if _URL.match(next(iter(d)) if isinstance(d, dict) else str(d))]
    if external:  # DVC checks a URL by its ETag; zplan cannot see it change, so the step must run every time
        notes.append(f"stage {name}: dep {', '.join(map(str, external))} is outside the project, which a step cannot fingerprint: "
                     "cache = false, so it runs on every apply (steps after it come from the cache when its outs come out unchanged)")
        body = {**body, "deps": [d for d in body["deps"] if d not in external]}
    if body.get("always_changed") is True or external:
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


def _metric_value(name: str, metric: str, stage: dict, step: str, vars_: _Vars, notes: list[str]) -> str | None:
    """The value of the output showing a stage's metrics file, as `dvc metrics show` does: for a foreach or matrix
    stage a map of every instance's, by key (the instances there are now)."""
    if not _looped(stage, vars_):
        return f"step.{step}.outs[{_string(metric)}]"
    if set(_INTERPOLATED.findall(metric)) == {"${key}"}:  # each instance's by its key: follows the instances
        return f'{{ for k, s in step.{step} : k => s.outs[{_string(metric).replace("$${key}", "${k}")}] }}'
    instances = _stage_instances(stage, vars_) or {}
    paths = {key: _render(metric, vars_, (key, item)) for key, item in instances.items()}
    if not paths or None in paths.values():
        return None
    if _moves(stage, vars_):
        notes.append(f"stage {name}: output of its metrics {metric} lists the instances {_moves(stage, vars_)} gives now: "
                     "import again after changing it")
    return "{ " + ", ".join(f"{_string(key)} = step.{step}[{_string(key)}].outs[{_string(path)}]" for key, path in paths.items()) + " }"


def _frozen_stage(name: str, outs: list[str], project: Path, notes: list[str]) -> list[str]:
    """A frozen stage as a comment: DVC never runs it (`dvc repro` skips it, even with --force) and keeps its outs
    as they are, so it is no step; the steps reading its outs read them from the project folder as deps."""
    kept = f"its outs ({', '.join(outs)}) are read as they are in the project folder" if outs else "it has no outs"
    notes.append(f"stage {name}: frozen, so not a step (DVC never runs it): {kept}")
    missing = [out for out in outs if not (project / out).exists()]
    if missing:  # kept in DVC's cache, not in the workspace
        notes.append(f"stage {name}: its outs {', '.join(missing)} are not in the project folder: "
                     "`dvc checkout` (or `dvc pull`) them before `zplan plan`")
    lines = [f"DVC stage {name} is frozen (`frozen: true`): DVC never runs it, so it is not a step here;",
             f"{kept}, as deps of the steps using them." if outs else f"{kept}.",
             f"To run it as a step again: `dvc unfreeze {name}` (or remove `frozen: true`), then `zplan import-dvc -force`."]
    return ["", *(f"  # {line}" for line in lines)]


def _command(name: str, stage: dict, wdir: str, vars_: _Vars, looped: bool, notes: list[str]) -> str:
    """The HCL ``command``: DVC's cmd (a list joined with &&), run in the stage's wdir."""
    cmd = stage.get("cmd")
    if isinstance(cmd, list):
        if len(cmd) > 1:
            notes.append(f"stage {name}: {len(cmd)} commands are joined with && into one")
        cmd = " && ".join(cmd)
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
