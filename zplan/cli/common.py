"""What the commands share: the project folder from typer's context, option spellings,
turning flags into operation arguments, and usage errors named as typed."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import click
import typer
from typer.core import TyperCommand

from zplan.cli import process

if TYPE_CHECKING:
    from zplan.operations.opening import ProjectArgs


@dataclass
class Invocation:
    """Set by the top-level callback: the folder a command runs in (-chdir)."""

    chdir: Optional[Path] = None


def opt(default: Any, name: str, help: str) -> Any:
    """A Terraform-style flag: -name and --name."""
    return typer.Option(default, f"-{name}", f"--{name}", help=help)


NoColorOpt = typer.Option(False, "-no-color", "--no-color", callback=process.no_color,
                          help="Plain text: no colours or other escape codes (as NO_COLOR=1).")
LockTimeoutOpt = typer.Option("0s", "-lock-timeout", "--lock-timeout", help="How long to wait for the state lock.")


def stack_option() -> Any:
    """The one -stack option of every command that reads a project's state."""
    return opt(None, "stack", "Use this stack instead of the selected one.")


def enter(folder: Path) -> Path:
    """-chdir: the command runs as if started in ``folder``, so relative paths in its other flags
    (-out, -var-file, a plan file) are read from there, as Terraform's -chdir does. A folder that
    is not there is a usage error: `init` must never make a project where a typo points."""
    try:
        os.chdir(folder)
    except FileNotFoundError:
        raise click.BadParameter(f"folder {folder} does not exist", param_hint="-chdir") from None
    except NotADirectoryError:
        raise click.BadParameter(f"{folder} is not a folder", param_hint="-chdir") from None
    except PermissionError:
        raise click.BadParameter(f"folder {folder} cannot be entered: permission denied", param_hint="-chdir") from None
    return Path.cwd()


def root(ctx: click.Context | None = None) -> Path:
    ctx = ctx or click.get_current_context()
    invocation = ctx.find_root().obj
    chdir = invocation.chdir if isinstance(invocation, Invocation) else None
    return (chdir or Path.cwd()).resolve()


def root_or_none(ctx: click.Context | None) -> Path | None:
    if ctx is None:
        return process.folder_or_none()
    try:
        return root(ctx)
    except OSError:
        return None


def project_args(stack: Optional[str] = None, var: list[str] = (), var_file: list[Path] = ()) -> ProjectArgs:
    # Imported here, as every operation is: parsing the command line loads none of the core.
    from zplan.operations.opening import ProjectArgs

    return ProjectArgs(root(), var_args(var, var_file), stack)


# -- -var and -var-file in the order given ----------------------------------------------------------

_ORDER = "zplan.option_order"  # (in click's context meta) the names of the options given, one per occurrence


class InOrder(TyperCommand):
    """A command that notes the order its options were given in: its -var and -var-file are
    taken in command-line order, the later one winning, as Terraform takes them (click keeps
    each option's values apart, so the order between two options is known only while parsing)."""

    def make_parser(self, ctx: click.Context) -> Any:
        parser = super().make_parser(ctx)
        parse = parser.parse_args

        def noting_order(args: list[str]) -> Any:
            opts, rest, order = parse(args=args)
            ctx.meta[_ORDER] = [param.name for param in order]
            return opts, rest, order

        parser.parse_args = noting_order
        return parser


def var_args(var: list[str], var_file: list[Path]) -> list[str | Path]:
    """Every -var (text) and -var-file (a Path) of the running command (an ``InOrder`` one), in the order given."""
    if not (var and var_file):  # one kind only: in its own order
        return [*var, *var_file]
    order = click.get_current_context().meta[_ORDER]
    texts, files = iter(var), iter(var_file)
    return [next(files) if name == "var_file" else next(texts) for name in order if name in ("var", "var_file")]


# -- usage errors ---------------------------------------------------------------------------------


# Terraform commands zplan does another way: (group, command) -> what to do instead.
_INSTEAD = {
    ("state", "mv"): "\n  to rename an address, write a moved block (moved { from = OLD, to = NEW }): "
                     "the next plan and apply move its state and cached results",
}


def usage_message(exc: click.UsageError, argv: list[str]) -> str:
    """click's message, with the flag named as typed (``-stak``, not ``-s``) and a "did you mean"."""
    import difflib  # only on a usage error: not on every command's start-up

    if isinstance(exc, click.NoSuchOption) and exc.ctx is not None:
        known = [name for p in exc.ctx.command.params for name in (*p.opts, *p.secondary_opts)]
        typed = next((a.split("=", 1)[0] for a in argv if a.startswith(exc.option_name) and a.split("=", 1)[0] not in known), exc.option_name)
        bare = typed.lstrip("-")
        close = difflib.get_close_matches(bare, [k.lstrip("-") for k in known], n=1, cutoff=0.6)
        hint = f" Did you mean -{close[0]}?" if close else ""
        return f"unknown flag {typed} for `{exc.ctx.command_path}`.{hint}\n  see `{exc.ctx.command_path} --help`"
    message = exc.format_message()
    group = exc.ctx.command if exc.ctx is not None else None
    if message.startswith("No such command") and isinstance(group, click.Group):
        name = message.split("'")[1] if "'" in message else ""
        close = difflib.get_close_matches(name, list(group.commands), n=1)
        message += f" Did you mean {close[0]!r}?" if close else ""
        message += _INSTEAD.get((group.name, name), "")
    where = f"\n  see `{exc.ctx.command_path} --help`" if exc.ctx is not None else ""
    return message + where
