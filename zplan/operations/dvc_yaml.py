"""Reading a dvc.yaml for `zplan import-dvc`: the document, and where each stage and field is written.

A stage's fields are checked as DVC's own schema checks them (``cmd`` a string or a
list of strings, ``deps`` and the outs lists lists, ``wdir`` a string), so a file DVC
would refuse is refused here with its line, instead of being half converted.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from zplan import diags

LISTS = ("deps", "params", "outs", "metrics", "plots")
_EXAMPLES = {"deps": "data.csv", "params": "train.lr", "outs": "model.pkl", "metrics": "metrics.json", "plots": "roc.csv"}


class Lines:
    """The line of each stage name and stage field in the file (1-based; 0 when unknown)."""

    def __init__(self, path: Path, root_node: Any) -> None:
        self.path = path
        self._lines: dict[tuple[str, ...], int] = {}
        self._top = {key.value: key.start_mark.line + 1 for key, _ in _items(root_node)}  # `vars:`, `stages:`
        stages = _value(root_node, "stages")
        for key, stage in _items(stages):
            self._lines[(key.value,)] = key.start_mark.line + 1
            body = _value(stage, "do")  # a foreach stage's fields are under `do`, its foreach beside it
            for field, _ in [*_items(stage), *_items(body)]:
                self._lines[(key.value, field.value)] = field.start_mark.line + 1

    def top(self, key: str) -> diags.Range:
        """Where a top-level section (``vars:``) is written."""
        return diags.Range(str(self.path), self._top.get(key, 0))

    def at(self, *keys: str) -> diags.Range:
        line = self._lines.get(tuple(keys)) or self._lines.get(keys[:1], 0)
        return diags.Range(str(self.path), line)


_NOTE_FIELDS = (("`", None), ("out ", "outs"), ("outs ", "outs"), ("dep ", "deps"), ("deps ", "deps"), ("params ", "params"),
                ("plots ", "plots"), ("metrics ", "metrics"), ("output of its metrics ", "metrics"), ("vars ", "vars"))


def note_line(note: str, stages: dict[str, tuple[Lines, str]]) -> tuple[Lines, int] | None:
    """Where a note about a stage (``stage ADDRESS: ...``) points: the line of the field it names (```meta:```,
    ``out PATH``), else the stage's; None for a note of no stage. ``stages``: address -> (its file's lines, its name)."""
    for address in sorted(stages, key=len, reverse=True):  # sub/dvc.yaml:train before train
        prefix = f"stage {address}: "
        if note.startswith(prefix):
            lines, name = stages[address]
            rest = note[len(prefix):]
            key = next((k if k else rest[1:].split(":")[0] for start, k in _NOTE_FIELDS if rest.startswith(start)), None)
            return lines, (lines.at(name, key) if key else lines.at(name)).line or 0
    return None


def read(path: Path) -> tuple[dict, Lines]:
    """The dvc.yaml's document and the lines of its stages; a clear error for a file that is not one."""
    import yaml

    from zplan.config.params_files import core_loader

    try:
        text = path.read_text(encoding="utf-8")  # read as DVC reads it: YAML 1.2 (`foreach: [yes, no]` is text)
        document, root_node = yaml.load(text, Loader=core_loader()), yaml.compose(text, Loader=yaml.SafeLoader)
    except IsADirectoryError:
        raise diags.fail(f"{path} is a folder", "give the path of a dvc.yaml file") from None
    except OSError as exc:
        raise diags.fail(f"cannot read {path}: {exc.strerror or exc}", "give the path of a dvc.yaml") from None
    except UnicodeDecodeError:
        raise diags.fail(f"{path} is not a text file", "give the path of a dvc.yaml") from None
    except yaml.YAMLError as exc:
        raise _yaml_error(path, exc) from None
    if not isinstance(document, dict):
        raise diags.fail(f"{path} is not a DVC pipeline", "a dvc.yaml maps `stages:` to stage definitions")
    if "schema" in document:  # a stage's deps there are {path, md5} records, which would read as paths named "path"
        raise diags.fail(f"{path} is a dvc.lock, DVC's record of what ran, not a pipeline", "give the dvc.yaml beside it (`zplan import-dvc` reads the dvc.yaml files by default)")
    return document, Lines(path, root_node)


