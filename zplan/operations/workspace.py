"""Commands on the project folder itself: `init`, `fmt`, `stack list|select`, `providers`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from zplan import diags


def init(root: Path, upgrade: bool = False) -> tuple[list[Path], list[str]]:
    """Make .zplan/ and, in an empty folder, an example; clone the git modules the project
    calls and pin them in the lock file. Returns the files created and the modules installed."""
    from zplan.config.modules import install_all
    from zplan.operations import scaffold

    created = scaffold.init(root)
    return created, install_all(root, upgrade)


def fmt(root: Path, paths: list[Path], check: bool) -> list[Path]:
    """Rewrite configuration files in the canonical layout (only check with ``check``);
    returns the files that were (or would be) changed."""
    from zplan.config.fmt import format_text
    from zplan.config.loader import config_files
    from zplan.fsutil import atomic_write_text

    changed = []
    files = [f for p in paths for f in (config_files(p) if p.is_dir() else [_formattable(p)])] if paths else config_files(root)
    for path in files:
        text = _read_config_text(path)
        formatted = format_text(text, str(path))
        if formatted != text:
            changed.append(path)
            if not check:
                atomic_write_text(path, formatted)
    return changed


def _formattable(path: Path) -> Path:
    """A file named to fmt: a configuration or vars file only, as `terraform fmt` takes .tf and .tfvars
    files only (rewritten as HCL, `A=1` in an .env file would become `A = 1`, which a shell no longer reads)."""
    if not path.name.endswith((".zp.hcl", ".zpvars")):
        from zplan.diags import fail

        raise fail(f"{path} is not a configuration or vars file", "fmt rewrites *.zp.hcl and *.zpvars files (or the *.zp.hcl files of a folder)")
    return path


def _read_config_text(path: Path) -> str:
    """A file's text exactly as stored: decoded by hand, since reading in text mode would turn
    CRLF into LF and fmt keeps a file's line endings."""
    from zplan.diags import Range, fail

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise fail(f"cannot read the file: {exc.strerror or exc}", "give an existing *.zp.hcl file or a folder of them", Range(str(path))) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise fail(f"{path} is not UTF-8 text", "save the file as UTF-8", Range(str(path), line)) from None


@dataclass(frozen=True)
class StackEntry:
    name: str
    selected: bool
    embedded: bool = False  # the built-in default, declared nowhere


def stacks(root: Path) -> list[StackEntry]:
    from zplan.config import loader
    from zplan.stack import select

    config = loader.load(root)
    try:
        chosen = select.selected_name(config, root / ".zplan", None)
    except diags.DiagnosticError:  # the selected stack is no longer declared: list them, none marked
        chosen = None
    if not config.stacks:
        return [StackEntry(select.DEFAULT_STACK, chosen == select.DEFAULT_STACK, embedded=True)]
    return [StackEntry(name, name == chosen) for name in sorted(config.stacks)]


def select_stack(root: Path, name: str) -> None:
    from zplan.config import loader
    from zplan.stack import select

    config = loader.load(root)
    select.selected_name(config, root / ".zplan", name)  # validates
    (root / ".zplan").mkdir(exist_ok=True)
    select.remember(root / ".zplan", name)


def providers() -> dict[str, list[str]]:
    """Installed provider plugins and the resource types each serves."""
    from zplan.provider import ProviderRegistry

    registry = ProviderRegistry()
    return {name: sorted(registry.provider_class(name).schemas) for name in registry.names()}
