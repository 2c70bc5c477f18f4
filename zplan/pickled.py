"""``tuple_state``: a class pickled as the tuple of its fields, for the parse cache.

A no-change plan loads each file's parsed tree from a pickle (``zplan.config.loader``): tens of
thousands of small nodes, ranges and references for a big project. Pickle's default state for
such an object is a dict of its fields (with ``__slots__``, a dict set attribute by attribute),
which costs twice what one tuple unpacked into the fields costs: unpickling a 2,000-step file's
tree took 20 ms, a third of it avoidable. The two methods are generated per class (the unpacking
must name the fields), and compiled once through ``zplan._record_code`` as dataclass methods are.
"""

from __future__ import annotations

import dataclasses

from zplan import _record_code

# Set by the command-line entry point, whose process lives for one command: the parse cache's trees
# (``zplan.config.loader``) are then frozen out of the collector's reach once loaded. A long-lived
# process that loads projects again and again (a notebook using the Python API) keeps the default:
# freezing there would keep any garbage cycle alive at that moment out of the collector's reach for good.
FREEZE_LOADED_TREES = False


def tuple_state(cls: type) -> type:
    """Give ``cls`` (a dataclass, or a class whose fields are all ``__slots__``) ``__getstate__``
    and ``__setstate__`` over the tuple of its fields, in declaration order."""
    names = [f.name for f in dataclasses.fields(cls)] if dataclasses.is_dataclass(cls) else _slots(cls)
    if not names:
        return cls
    fields = ", ".join(f"self.{name}" for name in names) + ","
    if hasattr(cls, "__slots__"):
        setting = f"{fields} = state"
    else:  # (a frozen dataclass refuses attribute assignment: its fields go in its __dict__, as pickle's own state does)
        setting = "d = self.__dict__; " + ", ".join(f"d[{name!r}]" for name in names) + ", = state"
    source = f"def __getstate__(self):\n    return ({fields})\ndef __setstate__(self, state):\n    {setting}\n"
    made: dict = {}
    _record_code._exec(source, {"__name__": cls.__module__}, made)
    cls.__getstate__, cls.__setstate__ = made["__getstate__"], made["__setstate__"]
    return cls


def _slots(cls: type) -> list[str]:
    return [name for klass in reversed(cls.__mro__) for name in klass.__dict__.get("__slots__", ())]
