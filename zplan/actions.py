"""What apply does to a node: one vocabulary for plans, saved plan files and providers.

A module of its own so that plans use it without importing the provider contract
(``zplan.provider`` re-exports it for providers): a plan of a project without
resources never imports that.
"""

from __future__ import annotations

from enum import Enum


class Action(str, Enum):
    """What apply does to a node: one vocabulary for plans, saved plan files and providers.

    Members are their stable strings (``Action.NOOP == "no-op"``), as they appear in
    the JSON plan. Resources use create / update / replace / delete / no-op; steps
    use run / cached.
    """

    RUN = "run"
    CACHED = "cached"
    CREATE = "create"
    UPDATE = "update"
    REPLACE = "replace"
    DELETE = "delete"
    NOOP = "no-op"

    def __str__(self) -> str:
        return self.value

    @classmethod
    def _missing_(cls, value: object) -> "Action | None":
        return cls.NOOP if value == "noop" else None  # the provider contract's spelling before 0.x
