"""The materializers zplan ships: JSON, bytes, paths, pandas, numpy, Arrow and scikit-learn.

Heavy libraries are imported only once a value's class is known to come from
them (``from_package``): looking a value up never imports pandas, scikit-learn
or pyarrow. ``Materializer`` is the contract every materializer follows.
"""

from __future__ import annotations

import json
import math
import pickle
from pathlib import Path
from typing import Any

from zplan.artifacts import pandas_labels as labels
from zplan.diags import fail


class NoMaterializer(TypeError):
    """No materializer can store this value (or none has this name)."""


class Materializer:
    name: str = ""
    version: str = "1"
    libraries: tuple[str, ...] = ()  # the top-level modules its load side uses: keyed for the steps reading what it wrote

    def can_save(self, value: Any) -> bool:
        raise NotImplementedError

    def save(self, value: Any, folder: Path) -> dict:
        """Write ``value`` as files into ``folder``; return small JSON-able facts about it."""
        raise NotImplementedError

    def load(self, folder: Path) -> Any:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<materializer {self.name} v{self.version}>"


def from_package(value: Any, package: str) -> bool:
    """Whether ``value``'s class (or a base) is defined in ``package``, without importing it."""
    return any(c.__module__.partition(".")[0] == package for c in type(value).__mro__)


def type_name(value: Any) -> str:
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
    return f"{where} is a {type_name(value)}"


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
        import shutil  # here: planning loads the materializers, and shutil costs ~1.5 ms to import

        if value.is_file():
            (folder / "file").mkdir()
            shutil.copyfile(value, folder / "file" / value.name)
            return {"type": "file", "name": value.name, "size": value.stat().st_size}
        if value.is_dir():
            if folder.resolve().is_relative_to(value.resolve()):  # copying it would copy the copy, endlessly
                raise fail(f"the step returned the folder {value}, which holds the artifact store it would be copied into",
                           "return the file or folder the step wrote, not the project folder or one holding the store")
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


def _parquet_read(path: Path) -> Any:
    """The table as it was written. Parquet has no seconds unit and no date64: such columns (a
    pandas datetime64[s] too) come back as milliseconds and date32 unless cast back to the Arrow
    schema pyarrow keeps in the file."""
    import base64

    import pyarrow as pa
    import pyarrow.parquet as pq

    file = pq.ParquetFile(path)
    table = file.read()
    written = (file.metadata.metadata or {}).get(b"ARROW:schema")
    if written is None:
        return table
    schema = pa.ipc.read_schema(pa.py_buffer(base64.b64decode(written)))
    if schema.equals(table.schema, check_metadata=False):
        return table
    try:
        return table.cast(schema)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, ValueError):
        return table  # a type Arrow cannot cast back: as Parquet gives it


class PandasMaterializer(Materializer):
    """DataFrame and Series as Parquet (with index and pandas dtypes in Arrow's pandas metadata).

    What Parquet cannot say travels in one extra schema-metadata key: a
    Series's name (None, 0 and "0" stay distinct) and the index's freq.
    """

    name = "pandas.parquet"
    version = "2"  # 2: labels and Series names kept as JSON, seconds units cast back (what v1 files load as changed)
    libraries = ("pandas", "pyarrow")
    _KEY = b"zplan.pandas"
    _COLUMN = "__zplan_series__"
    _FRAME, _SERIES = "frame.parquet", "series.parquet"

    def can_save(self, value: Any) -> bool:
        if not from_package(value, "pandas"):
            return False
        import pandas as pd

        # A subclass would come back a plain DataFrame or Series, its own attributes and methods lost
        # (and a plugin for it, looked up after the built-ins, never asked).
        return type(value) in (pd.DataFrame, pd.Series)

    def save(self, value: Any, folder: Path) -> dict:
        import pandas as pd

        is_series = isinstance(value, pd.Series)
        self._write(self.table(value), folder / (self._SERIES if is_series else self._FRAME))
        if is_series:
            return {"type": "pandas.Series", "rows": len(value), "dtype": str(value.dtype)}
        return {"type": "pandas.DataFrame", "rows": len(value), "columns": [str(c) for c in value.columns][:50]}

    def load(self, folder: Path) -> Any:
        path = _single(folder, self._FRAME, self._SERIES)
        return self.value(self._read(path), series=path.name == self._SERIES)

    def table(self, value: Any) -> Any:
        """``value`` as the Arrow table this materializer writes."""
        import pandas as pd
        import pyarrow as pa

        is_series = isinstance(value, pd.Series)
        # A PeriodIndex keeps its freq in its dtype; only these two lose it in Parquet (and Arrow IPC).
        timed = isinstance(value.index, (pd.DatetimeIndex, pd.TimedeltaIndex))
        extra: dict[str, Any] = {"freq": value.index.freqstr if timed else None}
        if is_series:
            extra["name"] = labels.to_json(value.name, "the Series name")
            value = value.to_frame(name=self._COLUMN)
        elif (columns := labels.columns_record(value.columns)) is not None:
            extra["columns"] = columns
            value = value.set_axis(pd.Index([str(c) for c in value.columns], name=value.columns.name), axis=1)
        table = pa.Table.from_pandas(value)
        extra_json = json.dumps(extra, default=str).encode()
        return table.replace_schema_metadata({**table.schema.metadata, self._KEY: extra_json})

    def value(self, table: Any, series: bool) -> Any:
        """The DataFrame (or Series) a table written by ``table`` stands for."""
        extra = json.loads(table.schema.metadata[self._KEY])
        value = _writable_categories(table.to_pandas())
        if extra["freq"]:
            value.index.freq = extra["freq"]
        if "columns" in extra:
            value.columns = labels.restored_columns(extra["columns"], value.columns.name)
        if not series:
            return value
        series_value = value[self._COLUMN]
        series_value.name = labels.from_json(extra["name"])
        return series_value

    def _write(self, table: Any, path: Path) -> None:
        _parquet_write(table, path)

    def _read(self, path: Path) -> Any:
        return _parquet_read(path)


