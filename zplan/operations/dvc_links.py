"""Linking DVC deps to outs for `zplan import-dvc`: a dep another stage writes is an input from that step."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zplan.operations.dvc_literals import _list, _name, _string
from zplan.operations.dvc_templating import _frozen, _instances, _looped, _moves, _out_paths, _path, _path_text, _render, _stage_instances, _template
from zplan.operations.dvc_vars import _Vars


@dataclass(frozen=True)
class _Out:
    stage: str  # the DVC stage writing it
    ref: str  # its HCL reference, of one instance for a foreach stage
    key: str | None = None  # that instance's key
    each: Any = None  # that stage's foreach as written, when it names a var (`${regions}`)
    moves: str | None = None  # the vars whose edit changes that stage's instances
    frozen: bool = False  # of a stage DVC never runs: a file read as it is in the project folder, not an input


def _outs_of(stages: dict[str, Any], vars_: _Vars, steps: dict[str, str]) -> dict[str, _Out]:
    """Every out by its path; a foreach stage's for each instance, when its items are known statically."""
    found = {}
    for name, stage in stages.items():
        if not isinstance(stage, dict):
            continue
        frozen = _frozen(stage)
        if not _looped(stage, vars_):
            found.update({p: _Out(name, f"step.{steps[name]}.outs[{_string(p)}]", frozen=frozen) for p in _out_paths(stage, vars_)})
            continue
        for key, item in (_stage_instances(stage, vars_) or {}).items():
            for template in _out_paths(stage, vars_):
                path = _render(template, vars_, (key, item))
                if path is not None:
                    each = stage.get("foreach") if isinstance(stage.get("foreach"), str) else None
                    found[path] = _Out(name, f"step.{steps[name]}[{_string(key)}].outs[{_string(path)}]", key, each, _moves(stage, vars_), frozen)
    return found


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
            if all(refs.values()) and not any(o.frozen for _, o in refs.values()):
                ref = _per_instance(path, refs, stage_each, vars_, notes, name)
                _add_input(inputs, path, ref)
                if not ref.startswith("step."):  # a map of the instances there are now
                    _note_fixed(name, path, [o for _, o in refs.values()], notes)
                continue
        path = rendered or path
        around = next((o for o in others if path.startswith(o + "/")), None)
        within = [o for o in others if o.startswith(path + "/")]  # DVC links a folder dep to the outs inside it
        if path in others and others[path].frozen or around is not None and others[around].frozen:
            deps.append(_path_text(path, vars_, looped, notes, name))  # kept as it is in the project folder, as DVC keeps it
        elif path in others:
            _add_input(inputs, path, others[path].ref)
            _note_fixed(name, path, [others[path]], notes)
        elif around is not None:
            notes.append(f"stage {name}: dep {path} is inside the out of {others[around].stage}: the whole out is used")
            _add_input(inputs, around, others[around].ref)
            _note_fixed(name, path, [others[around]], notes)
        elif within and all(others[o].frozen for o in within):
            deps.append(_path_text(path, vars_, looped, notes, name))
        elif within:
            for out in within:
                if others[out].frozen:
                    deps.append(_string(out))
                else:
                    _add_input(inputs, out, others[out].ref)
            _note_unwritten(name, path, within, vars_.project, notes)
            _note_fixed(name, path, [others[o] for o in within if not others[o].frozen], notes)
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
