"""Every way a secret is kept out of sight, in one place.

Two kinds of masking, for two audiences:
- for people (plans, state views, logs, error messages): a secret becomes "(sensitive)";
- for state and cache keys: a secret becomes "(sensitive:DIGEST)", a slow hash that still
  changes when the secret does, so a new password reruns the steps that use it.

``secrets`` are the values of sensitive variables; an attribute a schema marks
sensitive, or a value sealed at rest, is hidden by name or by shape.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, Iterable

SENSITIVE = "(sensitive)"
DIGEST_PREFIX = "(sensitive:"
SEALED_MARK = "$sealed"  # a value sealed at rest is stored as {"$sealed": "<token>"}

_NO_UNKNOWN = object()


def _holds_secret(text: str, secrets: Iterable[str]) -> bool:
    return any(s and s in text for s in secrets)


def mask(value: Any, secrets: list[str], unknown: object = _NO_UNKNOWN) -> Any:
    """For people: every string holding a secret becomes "(sensitive)"; ``unknown`` (a
    value known only after apply) becomes None. Tuples come back as lists."""
    if value is unknown:
        return None
    if isinstance(value, str):
        return SENSITIVE if _holds_secret(value, secrets) else value
    if isinstance(value, dict):
        return {k: mask(v, secrets, unknown) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [mask(v, secrets, unknown) for v in value]
    return value


def is_sealed(value: Any) -> bool:
    return isinstance(value, dict) and SEALED_MARK in value


def mask_attributes(
    attrs: dict, sensitive: Iterable[str], secrets: list[str] = (), unknown: object = _NO_UNKNOWN, hide_null: bool = False
) -> dict:
    """For people: resource attributes with the sensitive ones (by schema, or sealed) hidden.
    A sensitive attribute that is null stays null unless ``hide_null``."""
    names = set(sensitive)

    def one(k: str, v: Any) -> Any:
        if (k in names and (v is not None or hide_null)) or is_sealed(v):
            return SENSITIVE
        return mask(v, secrets, unknown)

    return {k: one(k, v) for k, v in attrs.items()}


def redact(text: str | None, secrets: list[str]) -> str | None:
    """For people: each secret inside a free text (an error, a traceback) becomes "(sensitive)"."""
    for secret in secrets:
        if text and secret:
            text = text.replace(secret, SENSITIVE)
    return text


def redact_file(path: Path, secrets: list[str]) -> None:
    """The same for a file (a step's log), rewritten atomically only when it held a secret."""
    if not secrets or not path.exists():
        return
    data = path.read_bytes()
    cleaned = data
    for secret in secrets:
        if secret:
            cleaned = cleaned.replace(secret.encode(), SENSITIVE.encode())
    if cleaned != data:
        from zplan.fsutil import atomic_write_bytes

        atomic_write_bytes(path, cleaned)


@functools.lru_cache(maxsize=64)
def _slow_digest(value: str) -> str:
    """A digest that stands for a secret in state and cache keys.

    Deterministic (two checkouts sharing a cache must agree) but deliberately slow
    (PBKDF2, 200,000 rounds), so a weak password cannot be recovered by trying
    guesses against what state stores.
    """
    import hashlib

    return hashlib.pbkdf2_hmac("sha256", value.encode(), b"zplan sensitive value", 200_000).hex()[:32]


def digest_secrets(value: Any, secrets: list[str]) -> Any:
    """For state and cache keys: every string holding a secret becomes a slow hash of it."""
    if not secrets:
        return value
    if isinstance(value, str):
        return f"{DIGEST_PREFIX}{_slow_digest(value)})" if _holds_secret(value, secrets) else value
    if isinstance(value, dict):
        return {k: digest_secrets(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [digest_secrets(v, secrets) for v in value]
    return value


def is_digest(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(DIGEST_PREFIX)