def check_stage(name: str, stage: Any, lines: Lines) -> None:
    """Refuse the fields DVC itself would refuse, naming the stage, the field and its line."""
    if not isinstance(stage, dict):
        raise diags.fail(f"stage {name} must be a mapping of its fields, not {_kind(stage)}",
                         "e.g. `cmd: python train.py` with its deps and outs indented under the stage's name", lines.at(name))
    cmd = stage.get("cmd")
    if not cmd:  # DVC requires one: without it the stage's outs would be read from a step that is not there
        raise diags.fail(f"stage {name} has no cmd", "give it the command that writes its outs (`cmd: python train.py`), as DVC requires",
                         lines.at(name, "cmd"))
    if not (isinstance(cmd, str) or (isinstance(cmd, list) and all(isinstance(c, str) for c in cmd))):
        raise diags.fail(f"stage {name}: cmd must be a string or a list of strings, not {_kind(cmd)}",
                         "quote it (`cmd: \"...\"`), as DVC requires", lines.at(name, "cmd"))
    wdir = stage.get("wdir")
    if wdir is not None and not isinstance(wdir, str):
        raise diags.fail(f"stage {name}: wdir must be a folder path, not {_kind(wdir)}", "e.g. `wdir: src`", lines.at(name, "wdir"))
    for key in LISTS:
        value = stage.get(key)
        if value is not None and not isinstance(value, list):
            raise diags.fail(f"stage {name}: {key} must be a list, not {_kind(value)}",
                             f"write it as DVC reads it: `{key}: [{_EXAMPLES[key]}]`, or one `- {_EXAMPLES[key]}` line per entry",
                             lines.at(name, key))
        bad = next((v for v in value or [] if not isinstance(v, (str, dict))), None)
        if bad is not None:
            raise diags.fail(f"stage {name}: {key} entry {bad!r} is not a path", "quote it as a string", lines.at(name, key))
    for entry in stage.get("params") or []:  # {file: [keys]}, or {file: } for the whole file
        names = next((v for v in entry.values() if v is not None and not isinstance(v, list)), None) if isinstance(entry, dict) else None
        if names is not None:
            raise diags.fail(f"stage {name}: the keys of a params file must be a list, not {_kind(names)}",
                             "e.g. `- other.yaml: [alpha]`", lines.at(name, "params"))


def check_loop(name: str, stage: Any, lines: Lines) -> None:
    """Refuse a ``foreach`` or ``matrix`` DVC would refuse: a foreach is a list, a mapping or a ``${...}`` naming one;
    a matrix maps each name to a list or a ``${...}``."""
    if not isinstance(stage, dict):
        return
    each = stage.get("foreach")
    if "foreach" in stage and not isinstance(each, (list, dict, str)):
        raise diags.fail(f"stage {name}: foreach must be a list, a mapping or a ${{...}} naming one, not {_kind(each)}",
                         "e.g. `foreach: [small, large]`, or `foreach: ${models}` for a list in params.yaml", lines.at(name, "foreach"))
    matrix = stage.get("matrix")
    bad = next((k for k, v in matrix.items() if not isinstance(v, (list, str))), None) if isinstance(matrix, dict) else None
    if "matrix" in stage and (not isinstance(matrix, dict) or bad is not None):
        what = f"matrix {bad} must be a list or a ${{...}} naming one, not {_kind(matrix[bad])}" if bad is not None else \
            f"matrix must be a mapping of names to lists, not {_kind(matrix)}"
        raise diags.fail(f"stage {name}: {what}", "e.g. `matrix:` with `model: [cnn, xgb]` under it", lines.at(name, "matrix"))


def _yaml_error(path: Path, exc: Exception) -> diags.DiagnosticError:
    """PyYAML's message on one line, at the line and column it points at."""
    mark, started = getattr(exc, "problem_mark", None), getattr(exc, "context_mark", None)
    mark = mark or started
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    context = getattr(exc, "context", None) or ""
    if context and started is not None and started.line != mark.line:  # e.g. the bracket left open
        context += f" (from line {started.line + 1})"
    summary = f"{path.name} is not valid YAML: {context + ': ' if context else ''}{problem}"
    where = diags.Range(str(path), mark.line + 1, mark.column + 1) if mark is not None else diags.Range(str(path))
    return diags.fail(summary, "fix the file", where)


def _items(node: Any) -> list:
    import yaml

    return node.value if isinstance(node, yaml.MappingNode) else []


def _value(node: Any, key: str) -> Any:
    return next((v for k, v in _items(node) if getattr(k, "value", None) == key), None)


def _kind(value: Any) -> str:
    return {bool: "a boolean", int: "a number", float: "a number", str: "a string", dict: "a mapping", list: "a list"}.get(type(value), "empty")
