"""A step's ``backend = "vertex" | "sagemaker"``: the training service that runs it (zplan.backends)."""

from __future__ import annotations

from typing import Any

from zplan import diags

BACKENDS = ("vertex", "sagemaker")


def step_backend(value: Any, attr: Any, found: diags.Collector, step: str) -> str | None:
    """The backend named, None when absent or wrong (reported at the attribute)."""
    if attr is None or value is None:
        return None
    if value not in BACKENDS:
        found.error(f'step "{step}": unknown backend {value!r}', 'backend is "vertex" or "sagemaker"', attr.range)
        return None
    return value
