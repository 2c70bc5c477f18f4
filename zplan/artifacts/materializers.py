"""Materializers: how a step's return value becomes files in an artifact folder, and back.

Lookup order for a value: materializers the user registered (the most specific
registered type wins, then the newest), then the built-ins, then third-party
ones from the ``zplan.materializers`` entry-point group (loaded on the first
miss only, so ordinary runs never scan installed packages).

Heavy libraries are imported only once a value's class is known to come from
them (``_from_package``): registering and looking up never import pandas,
scikit-learn or pyarrow.

A materializer's ``version`` is part of each step's cache key: bump it whenever
the files it writes change, so results written the old way are recomputed.
"""

from __future__ import annotations

import json
import math
import pickle
import shutil
import warnings
from pathlib import Path
from typing import Any, Callable

from zplan.diags import fail

ENTRY_POINT_GROUP = "zplan.materializers"


class NoMaterializer(TypeError):
    """No materializer can store this value (or none has this name)."""


class Materializer:
    name: str = ""
    version: str = "1"

    def can_save(self, value: Any) -> bool:
        raise NotImplementedError

    def save(self, value: Any, folder: Path) -> dict:
        """Write ``value`` as files into ``folder``; return small JSON-able facts about it."""
        raise NotImplementedError

    def load(self, folder: Path) -> Any:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<materializer {self.name} v{self.version}>"


def _from_package(value: Any, package: str) -> bool:
    """Whether ``value``'s class (or a base) is defined in ``package``, without importing it."""
    return any(c.__module__.partition(".")[0] == package for c in type(value).__mro__)


def _type_name(value: Any) -> str:
    t = type(value)
    return t.__qualname__ if t.__module__ == "builtins" else f"{t.__module__}.{t.__qualname__}"


def _single(folder: Path, *names: str) -> Path:
    for name in names:
        if (folder / name).exists():
            return folder / name
    raise FileNotFoundError(f"{folder} holds none of {', '.join(names)}: not written by this materializer")


# --- built-ins --------------------------------------------------------------------------------

_JSON_SCALARS = (str, int, float, bool, type(None))


def json_problem(value: Any, where: str = "value") -> str | None:
    """Why ``value`` would not come back unchanged from JSON, or None when it would.

    Exact types only: a tuple would come back as a list, an int key as a string,
    a numpy float as a plain float.
    """
    t = type(value)
    if t in _JSON_SCALARS:
        return None
    if t is list:
        return next((p for i, v in enumerate(value) if (p := json_problem(v, f"{where}[{i}]"))), None)
    if t is dict:
        for k, v in value.items():
            if type(k) is not str:
                return f"{where} has a {type(k).__name__} key {k!r} (JSON keys are strings)"
            if p := json_problem(v, f"{where}[{k!r}]"):
                return p
        return None
    return f"{where} is a {_type_name(value)}"


class JsonMaterializer(Materializer):
    name = "json"
    version = "1"

    def can_save(self, value: Any) -> bool:
        return json_problem(value) is None

    def save(self, value: Any, folder: Path) -> dict:
        # sort_keys and fixed separators: the same value always gives the same bytes.
        text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=True)
        (folder / "value.json").write_text(text, encoding="utf-8")
        meta: dict[str, Any] = {"type": type(value).__name__}
        if isinstance(value, (dict, list)):
            meta["length"] = len(value)
        elif isinstance(value, (int, float, bool)) and not (isinstance(value, float) and not math.isfinite(value)):
            meta["value"] = value
        return meta

    def load(self, folder: Path) -> Any:
        return json.loads((folder / "value.json").read_text(encoding="utf-8"))


class BytesMaterializer(Materializer):
    name = "bytes"
    version = "1"

    def can_save(self, value: Any) -> bool:
        return type(value) is bytes

    def save(self, value: Any, folder: Path) -> dict:
        (folder / "data.bin").write_bytes(value)
        return {"type": "bytes", "size": len(value)}

    def load(self, folder: Path) -> Any:
        return (folder / "data.bin").read_bytes()


