"""DVC's vars as `zplan import-dvc` reads them: params.yaml and the ``vars`` entries of dvc.yaml and its stages,
the files they name, and the keys DVC refuses to define twice, written as HCL locals."""

from __future__ import annotations

import contextlib
import posixpath
import re
from pathlib import Path
from typing import Any

from zplan import diags
from zplan.config.params_files import is_params_file
from zplan.operations.dvc_literals import _name, _string, _unique, dvc_literal

PARAMS_FILE = "params.yaml"
_INTERPOLATION = re.compile(r"(?<!\\)\$\{\s*([^}]*?)\s*\}")  # \${ is DVC's escape: a literal ${


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
