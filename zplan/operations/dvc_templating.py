"""DVC's templating as `zplan import-dvc` reads it: a stage's fields and paths, its ``${...}`` (params.yaml and
``vars``), its foreach and matrix instances, and the HCL text they are written as."""

from __future__ import annotations

import contextlib
import itertools
import json
import math
import posixpath
import re
from pathlib import Path
from typing import Any

from zplan import diags
from zplan.config.params_files import is_params_file

PARAMS_FILE = "params.yaml"
_INTERPOLATION = re.compile(r"(?<!\\)\$\{\s*([^}]*?)\s*\}")  # \${ is DVC's escape: a literal ${
_NOT_A_NAME = re.compile(r"[^A-Za-z0-9_]+")


class _Vars:
    """DVC's templating sources: params.yaml (always) and the ``vars`` entries, as HCL locals."""

    def __init__(self, root: Path, project: Path, base: str, entries: list, notes: list[str], prefix: str = "",
                 taken: set[str] | None = None, where: diags.Range | None = None) -> None:
        self.root, self.project, self.base = root, project, base  # dvc.yaml's folder; the project's; the first in the second
        self.files: dict[str, str] = {}  # local name -> params file
        self.values: dict[str, Any] = {}  # inline vars
        self.used: set[str] = set()
        self.complete = True  # whether every source was read: else a ${...} naming none may name one of those
        self.parsing = ", local.dvc_parsing" if dvc_parsing(project) else ""  # dvc_text's second argument
        self._documents: dict[str, Any] = {}
        self._stage_locals: dict[str, tuple[str | None, Any]] = {}  # of stages' own vars (shared with theirs): name -> (file, inline)
        taken = set() if taken is None else taken  # the local names other dvc.yaml files use
        self.prefix, self.taken = prefix, taken
        candidates = [PARAMS_FILE] if (root / PARAMS_FILE).exists() else []
        keys: dict[str, list[str]] = {}  # file -> the keys `file:a,b` imports (params.yaml, read by default: all)
        for entry in entries if isinstance(entries, list) else [entries]:
            if isinstance(entry, str):
                file, _, names = entry.partition(":")
                if file not in candidates:
                    candidates.append(file)
                    keys[file] = [k for k in names.split(",") if k]
            elif isinstance(entry, dict):
                self.values.update(entry)
            else:
                notes.append(f"vars entry {entry!r} is not converted")
        self.inline = _unique({None: f"{prefix}vars"}, taken)[None]
        names = _unique({file: prefix + ("params" if file == PARAMS_FILE else _name(Path(file).stem + "_params")) for file in candidates}, taken)
        for file, name in names.items():  # a/conf.yaml and b/conf.yaml: conf_params and conf_params_2
            self.files[name] = file
            if is_params_file(file):
                self._documents[name] = _selected(_read_vars(root, file, where), keys.get(file, []), file, where)
            else:  # a Python file of constants
                self.complete = False
                notes.append(f"vars file {file} is not YAML, JSON or TOML: its keys are not translated")
        refuse_interpolation(entries, "vars", where)
        documents = {file: self._documents.get(name) for file, name in names.items()}
        loaded = [(PARAMS_FILE, documents.get(PARAMS_FILE))]  # in the order DVC reads them
        for entry in entries if isinstance(entries, list) else [entries]:
            if isinstance(entry, dict):
                loaded.append(("an inline `vars` entry", entry))
            elif isinstance(entry, str):
                loaded.append((entry.partition(":")[0], documents.get(entry.partition(":")[0])))
        _refuse_redefined(loaded, where)

    def _sources(self) -> list[tuple[str, Any]]:
        """The documents vars are read from, by the name of their local: the inline vars, then the files."""
        return [(self.inline, self.values), *self._documents.items()]

    def _source(self, dotted: str) -> tuple[str, Any] | None:
        """The source a ``${dotted}`` reads: the one defining its first key (of several, as DVC merges mappings of
        the same key, the one holding all of it)."""
        from zplan.config.params_files import ParamsFileError, lookup

        head = dotted.split(".")[0].split("[")[0]
        found = [(name, d) for name, d in self._sources() if isinstance(d, dict) and head in d]
        for name, document in found:
            with contextlib.suppress(ParamsFileError):
                lookup(document, dotted.replace("[", ".").replace("]", ""), "")
                return name, document
        return found[0] if found else None

    def reference(self, dotted: str) -> str | None:
        """The HCL for a DVC ``${dotted}`` that names a var, else None."""
        source = self._source(dotted)
        if source is None:
            return None
        self.used.add(source[0])
        return f"local.{source[0]}.{dotted}"

    def knows(self, dotted: str) -> bool:
        """Whether a ``${dotted}`` names a var (its first key), as ``reference`` finds it, without using it."""
        return self._source(dotted) is not None

    def value(self, dotted: str) -> Any:
        """The value a ``${dotted}`` that names a var stands for (None when it names none)."""
        from zplan.config.params_files import ParamsFileError, lookup

        source = self._source(dotted)
        try:
            return lookup(source[1], dotted.replace("[", ".").replace("]", ""), "") if source else None  # models[0] is models.0
        except ParamsFileError:
            return None

    def for_stage(self, stage: str, entries: Any, wdir: str, notes: list[str], where: diags.Range) -> _Vars:
        """The vars a stage reads: the file's and those of its own ``vars:`` (files read from its ``wdir``, a
        folder of dvc.yaml's), as DVC adds them for that stage only, refusing a key defined twice as DVC does."""
        if not entries:
            return self
        refuse_interpolation(entries, f"stage {stage}: its vars", where)
        own = _StageVars(self, _name(stage))
        for entry in entries if isinstance(entries, list) else [entries]:
            if isinstance(entry, dict):
                own.add(None, entry, where)
            elif isinstance(entry, str):
                file, _, keys = entry.partition(":")
                file = posixpath.normpath(posixpath.join(wdir or ".", file))
                if file not in self.files.values():  # read for the whole file already
                    document = _read_vars(self.root, file, where) if is_params_file(file) else None
                    own.add(file, _selected(document, [k for k in keys.split(",") if k], file, where), where)
                    own.complete = own.complete and is_params_file(file)
                    if not is_params_file(file):
                        notes.append(f"stage {stage}: vars file {file} is not YAML, JSON or TOML: its keys are not translated")
            else:
                notes.append(f"stage {stage}: vars entry {entry!r} is not converted")
        return own

    def locals_lines(self) -> list[str]:
        """The entries of the ``locals`` block for the vars used."""
        lines = []
        for name in sorted(self.used):
            file, inline = self._stage_locals.get(name, (self.files.get(name), self.values))
            if file is None:  # (a NaN among them is an error here, where it names the file)
                lines.append(f"  {name} = {dvc_literal(inline)}")
            else:
                lines.append(f'  {name} = params_file({_string(posixpath.join(self.base, file))})')
        return lines