class PathMaterializer(Materializer):
    """A file or folder the step produced, copied as is.

    A file keeps its name (``file/<name>``); a folder's own name is dropped
    (``dir/...``) because steps often return a scratch folder with a random
    name, which would otherwise change the digest on every run.
    """

    name = "path"
    version = "1"

    def can_save(self, value: Any) -> bool:
        return isinstance(value, Path)

    def save(self, value: Any, folder: Path) -> dict:
        if value.is_file():
            (folder / "file").mkdir()
            shutil.copyfile(value, folder / "file" / value.name)
            return {"type": "file", "name": value.name, "size": value.stat().st_size}
        if value.is_dir():
            shutil.copytree(value, folder / "dir")
            files = [p for p in (folder / "dir").rglob("*") if p.is_file()]
            return {"type": "folder", "files": len(files), "size": sum(p.stat().st_size for p in files)}
        raise fail(
            f"the step returned the path {value}, which does not exist",
            "return a path to a file or folder the step wrote",
        )

    def load(self, folder: Path) -> Any:
        if (folder / "file").is_dir():
            return next((folder / "file").iterdir())
        return folder / "dir"


def _parquet_write(table: Any, path: Path) -> None:
    import pyarrow.parquet as pq

    # No timestamps or random ids go into the file: equal tables give equal bytes.
    pq.write_table(table, path, compression="zstd")


class PandasMaterializer(Materializer):
    """DataFrame and Series as Parquet (with index and pandas dtypes in Arrow's pandas metadata).

    What Parquet cannot say travels in one extra schema-metadata key: a
    Series's name (None, 0 and "0" stay distinct) and the index's freq.
    """

    name = "pandas.parquet"
    version = "1"
    _KEY = b"zplan.pandas"
    _COLUMN = "__zplan_series__"

    def can_save(self, value: Any) -> bool:
        if not _from_package(value, "pandas"):
            return False
        import pandas as pd

        return isinstance(value, (pd.DataFrame, pd.Series))

    def save(self, value: Any, folder: Path) -> dict:
        import pandas as pd
        import pyarrow as pa

        is_series = isinstance(value, pd.Series)
        # A PeriodIndex keeps its freq in its dtype; only these two lose it in Parquet.
        timed = isinstance(value.index, (pd.DatetimeIndex, pd.TimedeltaIndex))
        extra: dict[str, Any] = {"freq": value.index.freqstr if timed else None}
        if is_series:
            extra["name"] = value.name
        table = pa.Table.from_pandas(value.to_frame(name=self._COLUMN) if is_series else value)
        extra_json = json.dumps(extra, default=str).encode()
        table = table.replace_schema_metadata({**table.schema.metadata, self._KEY: extra_json})
        _parquet_write(table, folder / ("series.parquet" if is_series else "frame.parquet"))
        if is_series:
            return {"type": "pandas.Series", "rows": len(value), "dtype": str(value.dtype)}
        return {"type": "pandas.DataFrame", "rows": len(value), "columns": [str(c) for c in value.columns][:50]}

    def load(self, folder: Path) -> Any:
        import pyarrow.parquet as pq

        path = _single(folder, "frame.parquet", "series.parquet")
        table = pq.read_table(path)
        extra = json.loads(table.schema.metadata[self._KEY])
        value = table.to_pandas()
        if extra["freq"]:
            value.index.freq = extra["freq"]
        if path.name == "frame.parquet":
            return value
        series = value[self._COLUMN]
        series.name = extra["name"]
        return series


class NumpyMaterializer(Materializer):
    """Arrays (and numpy scalars) as .npy, never pickled: object arrays are refused."""

    name = "numpy.npy"
    version = "1"

    def can_save(self, value: Any) -> bool:
        if not _from_package(value, "numpy"):
            return False
        import numpy as np

        return isinstance(value, (np.ndarray, np.generic)) and not np.asarray(value).dtype.hasobject

    def save(self, value: Any, folder: Path) -> dict:
        import numpy as np

        name = "array.npy" if isinstance(value, np.ndarray) else "scalar.npy"
        with open(folder / name, "wb") as f:
            np.save(f, value, allow_pickle=False)
        arr = np.asarray(value)
        return {"type": f"numpy.{type(value).__name__}", "shape": list(arr.shape), "dtype": str(arr.dtype)}

    def load(self, folder: Path) -> Any:
        import numpy as np

        path = _single(folder, "array.npy", "scalar.npy")
        arr = np.load(path, allow_pickle=False)
        return arr if path.name == "array.npy" else arr[()]


