"""Parameters kept in YAML, JSON or TOML files, as DVC projects keep them in ``params.yaml``.

Three ways in: ``-var-file params.yaml`` (each top-level key sets the variable of
that name), ``params_file("params.yaml")`` in an expression (the parsed document),
and a script step's ``params = ["train.n_est"]`` (one dotted key each, keyed and
reported separately: ``params.yaml: train.n_est 50 -> 100``).

A file is parsed once per process for each (size, mtime) it has; the parsers are
imported only when a params file is read, so a project without one pays nothing.
"""

from __future__ import annotations

import collections.abc
import functools
import datetime
import json
import os
import re
from pathlib import Path
from typing import Any, Iterable

from zplan import diags
from zplan.config.values import FINITE_RULE, SENSITIVE_VALUE, non_finite, number_to_string, valid_text

SUFFIXES = (".yaml", ".yml", ".json", ".toml")
DEFAULT_PARAMS_FILE = "params.yaml"  # what a DVC stage's bare key names
# how -var-file values from a params file say where they came from: its other sections (parameters of
# other tools or stages) are not an error, as they would be in a .zpvars file
PARAMS_FILE_SUFFIX = ", a params file"

_parsed: dict[str, tuple[tuple[int, int], Any]] = {}  # path -> ((size, mtime_ns), document)


class ParamsFileError(Exception):
    """A params file is missing, unreadable or malformed; ``summary``/``detail`` become a diagnostic."""

    def __init__(self, summary: str, detail: str = "", reason: str = "") -> None:
        super().__init__(summary)
        self.summary, self.detail = summary, detail
        self.reason = reason  # the parser's own words, which may quote the file (the summary ends with them)


class ParamsDocument(dict):
    """A map read from a params file that knows where it was read, so a step param taken from it can
    be reported by its key in the file (``params.yaml: train.n_est 50 -> 100``); a plain dict otherwise."""

    def __init__(self, values: dict, file: str, prefix: str = "") -> None:
        super().__init__({k: ParamsDocument(v, file, f"{prefix}{k}.") if isinstance(v, dict) else v for k, v in values.items()})
        self.params_origin = (file, prefix)

    def __reduce__(self):  # pickled (saved plans, worker tasks) as the plain map it is
        return (dict, (dict(self),))


def document(path: str | Path, shown_as: str | None = None) -> Any:
    """``read(path)``, with its maps remembering the file (named ``shown_as``) and their keys."""
    value = read(path)
    return ParamsDocument(value, shown_as or Path(path).name) if isinstance(value, dict) else value


def is_params_file(path: str | Path) -> bool:
    return Path(path).suffix.lower() in SUFFIXES


def read(path: str | Path) -> Any:
    """The parsed document of a YAML, JSON or TOML file."""
    path = str(path)
    try:
        st = os.stat(path)
    except OSError:
        raise ParamsFileError(f"params file {path} does not exist", "check the path (relative to the folder zplan runs in)") from None
    stamp = (st.st_size, st.st_mtime_ns)
    cached = _parsed.get(path)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    document = _plain(_parse(Path(path)), path)
    _no_infinity(document, path)
    _parsed[path] = (stamp, document)
    return document


