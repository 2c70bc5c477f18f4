"""The optional ``@zplan.step`` decorator: name a step's outputs, say whether they are sensitive.

Steps are plain functions; the decorator only records output names so that
``step.NAME.outputs.OUT`` references can be checked before anything runs (the
planner reads the decorator statically, without importing the module).

    @step(outputs=["train", "test"])
    def split(data, test_size: float = 0.2): ...
        return {"train": ..., "test": ...}     # or a tuple in the same order

A step that receives a sensitive value (a param or input computed from one) has
sensitive outputs: sealed in state, shown as "(sensitive)", and an ``output`` that
reads them must be declared ``sensitive = true``. A step whose result reveals
nothing of the secret (a hash, a row count) says so, and one that fetches a secret
itself says the opposite:

    @step(sensitive_outputs=False)
    def fingerprint(password): return sha256(password.encode()).hexdigest()
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

DEFAULT_OUTPUT = "output"


def step(fn: Callable | None = None, *, outputs: str | Sequence[str] | None = None, sensitive_outputs: bool | None = None,
         **zenml_options: Any) -> Any:
    """``zenml_options``: what ZenML's own ``@step(...)`` takes (``enable_cache``, ``settings``, ...), accepted so a
    step module written for ZenML loads when it falls back to this decorator; in zplan the step's HCL block says
    what they said (``cache = false``)."""

    def mark(f: Callable) -> Callable:
        names = [outputs] if isinstance(outputs, str) else list(outputs) if outputs is not None else None
        f.__zplan_outputs__ = names
        f.__zplan_sensitive_outputs__ = sensitive_outputs  # read statically by the planner (a literal True/False)
        return f

    return mark(fn) if fn is not None else mark


def repeated(names: Sequence[str]) -> str | None:
    """The first name listed twice, or None."""
    return next((n for i, n in enumerate(names) if n in names[:i]), None)


def split_outputs(value: Any, declared: list[str] | None) -> dict[str, Any]:
    """A step's return value as {output name: value}."""
    if declared is not None and (twice := repeated(declared)):
        raise ValueError(f'the step declares the output "{twice}" twice: give each output its own name')
    if declared is None:
        fields = getattr(type(value), "_fields", None)  # a NamedTuple names its outputs
        if fields is not None:
            return dict(zip(fields, value))
        return {DEFAULT_OUTPUT: value}
    if not declared:  # @step(outputs=[]): run for what it does (a notification, an upload)
        if value is None:
            return {}
        raise ValueError(f"step declares no outputs but returned a value of type {type(value).__name__}")
    if len(declared) == 1:
        if isinstance(value, dict) and set(value) == set(declared):
            return dict(value)
        return {declared[0]: value}
    if isinstance(value, dict):
        missing = [n for n in declared if n not in value]
        extra = [n for n in value if n not in declared]
        if missing or extra:
            raise ValueError(f"step returned outputs {sorted(value)} but declares {declared}")
        return dict(value)
    fields = getattr(type(value), "_fields", None)
    if isinstance(value, tuple) and fields is not None and set(fields) == set(declared):
        return value._asdict()  # a NamedTuple names its values: its field order need not be the declared one
    if isinstance(value, tuple) and len(value) == len(declared):
        return dict(zip(declared, value))
    raise ValueError(f"step declares outputs {declared}: return a dict with those keys or a tuple of {len(declared)} values")
