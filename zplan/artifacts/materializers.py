"""Materializers: how a step's return value becomes files in an artifact folder, and back.

Lookup order for a value: materializers the user registered (the most specific
registered type wins, then the newest), then the built-ins, then third-party
ones from the ``zplan.materializers`` entry-point group (loaded on the first
miss only, so ordinary runs never scan installed packages).

The built-ins live in ``builtin_materializers``; registering and looking up
never import pandas, scikit-learn or pyarrow. An output another step reads may be
stored in a built-in's faster form (``HANDED_ON``: Arrow IPC for tables); every
artifact names the materializer that wrote it, so each loads the way it was written.

A materializer's ``version`` is part of the cache key of each step writing or reading
its artifacts: bump it whenever the files it writes or what it loads from them change,
so results written or read the old way are recomputed. One registered in the project's
own code is keyed by its code as well (``zplan.plan.loaders``): an edit needs no bump.
"""

from __future__ import annotations

import contextlib
import sys
import warnings
from pathlib import Path
from typing import Any, Callable, Iterator

from zplan.artifacts.builtin_materializers import BUILTINS, HANDED_ON, Materializer, NoMaterializer, json_problem, type_name

__all__ = ["Materializer", "NoMaterializer", "CanSaveFailed", "json_problem", "materializer", "materializer_for", "get_materializer",
           "declared_version", "declared_libraries", "unregister"]

ENTRY_POINT_GROUP = "zplan.materializers"
_BUILTIN_NAMES = {m.name for m in (*BUILTINS, *HANDED_ON.values())}


# --- user registrations and plugins -----------------------------------------------------------


class Registered(Materializer):
    """Adapts a user's class (with ``save``/``load``, optionally ``can_save``) to the contract."""

    def __init__(self, impl: Any, types: tuple[type, ...], name: str, version: str, module: str | None = None) -> None:
        self.impl = impl
        self.types = types
        self.name = name
        self.version = version
        self.module = module or type(impl).__module__  # the module that registered it (as it was imported)
        self.step = _step  # the step it was registered in (0: outside any)
        self.replaced = next((m for m in _user if m.name == name), None)  # the registration of its name it replaces

    def can_save(self, value: Any) -> bool:
        if self.types and not isinstance(value, self.types):
            return False
        own: Callable[[Any], bool] | None = getattr(self.impl, "can_save", None)
        return own(value) if own is not None else True

    def specificity(self, value: Any) -> int:
        """Lower is more specific: where the registered type sits in the value's MRO."""
        mro = type(value).__mro__
        return min((mro.index(t) for t in self.types if t in mro), default=len(mro))

    def save(self, value: Any, folder: Path) -> dict:
        return self.impl.save(value, folder) or {}

    def load(self, folder: Path) -> Any:
        return self.impl.load(folder)


class CanSaveFailed(Exception):
    """A user's ``can_save`` raised: a fault of that materializer's code (``__cause__``), not a value nothing can store."""


def _takes(m: Registered, value: Any) -> bool:
    try:
        return bool(m.can_save(value))
    except Exception as exc:
        raise CanSaveFailed(f"materializer {m.name}'s can_save failed on the {type_name(value)}: {type(exc).__name__}: {exc}") from exc


_user: list[Registered] = []  # newest first
_plugins: list[Materializer] | None = None  # None until the entry points were read
_step = 0  # the step running in this process, numbered by its worker; 0 outside any
_steps = 0  # steps numbered so far