def _plain(value: Any, path: str, where: str = "") -> Any:
    """The document in the values HCL and fingerprints know: a date or time (YAML's 2021-06-30, TOML's
    dates) as its ISO text, as Terraform's yamldecode gives a timestamp; a YAML set as a sorted list;
    keys that are numbers, bools or dates as text, as JSON writes them."""
    if isinstance(value, dict):
        return {_key(k): _plain(v, path, f"{where}.{_key(k)}" if where else _key(k)) for k, v in value.items()}
    if isinstance(value, (set, frozenset)):
        value = _sorted(value)
    if isinstance(value, (list, tuple)):
        return [_plain(v, path, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, (datetime.date, datetime.time)):  # (a datetime is a date)
        return value.isoformat()
    if isinstance(value, str):
        return valid_text(value)
    if isinstance(value, (bytes, bytearray)):
        raise ParamsFileError(f"{path}: {where or 'the document'} is binary data, which a parameter cannot hold", "write it as text")
    return value


def _key(key: Any) -> str:
    if isinstance(key, str):
        return valid_text(key)
    if isinstance(key, (datetime.date, datetime.time)):
        return key.isoformat()
    return json.dumps(key)  # 1 -> "1", True -> "true", None -> "null"


def _sorted(items: Any) -> list:
    try:
        return sorted(items)
    except TypeError:  # mixed types: by their JSON text
        return sorted(items, key=lambda item: json.dumps(item, default=str))


def _no_infinity(document: Any, path: str) -> None:
    """YAML's .inf and .nan, TOML's inf and nan, JSON's NaN: no step param or state can hold them."""
    found = non_finite(document)
    if found is not None:
        raise ParamsFileError(f"{path}: {found[0] or 'the document'} is {number_to_string(found[1])}, not a finite number",
                              f"{FINITE_RULE}: write a finite number")


def _parse(path: Path) -> Any:
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise ParamsFileError(f"cannot read parameters from {path}", f"use a file ending in {', '.join(SUFFIXES)}")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ParamsFileError(f"cannot read {path}: {exc}") from None
    try:
        if suffix == ".json":
            return json.loads(text, object_pairs_hook=_unique_keys)
        if suffix == ".toml":
            return _toml().loads(text)  # (TOML's parser refuses a key set twice itself)
        return _yaml(text)
    except Exception as exc:  # each parser has its own error class; all mean "malformed"
        where, reason = _error_line(exc), _first_line(exc)
        raise ParamsFileError(f"{path}{where} is not valid {suffix.lstrip('.').upper()}: {reason}", "fix the file", reason) from None


def yaml_text(text: str, shown_as: str) -> Any:
    """A YAML document given as text (``yamldecode``), read as a params file is: a key set twice refused,
    dates as ISO text; None for an empty document, as Terraform gives null."""
    if not text.strip():
        return None
    try:
        document = _yaml(text)
    except Exception as exc:  # PyYAML's errors all mean "malformed"
        line = _error_line(exc).lstrip(":")
        raise ParamsFileError(f"{shown_as} is not valid YAML{' at line ' + line if line else ''}: {_first_line(exc)}", "fix the text") from None
    document = _plain(document, shown_as)
    _no_infinity(document, shown_as)
    return document


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict:
    """A JSON object, refused when it sets a key twice: the parser would keep the last one without a word."""
    found: dict = {}
    for key, value in pairs:
        if key in found:
            raise ValueError(f"duplicate key {key!r}")
        found[key] = value
    return found


@functools.cache
def core_loader() -> Any:
    """PyYAML's safe loader reading plain scalars as YAML 1.2 does, as DVC's reader (ruamel's YAML 1.2 rules) and
    Terraform's yamldecode read them, not as YAML 1.1: yes, no, on and off are text, 1e-5 is a number, 0755 is 755,
    1:30 is text."""
    import re

    import yaml

    tags = {kind: f"tag:yaml.org,2002:{kind}" for kind in ("bool", "int", "float")}

    class Core(yaml.SafeLoader):
        yaml_implicit_resolvers = {first: [(tag, regex) for tag, regex in resolvers if tag not in tags.values()]
                                   for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}

        def construct_yaml_int(self, node: Any) -> int:
            text = self.construct_scalar(node).replace("_", "")
            sign, digits = (-1 if text[0] == "-" else 1), text.lstrip("+-")
            base = {"0b": 2, "0o": 8, "0x": 16}.get(digits[:2])
            return sign * (int(digits[2:], base) if base else int(digits))  # 0755 is 755: no octal without 0o

    Core.add_implicit_resolver(tags["bool"], re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))
    Core.add_implicit_resolver(tags["int"], re.compile(r"^(?:[-+]?0b[0-1_]+|[-+]?0o?[0-7_]+|[-+]?[0-9_]+|[-+]?0x[0-9a-fA-F_]+)$"),
                               list("-+0123456789"))
    Core.add_implicit_resolver(tags["float"], re.compile(
        r"^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?|[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)"
        r"|[-+]?\.[0-9_]+(?:[eE][-+][0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"), list("-+0123456789."))
    Core.add_constructor(tags["int"], Core.construct_yaml_int)
    return Core


