"""DVC's ``.dvcignore``, as `zplan import-dvc` reads it when it looks for dvc.yaml files: gitignore patterns, each
file's relative to its own folder (DVC reads one in any folder of the project), the last match deciding."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

DVCIGNORE = ".dvcignore"


@dataclass(frozen=True)
class _Rule:
    base: str  # the folder of the .dvcignore, relative to the project ("" for its own)
    regex: re.Pattern
    negated: bool
    folders_only: bool  # a pattern ending in /


def rules_of(folder: Path, base: str) -> list[_Rule]:
    """The rules of ``folder``'s .dvcignore (none when it has none)."""
    file = folder / DVCIGNORE
    if not file.is_file():
        return []
    lines = file.read_text(encoding="utf-8", errors="replace").splitlines()
    return [rule for line in lines if (rule := _rule(line, base))]


def ignored(path: str, is_folder: bool, rules: list[_Rule]) -> bool:
    """Whether ``path`` (relative to the project) is ignored: the last rule matching it decides, as in git."""
    verdict = False
    for rule in rules:
        if rule.base and not path.startswith(rule.base + "/"):
            continue
        if (is_folder or not rule.folders_only) and rule.regex.fullmatch(path[len(rule.base) + 1 if rule.base else 0:]):
            verdict = not rule.negated
    return verdict


def _rule(line: str, base: str) -> _Rule | None:
    if line.startswith("#"):
        return None
    line = re.sub(r"(?<!\\)\s+$", "", line)  # trailing blanks, unless escaped
    negated = line.startswith("!")
    line = line[1:] if negated or line.startswith("\\") else line  # \# and \! are literal
    folders_only = line.endswith("/")
    line = line.rstrip("/")
    anchored = "/" in line  # a/b and /a: from the .dvcignore's folder; a name alone: at any depth
    parts = line.lstrip("/").split("/")
    if parts == [""]:
        return None
    regex = "" if anchored else "(?:.*/)?"
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if part == "**":
            regex += ".*" if last else "(?:.*/)?"
        else:
            regex += _translate(part) + ("" if last else "/")
    return _Rule(base, re.compile(regex, re.DOTALL), negated, folders_only)


def _translate(part: str) -> str:
    """One path segment's glob as a regex: ``*`` and ``?`` never cross a ``/``."""
    out, i = [], 0
    while i < len(part):
        char = part[i]
        end = part.find("]", i + 2) if char == "[" else -1
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "\\" and i + 1 < len(part):
            i += 1
            out.append(re.escape(part[i]))
        elif end != -1:
            body = part[i + 1:end]
            negated = body[0] in "!^"  # [!a] is any character but a, and never a /
            out.append(("(?!/)[^" + body[1:] if negated else "[" + body).replace("\\", "\\\\") + "]")
            i = end
        else:
            out.append(re.escape(char))
        i += 1
    return "".join(out)
