"""Checks that run before anything changes: is the Pulumi CLI there, are secrets and
credentials set up. Each returns a message the user can act on."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Iterable, Mapping

from zplan.provider import ProviderError

INSTALL_URL = "https://www.pulumi.com/docs/install/"
PASSPHRASE_VARS = ("PULUMI_CONFIG_PASSPHRASE", "PULUMI_CONFIG_PASSPHRASE_FILE")


def require_cli(provider: str) -> str:
    """The path of the ``pulumi`` executable, or a ProviderError saying what to install."""
    path = shutil.which("pulumi")
    if path is None:
        raise ProviderError(
            f"the {provider} provider applies resources with the Pulumi CLI, which is not installed "
            f"(no 'pulumi' on PATH).\n"
            f"  Install the Pulumi CLI (3.181 or newer): {INSTALL_URL}\n"
            f"  'zplan plan' and 'zplan validate' work without it."  # (the core adds that nothing was changed)
        )
    return path


def passphrase_env(backend: str, secrets_provider: str | None, environ: Mapping[str, str]) -> dict[str, str]:
    """Extra environment for the engine so secrets can be encrypted in the stack.

    A passphrase set by the user always wins. For the default local file
    backend, an unset passphrase means an empty one: the state never leaves
    this machine and the secrets are still not stored in clear. A shared
    backend must not silently get an empty passphrase, so it is an error.
    """
    if secrets_provider and secrets_provider != "passphrase":
        return {}
    if any(var in environ for var in PASSPHRASE_VARS):
        return {}
    if backend.startswith("file://"):
        return {"PULUMI_CONFIG_PASSPHRASE": ""}
    raise ProviderError(
        f"the Pulumi backend {backend} is shared, so its secrets need a passphrase: set "
        f"PULUMI_CONFIG_PASSPHRASE (or PULUMI_CONFIG_PASSPHRASE_FILE), or choose a "
        f"secrets_provider in the provider block (e.g. \"awskms://...\", \"gcpkms://...\")."
    )


def any_env(environ: Mapping[str, str], names: Iterable[str]) -> bool:
    return any(environ.get(n) for n in names)


def any_file(paths: Iterable[Path]) -> bool:
    return any(p.is_file() for p in paths)


def dmi_says(*needles: str) -> bool:
    """Whether this machine's firmware names one of ``needles`` (a cloud VM with its own identity)."""
    root = Path("/sys/class/dmi/id")
    for name in ("sys_vendor", "product_name", "bios_vendor"):
        try:
            text = (root / name).read_text(errors="replace")
        except OSError:
            continue
        if any(n in text for n in needles):
            return True
    return False


def home(environ: Mapping[str, str]) -> Path:
    return Path(environ.get("HOME") or os.path.expanduser("~"))