class PandasArrowMaterializer(PandasMaterializer):
    """DataFrame and Series handed from one step to the next: Arrow IPC (Feather v2), uncompressed.

    The same table (pandas metadata, the zplan key) as ``pandas.parquet``, written about 20x
    faster and read back in one copy: Parquet's encoding and compression cost more CPU than the
    step often does (0.7 s against 0.03 s for 100 MB of floats), to save little on numbers. Used
    for outputs another step reads (``materializer_for(value, handed_on=True)``); what nothing
    reads, the pipeline's results, stays Parquet for the people and tools that open it.
    """

    name = "pandas.arrow"
    version = "2"  # 2: as pandas.parquet's
    _FRAME, _SERIES = "frame.arrow", "series.arrow"

    def _write(self, table: Any, path: Path) -> None:
        _ipc_write(table, path)

    def _read(self, path: Path) -> Any:
        return _ipc_read(path)


def _writable_categories(frame: Any) -> Any:
    """``frame`` with each Categorical column's codes copied: to_pandas leaves them pointing into the
    Arrow table, read-only, so ``frame.loc[0, "c"] = "y"`` would fail where it works on the frame the
    step that made it had."""
    import pandas as pd

    for i, dtype in enumerate(frame.dtypes):
        if isinstance(dtype, pd.CategoricalDtype):
            frame.isetitem(i, frame.iloc[:, i].copy())
    return frame


def _ipc_write(table: Any, path: Path) -> None:
    import pyarrow.feather as feather

    # No timestamps or random ids go into the file either: equal tables give equal bytes.
    feather.write_feather(table, path, compression="uncompressed")


def _ipc_read(path: Path) -> Any:
    import pyarrow.feather as feather

    # Mapped, not read into new memory: a 33 MB frame loads in ~11 ms instead of 55-145 ms, most of
    # which was the kernel filling fresh pages the conversion to pandas then copies out of again.
    # A step sees the same frame either way: to_pandas copies numbers, dates and booleans into
    # pandas' own (writable) blocks; what it does not copy (strings, a Categorical's codes) is
    # read-only in both forms (``value`` copies the codes), and a stored file is never changed in
    # place (written once, read-only, under its digest), so the mapped bytes stay the checked ones.
    return feather.read_table(path, memory_map=True)


class NumpyMaterializer(Materializer):
    """Arrays (and numpy scalars) as .npy, never pickled: object arrays are refused."""

    name = "numpy.npy"
    version = "1"
    libraries = ("numpy",)

    def can_save(self, value: Any) -> bool:
        if not from_package(value, "numpy"):
            return False
        import numpy as np

        # A subclass (np.matrix, a masked array) would come back a plain array: its mask, or what
        # its operators mean (matrix * matrix is a matrix product), lost. np.memmap is only storage.
        plain = type(value) in (np.ndarray, np.memmap) or isinstance(value, np.generic)
        return plain and not np.asarray(value).dtype.hasobject

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
    version = "2"  # 2: read back with the Arrow schema pyarrow keeps in the file (seconds units, date64)
    libraries = ("pyarrow",)
    _FILE = "table.parquet"

    def can_save(self, value: Any) -> bool:
        if not from_package(value, "pyarrow"):
            return False
        import pyarrow as pa

        return isinstance(value, pa.Table)

    def save(self, value: Any, folder: Path) -> dict:
        self._write(value, folder / self._FILE)
        return {"type": "pyarrow.Table", "rows": value.num_rows, "columns": value.column_names[:50]}

    def load(self, folder: Path) -> Any:
        return self._read(folder / self._FILE)

    def _write(self, table: Any, path: Path) -> None:
        _parquet_write(table, path)

    def _read(self, path: Path) -> Any:
        return _parquet_read(path)


class ArrowIpcMaterializer(ArrowMaterializer):
    """An Arrow table handed from one step to the next: Arrow IPC, uncompressed (see
    ``PandasArrowMaterializer``)."""

    name = "arrow.ipc"
    version = "1"
    _FILE = "table.arrow"

    def _write(self, table: Any, path: Path) -> None:
        _ipc_write(table, path)

    def _read(self, path: Path) -> Any:
        return _ipc_read(path)


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
    libraries = ("sklearn",)

    def can_save(self, value: Any) -> bool:
        if not from_package(value, "sklearn"):
            return False
        from sklearn.base import BaseEstimator

        return isinstance(value, BaseEstimator)

    def save(self, value: Any, folder: Path) -> dict:
        import sklearn

        with open(folder / "model.pkl", "wb") as f:
            pickle.dump(value, f, protocol=5)
        return {"type": type_name(value), "sklearn": sklearn.__version__}

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

# The faster form of a built-in for an output another step reads (never chosen otherwise). An
# artifact keeps the name of the materializer that wrote it: either form loads, whichever is chosen now.
HANDED_ON: dict[str, Materializer] = {
    "pandas.parquet": PandasArrowMaterializer(),
    "arrow.parquet": ArrowIpcMaterializer(),
}
