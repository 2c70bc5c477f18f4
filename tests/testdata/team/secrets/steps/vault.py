"""Proves the step received the secret without ever storing it: only its hash leaves."""

import hashlib


def fingerprint(secret: str, label: str, fail: bool) -> str:
    if fail:  # a careless step that puts the secret in its error message
        raise ValueError(f"{label} {secret!r} was rejected")
    return hashlib.sha256(secret.encode()).hexdigest()
