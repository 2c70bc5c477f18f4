"""Sensitive values at rest: sealed with a symmetric key, never written in clear.

The key comes from ``ZPLAN_STATE_KEY`` (share it in a team's CI secrets) or is
created once in ``.zplan/state.key`` (mode 0600). A sealed value is stored as
``{"$sealed": "<token>"}``; anything else passes through untouched.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

if TYPE_CHECKING:
    from zplan.diags import DiagnosticError

from zplan.secrets import SEALED_MARK as MARK

KEY_ENV = "ZPLAN_STATE_KEY"
KEY_FILE = "state.key"


@lru_cache(maxsize=8)
def _fernet(state_dir: str, create: bool = True):
    """The key and where it came from; ``create`` makes one when there is none (to seal, never to
    unseal: a value already sealed needs the key it was sealed with, wherever state is stored)."""
    from cryptography.fernet import Fernet

    key = os.environ.get(KEY_ENV)
    source = f"${KEY_ENV}"
    if not key:
        path = Path(state_dir) / KEY_FILE
        source = str(path)
        if not path.exists() and not create:
            raise _missing_key(path, "the state")
        if not path.exists():
            _refuse_new_key_over_sealed_state(Path(state_dir), path)
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(Fernet.generate_key())
        try:
            key = path.read_bytes().decode("ascii").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise _key_error(f"the state key {path} cannot be read ({exc})") from None
    try:
        return Fernet(key.encode()), source
    except ValueError:
        raise _key_error(f"the state key in {source} is not a key (32 url-safe base64-encoded bytes)") from None


def _refuse_new_key_over_sealed_state(state_dir: Path, path: Path) -> None:
    """A new key cannot open what the lost one sealed: making one would hide the loss."""
    state = state_dir / "state.json"
    try:
        holds_sealed = f'"{MARK}"'.encode() in state.read_bytes()
    except OSError:
        return
    if holds_sealed:
        raise _missing_key(path, str(state))


def _missing_key(path: Path, state: str) -> "DiagnosticError":
    return _key_error(
        f"the state key {path} is missing, and {state} holds sensitive values sealed with it",
        f"restore {path.name} (or set ${KEY_ENV} to the key); zplan will not make a new key, "
        "which could never open those values",
    )


def _key_error(summary: str, detail: str = "") -> "DiagnosticError":
    from zplan.diags import fail

    return fail(summary, detail or f"restore {KEY_FILE} from a copy, or set ${KEY_ENV} to the key the state was sealed with")


def seal(value: Any, state_dir: Path) -> dict:
    import json

    fernet, _ = _fernet(str(state_dir))
    return {MARK: fernet.encrypt(json.dumps(value, allow_nan=False).encode()).decode()}


def unseal(value: Any, state_dir: Path) -> Any:
    import json

    from cryptography.fernet import InvalidToken

    if isinstance(value, dict) and set(value) == {MARK}:
        fernet, source = _fernet(str(state_dir), create=False)
        try:
            return json.loads(fernet.decrypt(str(value[MARK]).encode()))
        except InvalidToken:
            raise _key_error(
                f"a sensitive value in state cannot be unsealed with the key in {source}",
                f"that key is not the one it was sealed with (or the value was damaged): restore the original "
                f"{KEY_FILE}, or set ${KEY_ENV} to it",
            ) from None
    return value


def seal_keys(values: dict, keys: Iterable[str], state_dir: Path) -> dict:
    keys = set(keys)
    return {k: (seal(v, state_dir) if k in keys and v is not None else v) for k, v in values.items()}


def unseal_all(values: dict | None, state_dir: Path) -> dict | None:
    if values is None:
        return None
    return {k: unseal(v, state_dir) for k, v in values.items()}
