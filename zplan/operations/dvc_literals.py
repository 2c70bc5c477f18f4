"""Writing dvc.yaml's values as HCL text for `zplan import-dvc`: literals, quoted strings and lists, and names
for HCL blocks and locals."""

from __future__ import annotations

import json
import math
import re
from typing import Any

from zplan import diags

_NOT_A_NAME = re.compile(r"[^A-Za-z0-9_]+")


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