def materializer(type_or_name: type | tuple[type, ...] | str, *, name: str | None = None, version: str | None = None):
    """Class decorator: ``@zplan.materializer(MyType)`` registers a class with ``save``/``load``.

    With a type, it handles instances of that type (and subclasses); with a
    name string, the class must decide itself through ``can_save``. The name
    and version default to the class's ``name``/``version`` attributes, else
    its qualified name and "1".
    """
    if isinstance(type_or_name, str):
        types: tuple[type, ...] = ()
        name = name or type_or_name
    elif isinstance(type_or_name, type):
        types = (type_or_name,)
    elif isinstance(type_or_name, tuple) and type_or_name and all(isinstance(t, type) for t in type_or_name):
        types = type_or_name
    else:
        raise TypeError(f"materializer() takes a type, a tuple of types or a name, not {type_or_name!r}")

    def register(cls: type) -> type:
        if not (callable(getattr(cls, "save", None)) and callable(getattr(cls, "load", None))):
            raise TypeError(f"{cls.__qualname__} needs save(self, value, folder) and load(self, folder) methods")
        if not types and not callable(getattr(cls, "can_save", None)):
            raise TypeError(f"{cls.__qualname__} is registered by name, so it needs a can_save(self, value) method")
        final = name or getattr(cls, "name", "") or f"{cls.__module__}.{cls.__qualname__}"
        if final in _BUILTIN_NAMES:
            raise ValueError(f"materializer name {final!r} is built in; choose another name")
        registered = Registered(cls(), types, final, str(version or getattr(cls, "version", "") or "1"), _importing_module())
        unregister(final)  # re-registering (a reloaded module) replaces the old one
        _user.insert(0, registered)
        return cls

    return register


def _importing_module() -> str | None:
    """The module whose import is making a registration, which importing it again makes again (the class may
    come from another module, the decorator be called by a function of another); None outside any import."""
    frame = sys._getframe(2)
    while frame is not None and not (frame.f_code.co_name == "<module>" and getattr(frame.f_globals.get("__spec__"), "_initializing", False)):
        frame = frame.f_back
    return frame.f_globals.get("__name__") if frame is not None else None


def unregister(name: str) -> None:
    _user[:] = [m for m in _user if m.name != name]


def defined_in(m: Materializer) -> str | None:
    """The module registering a user's materializer (imported to load what it wrote), or None."""
    return m.module if isinstance(m, Registered) else None


def is_registered(name: str, module: str | None = None) -> bool:
    """Whether ``name`` is registered (by ``module``, when given: a library loaded in the worker may have
    registered a materializer of the same name, which must not load what the module's wrote)."""
    if module is not None:
        return _registered_by(name, module) is not None
    return any(m.name == name for m in (*_user, *BUILTINS, *HANDED_ON.values()))


def _registered_by(name: str, module: str) -> Registered | None:
    """The registration of ``name`` by ``module``, one another module's of the same name replaced included."""
    for m in _user:
        while m is not None:
            if m.name == name and m.module == module:
                return m
            m = m.replaced
    return None


def forget_modules(modules: set[str]) -> None:
    """Unregister what ``modules`` registered: a step's worker drops the project's modules after
    each step, and their registrations go with them; one they replaced (a library's of the same name,
    which stays loaded) comes back, as the library would not register it again."""
    kept = []
    for m in _user:
        while m is not None and m.module in modules:
            m = m.replaced
        if m is not None:
            kept.append(m)
    _user[:] = kept


@contextlib.contextmanager
def step_registrations() -> Iterator[None]:
    """Registrations made meanwhile are noted as the running step's (see ``registered_in_last_step``)."""
    global _step, _steps
    _steps += 1
    _step = _steps
    try:
        yield
    finally:
        _step = 0


def registered_in_last_step() -> bool:
    """Whether a registration the last step made is still there: one made by a module that stays loaded in
    the worker (an installed library), which the worker's next step may never import."""
    return _steps > 0 and any(m.step == _steps for m in _user)


def _load_plugins() -> list[Materializer]:
    global _plugins
    if _plugins is None:
        from importlib import metadata as importlib_metadata  # ~0.1 s: only on a lookup miss

        found = []
        for ep in importlib_metadata.entry_points(group=ENTRY_POINT_GROUP):
            try:
                obj = ep.load()
                found.append(obj() if isinstance(obj, type) else obj)
            except Exception as e:  # a broken plugin must not stop values it does not handle
                warnings.warn(f"materializer plugin {ep.name!r} ({ep.value}) failed to load: {e}", stacklevel=2)
        _plugins = found
    return _plugins