def _yaml(text: str) -> Any:
    """A YAML document, refused when a mapping sets a key twice (as DVC's YAML reader does): PyYAML would keep
    the last one without a word. A key a merge (``<<: *base``) brings in may still be set again."""
    import yaml

    class UniqueKeys(core_loader()):
        def construct_mapping(self, node, deep=False):
            seen = set()
            for key_node, _ in node.value if isinstance(node, yaml.MappingNode) else ():
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=True)
                if not isinstance(key, collections.abc.Hashable):  # refused below, with its line
                    continue
                if key in seen:
                    raise yaml.MarkedYAMLError(problem=f"duplicate key {key!r}", problem_mark=key_node.start_mark)
                seen.add(key)
            return super().construct_mapping(node, deep)

    return yaml.load(text, Loader=UniqueKeys) or {}


def _toml():
    try:
        import tomllib  # Python 3.11+
    except ModuleNotFoundError:  # 3.10
        import tomli as tomllib
    return tomllib


def _error_line(exc: Exception) -> str:
    mark = getattr(exc, "problem_mark", None)  # YAML
    if mark is not None:
        return f":{mark.line + 1}"
    line = getattr(exc, "lineno", None)  # JSON, TOML
    return f":{line}" if line else ""


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def lookup(document: Any, key: str, file: str) -> Any:
    """``train.n_est`` in a parsed document (list items by index: ``layers.0``)."""
    value = document
    for part in key.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            known = ", ".join(map(str, value)) if isinstance(value, dict) else "none"
            raise ParamsFileError(f"{file} has no parameter {key!r}", f"keys at that level: {known or 'none'}")
    return value


def split_key(spec: str) -> tuple[str, str]:
    """``"train.n_est"`` -> ("params.yaml", "train.n_est"); ``"conf.json:lr"`` -> ("conf.json", "lr")."""
    file, sep, key = spec.rpartition(":")
    return (file, key) if sep and is_params_file(file) else (DEFAULT_PARAMS_FILE, spec)


def as_variables(path: Path, shown: str, sensitive: Iterable[str] = ()) -> dict[str, tuple[Any, str]]:
    """A params file given as ``-var-file`` (named ``shown`` in messages): each top-level key sets the
    variable of that name, if declared. A file that does not parse and seems to set one of the
    ``sensitive`` variables is named without the parser's reason (`undefined alias 'Pa55'`)."""
    try:
        document = read(path)
    except ParamsFileError as exc:
        if exc.reason and _seems_to_set(path, sensitive):
            raise diags.fail(f"{exc.summary[: -len(exc.reason)].rstrip(': ')} {SENSITIVE_VALUE}",
                             "the reason is left out, as it could show the value of a sensitive variable the file sets; fix the file") from None
        raise diags.fail(exc.summary, exc.detail) from None
    if not isinstance(document, dict):
        raise diags.fail(f"{path} does not hold a map of variable values", "a params file used as -var-file maps names to values")
    where = f"{shown}{PARAMS_FILE_SUFFIX}"
    return {str(name): (ParamsDocument(value, path.name, f"{name}.") if isinstance(value, dict) else value, where)
            for name, value in document.items()}


def _seems_to_set(path: Path, names: Iterable[str]) -> bool:
    """Whether the text of ``path`` writes one of ``names`` as a key (``pw:``, ``pw =``, ``"pw":``)."""
    text = path.read_text(encoding="utf-8", errors="replace")
    return any(re.search(rf"""(^|[{{,\s])["']?{re.escape(name)}["']?\s*[:=]""", text, re.MULTILINE) for name in names)