class _StageVars(_Vars):
    """A stage's vars: its file's, and before them those of its own ``vars:``, as locals named by the stage."""

    def __init__(self, file: _Vars, stage: str) -> None:
        self.__dict__.update(file.__dict__)  # the file's sources, and the set of locals used, shared: not read again
        self.file, self.stage = file, stage
        self.own: list[tuple[str, Any]] = []

    def _sources(self) -> list[tuple[str, Any]]:
        return [*self.own, *self.file._sources()]

    def add(self, file: str | None, document: Any, where: diags.Range) -> None:
        """One entry of the stage's ``vars:``: a mapping, or a file (None when it cannot be read here)."""
        for name, other in self._sources():
            clash = _clash(other, document) if isinstance(other, dict) and isinstance(document, dict) else None
            if clash:
                shown = self.files.get(name) or ("the stage's vars" if name in self._stage_locals else "the top-level vars")
                raise diags.fail(f"stage {self.stage}: its vars define {clash}, which {shown} defines already: DVC refuses to redefine it",
                                 "rename the key in one of them", where)
        stem = "vars" if file is None else "params" if file == PARAMS_FILE else _name(Path(file).stem + "_params")
        name = _unique({None: f"{self.prefix}{self.stage}_{stem}"}, self.taken)[None]
        if file is not None:
            self.files = {**self.files, name: file}
        self._stage_locals[name] = (file, document)
        self.own.append((name, document))


def refuse_interpolation(entries: Any, what: str, where: diags.Range | None) -> None:
    """DVC reads ``vars`` as they are written and refuses a ``${...}`` in them, rather than keep it as text."""
    for text in _strings(entries):
        match = _INTERPOLATION.search(text)
        if match:
            raise diags.fail(f"{what} hold {match.group(0)}: DVC interpolates no vars", "write the value itself", where)


def _strings(value: Any) -> list[str]:
    """Every string a value holds, at any depth."""
    if isinstance(value, str):
        return [value]
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else []
    return [text for item in items for text in _strings(item)]


def _refuse_redefined(loaded: list[tuple[str, Any]], where: diags.Range | None) -> None:
    """DVC reads params.yaml then each ``vars`` entry into one context, refusing a key defined twice (mappings of
    the same key are merged): ``loaded`` is each source, as named in the error, and its document."""
    for i, (shown, document) in enumerate(loaded):
        for before, other in loaded[:i]:
            clash = _clash(other, document) if isinstance(other, dict) and isinstance(document, dict) and other is not document else None
            if clash:  # (a file listed twice is read once)
                raise diags.fail(f"vars: {shown} defines {clash}, which {before} defines already: DVC refuses to redefine it",
                                 "rename the key in one of them", where)


