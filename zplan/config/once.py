"""``computed_once``: an attribute worked out on first use and kept in the instance.

``functools.cached_property`` does the same, but before Python 3.12 it takes a lock on
every first use, which costs more than the attribute itself for the small records a plan
makes per step (their addresses). Only for values that never change after the instance
is made (frozen records, or fields nothing assigns after construction).
"""

from __future__ import annotations

from typing import Any, Callable


class computed_once:
    def __init__(self, compute: Callable[[Any], Any]) -> None:
        self.compute = compute
        self.__doc__ = compute.__doc__

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        if instance is None:
            return self
        value = self.compute(instance)
        object.__setattr__(instance, self.name, value)  # (not a frozen dataclass's __setattr__; not __dict__, which would be made whole)
        return value
