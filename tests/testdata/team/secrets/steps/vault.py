"""Proves the steps received the secret: one returns only its hash, one prints and returns it."""

import hashlib

import zplan


@zplan.step(sensitive_outputs=False)  # a hash reveals nothing of the secret
def fingerprint(secret: str, pin: int, label: str, fail: bool) -> str:
    if fail:  # a careless step that puts the secret in its error message
        raise ValueError(f"{label} {secret!r} was rejected")
    return hashlib.sha256(secret.encode()).hexdigest()


def echo(secret: str, pin: int) -> str:
    print("connecting with", secret, "and pin", pin, flush=True)
    return f"{secret}:{pin}"