class ArrowMaterializer(Materializer):
    name = "arrow.parquet"
    version = "1"

    def can_save(self, value: Any) -> bool:
        if not _from_package(value, "pyarrow"):
            return False
        import pyarrow as pa

        return isinstance(value, pa.Table)

    def save(self, value: Any, folder: Path) -> dict:
        _parquet_write(value, folder / "table.parquet")
        return {"type": "pyarrow.Table", "rows": value.num_rows, "columns": value.column_names[:50]}

    def load(self, folder: Path) -> Any:
        import pyarrow.parquet as pq

        return pq.read_table(folder / "table.parquet")


class SklearnMaterializer(Materializer):
    """Estimators as a plain pickle (protocol 5: out-of-band buffers, fast for large arrays).

    Not joblib: its format is pickle too, and its one gain (memory-mapping big
    arrays) needs several files and its own loader. Not skops: it refuses types
    outside an audited list, so many estimators and user transformers would not
    load without per-type trust settings, and it is not a dependency here.
    Loading a pickle runs code, so artifacts are only loaded from the team's
    own store; scikit-learn warns itself when the loading version differs.
    """

    name = "sklearn.pickle"
    version = "1"

    def can_save(self, value: Any) -> bool:
        if not _from_package(value, "sklearn"):
            return False
        from sklearn.base import BaseEstimator

        return isinstance(value, BaseEstimator)

    def save(self, value: Any, folder: Path) -> dict:
        import sklearn

        with open(folder / "model.pkl", "wb") as f:
            pickle.dump(value, f, protocol=5)
        return {"type": _type_name(value), "sklearn": sklearn.__version__}

    def load(self, folder: Path) -> Any:
        with open(folder / "model.pkl", "rb") as f:
            return pickle.load(f)


BUILTINS: tuple[Materializer, ...] = (
    BytesMaterializer(),
    JsonMaterializer(),
    PathMaterializer(),
    PandasMaterializer(),
    NumpyMaterializer(),
    ArrowMaterializer(),
    SklearnMaterializer(),
)
_BUILTIN_NAMES = {m.name for m in BUILTINS}


# --- user registrations and plugins -----------------------------------------------------------


class Registered(Materializer):
    """Adapts a user's class (with ``save``/``load``, optionally ``can_save``) to the contract."""

    def __init__(self, impl: Any, types: tuple[type, ...], name: str, version: str) -> None:
        self.impl = impl
        self.types = types
        self.name = name
        self.version = version

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


_user: list[Registered] = []  # newest first
_plugins: list[Materializer] | None = None  # None until the entry points were read


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
        unregister(final)  # re-registering (a reloaded module) replaces the old one
        _user.insert(0, Registered(cls(), types, final, str(version or getattr(cls, "version", "") or "1")))
        return cls

    return register


def unregister(name: str) -> None:
    _user[:] = [m for m in _user if m.name != name]


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


def materializer_for(value: Any) -> Materializer:
    """The materializer that will store ``value``."""
    users = [m for m in _user if m.can_save(value)]
    if users:
        return min(users, key=lambda m: m.specificity(value))  # min keeps the newest among equals
    for m in (*BUILTINS, *_load_plugins()):
        if m.can_save(value):
            return m
    raise NoMaterializer(_no_materializer_message(value))


def _no_materializer_message(value: Any) -> str:
    kind = _type_name(value)
    why = ""
    if type(value) in (dict, list):
        why = f" ({json_problem(value)}, so it cannot be stored as JSON)"
    return (
        f"no materializer can store a value of type {kind}{why}. Return JSON-able builtins, bytes, a "
        "pathlib.Path, a pandas DataFrame/Series, a numpy array, a pyarrow Table or a scikit-learn "
        f"estimator, or register one:\n"
        f"    @zplan.materializer({type(value).__qualname__})\n"
        f"    class {type(value).__name__.capitalize()}Materializer:\n"
        f"        def save(self, value, folder): ...\n"
        f"        def load(self, folder): ..."
    )


def get_materializer(name: str) -> Materializer:
    """The materializer called ``name`` (to load an artifact it recorded)."""
    for m in (*_user, *BUILTINS):
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
