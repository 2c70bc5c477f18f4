"""Sensitive values at rest: sealed with a symmetric key, never written in clear.

The key comes from ``ZPLAN_STATE_KEY`` (share it in a team's CI secrets) or is
created once in ``.zplan/state.key`` (mode 0600). A sealed value is stored as
``{"$sealed": "<token>"}``; anything else passes through untouched.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable

from zplan.secrets import SEALED_MARK as MARK

KEY_ENV = "ZPLAN_STATE_KEY"
KEY_FILE = "state.key"


@lru_cache(maxsize=8)
def _fernet(state_dir: str):
    from cryptography.fernet import Fernet

    key = os.environ.get(KEY_ENV)
    if not key:
        path = Path(state_dir) / KEY_FILE
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(Fernet.generate_key())
        key = path.read_text().strip()
    return Fernet(key.encode() if isinstance(key, str) else key)


def seal(value: Any, state_dir: Path) -> dict:
    import json

    return {MARK: _fernet(str(state_dir)).encrypt(json.dumps(value).encode()).decode()}


def unseal(value: Any, state_dir: Path) -> Any:
    import json

    if isinstance(value, dict) and set(value) == {MARK}:
        return json.loads(_fernet(str(state_dir)).decrypt(value[MARK].encode()))
    return value


def seal_keys(values: dict, keys: Iterable[str], state_dir: Path) -> dict:
    keys = set(keys)
    return {k: (seal(v, state_dir) if k in keys and v is not None else v) for k, v in values.items()}


def unseal_all(values: dict | None, state_dir: Path) -> dict | None:
    if values is None:
        return None
    return {k: unseal(v, state_dir) for k, v in values.items()}
