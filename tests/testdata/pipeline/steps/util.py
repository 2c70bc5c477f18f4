"""Helpers the steps share (project-local code: part of each caller's fingerprint)."""


def clean(line: str) -> str:
    return line.strip()