def _selected(document: Any, keys: list[str], file: str, where: diags.Range) -> Any:
    """The part of a vars file ``file:a,b`` names (all of it without keys), as DVC imports only those keys."""
    from zplan.config.params_files import ParamsFileError, lookup

    if not keys or not isinstance(document, dict):
        return document
    selected: dict = {}
    for key in keys:
        try:
            value = lookup(document, key, file)
        except ParamsFileError as exc:
            raise diags.fail(f"vars {file}: {exc.summary}", "fix the key in `vars:`: DVC cannot import it either", where) from None
        *parents, last = key.split(".")
        node = selected
        for parent in parents:  # train.lr: {train: {lr: ...}}, read as ${train.lr}
            node = node.setdefault(parent, {})
        node[last] = value
    return selected


def _clash(a: dict, b: dict, within: str = "") -> str | None:
    """The first key both define other than as two mappings (which DVC merges), dotted."""
    for key in a.keys() & b.keys():
        if isinstance(a[key], dict) and isinstance(b[key], dict):
            found = _clash(a[key], b[key], f"{within}{key}.")
            if found:
                return found
        else:
            return f"{within}{key}"
    return None


def dvc_parsing(folder: Path) -> dict[str, str]:
    """The ``parsing`` settings of the DVC project holding ``folder`` (its ``.dvc/config``, then ``config.local``) that
    are not DVC's defaults: how a mapping in a cmd is unpacked (``{ list = "append" }``)."""
    found: dict[str, str] = {}
    project = next((p for p in [folder.resolve(), *folder.resolve().parents] if (p / ".dvc").is_dir()), None)
    for config in [project / ".dvc" / "config", project / ".dvc" / "config.local"] if project else []:
        section = None
        for line in config.read_text(encoding="utf-8", errors="replace").splitlines() if config.is_file() else []:
            header = re.fullmatch(r"\s*\[\s*['\"]?([^\]'\"]*)['\"]?\s*\]\s*", line)
            setting = re.fullmatch(r"\s*(bool|list)\s*=\s*(\w+)\s*", line)
            if header:
                section = header.group(1).strip()
            elif section == "parsing" and setting and setting.group(2).lower() not in ("store_true", "nargs"):
                found[setting.group(1)] = setting.group(2).lower()
    return found


def _read_vars(root: Path, file: str, where: diags.Range | None) -> Any:
    """A params or vars file's document; an error (DVC runs no stage of such a pipeline either) rather than
    commands keeping ``${...}`` for the shell to read as empty."""
    from zplan.config.params_files import ParamsFileError, read

    if not (root / file).is_file():  # (params.yaml is read only when it is there)
        raise diags.fail(f"vars file {file} does not exist", "DVC reads it relative to dvc.yaml's folder: fix the path in `vars:`", where)
    try:
        return read(root / file)
    except ParamsFileError as exc:
        raise diags.fail(exc.summary, "fix it, then import again: DVC cannot read it either") from None


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


def _escape(text: str) -> str:
    """Text inside an HCL quoted string, which cannot span lines: a multi-line ``cmd: |`` keeps its newlines as ``\\n``."""
    text = text.replace("\\", "\\\\").replace('"', '\\"').replace("${", "$${").replace("%{", "%%{")
    return text.replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")


def _string(text: str) -> str:
    return '"' + _escape(text) + '"'


def _list(items: list[str], raw: bool = False) -> str:
    return "[" + ", ".join(items if raw else [_string(i) for i in items]) + "]"


def dvc_literal(value: Any) -> str:
    """A value of dvc.yaml (vars, foreach, matrix) as an HCL literal. DVC interpolates it as Python writes it, so a
    float HCL writes otherwise (1.0 as 1, 1e-05 as 0.00001) is written as that text: ``model-${item}.pkl`` is
    then model-1.0.pkl, as DVC names it. Its values only ever fill in text."""
    from zplan.config.values import number_to_string

    if isinstance(value, dict):
        return hcl_literal({k: _AsText(dvc_literal(v)) for k, v in value.items()})
    if isinstance(value, (list, tuple)):
        return hcl_literal([_AsText(dvc_literal(v)) for v in value])
    if isinstance(value, float) and math.isfinite(value) and number_to_string(value) != str(value):
        return _string(str(value))
    return hcl_literal(value)


class _AsText(str):
    """HCL text already written, kept as it is by ``hcl_literal``."""


def hcl_literal(value: Any) -> str:
    """A YAML or Python literal value as an HCL literal: its strings are text, never a template, and a value
    HCL has no literal for (a YAML date) is its text, as DVC interpolates it; an error for NaN or infinity."""
    if isinstance(value, _AsText):
        return str(value)
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


def _unique(names: dict[Any, str], taken: set[str] | None = None) -> dict[Any, str]:
    """Each name made distinct from the ones before it (x, x_2, x_3...), for HCL blocks that need their own;
    ``taken``: names used already, to which these are added."""
    taken = set() if taken is None else taken
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
