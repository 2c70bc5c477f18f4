"""Choosing and evaluating the stack a command runs on.

Without any ``stack`` block a project runs on the embedded default: local
processes, artifacts under ``.zplan/artifacts``, metadata in SQLite. ``zplan
stack select NAME`` remembers a choice in ``.zplan/stack``; ``-stack NAME``
overrides it for one command.
"""

from __future__ import annotations

import errno
from pathlib import Path
from typing import Any

from zplan import diags
from zplan.config.model import Config
from zplan.fsutil import atomic_write_text

DEFAULT_STACK = "local"
DEFAULT_SETTINGS: dict[str, Any] = {
    "orchestrator": "local",
    "artifact_store": "file://.zplan/artifacts",
    "metadata_store": "sqlite:///.zplan/metadata.db",
    "processing": "beam:DirectRunner",
}
SELECTION_FILE = "stack"


def selected_name(config: Config, state_dir: Path, requested: str | None) -> str:
    if requested is not None:  # ("" too: no stack has that name, and the default is not what was asked)
        if requested not in config.stacks and not (requested == DEFAULT_STACK and not config.stacks):
            raise diags.fail(f'no stack named "{requested}"', f"declared stacks: {', '.join(config.stacks) or '(none: the embedded local stack)'}")
        return requested
    remembered = state_dir / SELECTION_FILE
    if remembered.exists():
        name = _remembered(remembered)
        if name in config.stacks or (name == DEFAULT_STACK and not config.stacks):
            return name
        if name:  # renamed or removed: running on another stack instead would surprise
            raise diags.fail(f'the selected stack "{name}" is no longer declared',
                             f"declared stacks: {', '.join(config.stacks) or '(none: the embedded local stack)'}; "
                             "choose one with `zplan stack select NAME`, or pass -stack NAME")
    if DEFAULT_STACK in config.stacks or not config.stacks:
        return DEFAULT_STACK
    return sorted(config.stacks)[0]


def _remembered(path: Path) -> str:
    """The name `zplan stack select` kept in ``path``; a folder or a damaged file there is named."""
    try:
        return path.read_bytes().decode("utf-8").strip()
    except FileNotFoundError:
        return ""
    except IsADirectoryError:
        why = "it is a folder"
    except UnicodeDecodeError:
        why = "it is not text (damaged)"
    except OSError as exc:
        why = exc.strerror or str(exc)
    raise diags.fail(f"cannot read the selected stack from {path}: {why}",
                     "pass -stack NAME, or choose the stack again with `zplan stack select NAME`, which rewrites the file"
                     + (" once the folder is moved away" if why == "it is a folder" else ""))


def remember(state_dir: Path, name: str) -> None:
    path = state_dir / SELECTION_FILE
    try:
        atomic_write_text(path, name + "\n")
    except IsADirectoryError:
        raise diags.fail(f"cannot select the stack: {path} is a folder",
                         "zplan keeps the selected stack in a file of that name: move the folder away (or remove it), "
                         "then run the command again; -stack NAME chooses a stack for one command meanwhile") from None
    except OSError as exc:
        full = exc.errno in (errno.ENOSPC, errno.EDQUOT)
        remedy = f"free some space on the disk holding {state_dir}" if full else \
            f"make {state_dir} writable (remount it read-write, or chmod u+w it)"
        raise diags.fail(f"cannot select the stack: writing {path} failed: {exc.strerror or exc}",
                         f"{remedy}, then run the command again; -stack NAME chooses a stack for one command "
                         "meanwhile, and the selection was left as it was") from None


def settings(config: Config, name: str, evaluate) -> dict[str, Any]:
    """The stack's settings with defaults filled in; ``evaluate(expr)`` resolves references."""
    values = dict(DEFAULT_SETTINGS)
    stack = config.stacks.get(name)
    if stack is not None:
        for key, expr in stack.settings.items():
            value = evaluate(expr)
            if value is not None:  # null means "not set", as in Terraform: the default stays
                values[key] = value
    return values