def materializer_for(value: Any, handed_on: bool = False) -> Materializer:
    """The materializer that will store ``value``; with ``handed_on`` (another step reads it),
    a built-in's faster form where it has one (DataFrames and Arrow tables as Arrow IPC)."""
    users = [m for m in _user if _takes(m, value)]
    if users:
        return min(users, key=lambda m: m.specificity(value))  # min keeps the newest among equals
    for m in BUILTINS:
        if m.can_save(value):
            return HANDED_ON.get(m.name, m) if handed_on else m
    for m in _load_plugins():  # scanned only now: reading every installed package's entry points costs ~20 ms
        if m.can_save(value):
            return m
    raise NoMaterializer(_no_materializer_message(value))


def _no_materializer_message(value: Any) -> str:
    kind = type_name(value)
    why = ""
    if type(value) in (dict, list):
        why = f" ({json_problem(value)}, so it cannot be stored as JSON)"
    elif _subclass_of(value, "numpy", "ndarray"):
        why = " (a subclass of numpy.ndarray: stored as .npy it would come back a plain array; return np.asarray(value) if that is what the next step wants)"
    elif (base := next((b for b in ("DataFrame", "Series") if _subclass_of(value, "pandas", b)), None)):
        why = (f" (a subclass of pandas.{base}: stored as Parquet it would come back a plain {base}; "
               f"return pd.{base}(value) if that is what the next step wants)")
    return (
        f"no materializer can store a value of type {kind}{why}. Return JSON-able builtins, bytes, a "
        "pathlib.Path, a pandas DataFrame/Series, a numpy array, a pyarrow Table or a scikit-learn "
        f"estimator, or register one:\n"
        f"    @zplan.materializer({type(value).__qualname__})\n"
        f"    class {type(value).__name__.capitalize()}Materializer:\n"
        f"        def save(self, value, folder): ...\n"
        f"        def load(self, folder): ..."
    )


def is_builtin_name(name: str | None) -> bool:
    """Whether a recorded output was written by a materializer that ships with zplan (no user's
    may take a built-in name)."""
    return name in _BUILTIN_NAMES


def is_builtin(m: Materializer) -> bool:
    """Whether ``m`` ships with zplan (its failures are about the value, not about its code)."""
    return m.name in _BUILTIN_NAMES and not isinstance(m, Registered)


def _subclass_of(value: Any, package: str, name: str) -> bool:
    """Whether ``value``'s class derives from ``package``'s class ``name`` (without importing it)."""
    return any(c.__module__.partition(".")[0] == package and c.__name__ == name for c in type(value).__mro__[1:])


def get_materializer(name: str, module: str | None = None) -> Materializer:
    """The materializer called ``name`` (to load an artifact it recorded), the one ``module`` registered first."""
    if module is not None and (own := _registered_by(name, module)) is not None:
        return own
    for m in (*_user, *BUILTINS, *HANDED_ON.values()):
        if m.name == name:
            return m
    for m in _load_plugins():
        if m.name == name:
            return m
    raise NoMaterializer(
        f"no materializer named {name!r}: it was registered when the artifact was written; import or "
        f"install the code that registers it (or a package exposing it in the {ENTRY_POINT_GROUP!r} entry points)"
    )


def declared_version(name: str) -> str:
    return get_materializer(name).version


def declared_libraries(name: str) -> tuple[str, ...]:
    """The top-level modules the materializer ``name`` loads with: a built-in's own list, a
    plugin's package (with what it requires) and any it lists itself (zplan's own plugins, as zplan
    is never keyed); none known for one registered by the user."""
    m = get_materializer(name)
    own = tuple(getattr(m, "libraries", ()))
    if is_builtin(m) or isinstance(m, Registered):
        return own
    return (*own, type(m).__module__.partition(".")[0])
